package directory

import (
	"cmp"
	"encoding/hex"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unique"
	"unsafe"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	iamv1alpha1 "github.com/roster-dev/roster/api/v1alpha1"
)

// The directory keeps each User as a userRecord rather than as the typed
// object: a typed User with its annotation map, condition and strings
// takes about 1.3 KiB, its record about a quarter of that. A record holds
// the fields every User has in their compact form (the UID as 16 bytes, the
// resourceVersion and times as numbers, the strings many Users share, such
// as condition texts, annotation keys and finalizers, once for all); what
// does not fit that form, a field the record does not know among it, stays
// in a residual User, nil for nearly every User. Reading a User builds the
// typed object again, field for field equal to the one kept
// (TestUserRecordRoundTrip). Memberships are kept the same way.

// metaRecord is the compact form of an object's metadata but its name.
type metaRecord struct {
	uid        [16]byte
	rv         uint64
	generation int64
	created    int64
	// pairs points to npairs pairs: the labels, the first nlabels, then
	// the annotations. A pointer and a count take 14 bytes fewer than a
	// slice, which every record would pay.
	pairs *pairRecord
	// finalizers are the finalizers joined by NUL.
	finalizers      unique.Handle[string]
	npairs, nlabels uint16
	has             metaFields
	// nconds counts the conditions of the record that holds the metadata,
	// kept here where it takes no room of its own.
	nconds uint8
	// own are the flags of the record that holds the metadata, kept here
	// where they take no room of their own.
	own uint16
}

type metaFields uint8

const (
	hasUID metaFields = 1 << iota
	hasRV
	hasCreated
	hasFinalizers
	hasLabels
	hasAnnotations
)

// pairRecord is one label or annotation; keys repeat across objects.
type pairRecord struct {
	key   unique.Handle[string]
	value string
}

// take moves what fits the record out of m.
func (r *metaRecord) take(m *metav1.ObjectMeta) {
	if uid, ok := parseUID(string(m.UID)); ok {
		r.uid, m.UID = uid, ""
		r.has |= hasUID
	}
	if n, err := strconv.ParseUint(m.ResourceVersion, 10, 64); err == nil && strconv.FormatUint(n, 10) == m.ResourceVersion {
		r.rv, m.ResourceVersion = n, ""
		r.has |= hasRV
	}
	r.generation, m.Generation = m.Generation, 0
	if s, ok := seconds(m.CreationTimestamp.Time); ok {
		r.created, m.CreationTimestamp = s, metav1.Time{}
		r.has |= hasCreated
	}
	var pairs []pairRecord
	if n := len(m.Labels); n > 0 && n <= math.MaxUint16 {
		pairs, r.nlabels, m.Labels = pairsOf(nil, m.Labels), uint16(n), nil
		r.has |= hasLabels
	}
	if n := len(m.Annotations); n > 0 && len(pairs)+n <= math.MaxUint16 {
		pairs, m.Annotations = pairsOf(pairs, m.Annotations), nil
		r.has |= hasAnnotations
	}
	if len(pairs) > 0 {
		r.pairs, r.npairs = &pairs[0], uint16(len(pairs))
	}
	if joinable(m.Finalizers) {
		r.finalizers, m.Finalizers = join(m.Finalizers), nil
		r.has |= hasFinalizers
	}
}

// put writes the record's fields into m.
func (r *metaRecord) put(m *metav1.ObjectMeta) {
	if r.has&hasUID != 0 {
		m.UID = formatUID(r.uid)
	}
	if r.has&hasRV != 0 {
		m.ResourceVersion = strconv.FormatUint(r.rv, 10)
	}
	if r.generation != 0 {
		m.Generation = r.generation
	}
	if r.has&hasCreated != 0 {
		m.CreationTimestamp = timeOf(r.created)
	}
	if r.has&hasLabels != 0 {
		m.Labels = mapOf(r.labels())
	}
	if r.has&hasAnnotations != 0 {
		m.Annotations = mapOf(r.allPairs()[r.nlabels:])
	}
	if r.has&hasFinalizers != 0 {
		m.Finalizers = split(r.finalizers.Value())
	}
}

func (r *metaRecord) allPairs() []pairRecord {
	if r.pairs == nil {
		return nil
	}
	return unsafe.Slice(r.pairs, r.npairs)
}

func (r *metaRecord) labels() []pairRecord { return r.allPairs()[:r.nlabels] }

func (r *metaRecord) resourceVersion() string {
	if r.has&hasRV == 0 {
		return ""
	}
	return strconv.FormatUint(r.rv, 10)
}

// pairsOf appends the pairs of m, in key order, to out.
func pairsOf(out []pairRecord, m map[string]string) []pairRecord {
	out = slices.Grow(out, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, pairRecord{key: unique.Make(k), value: m[k]})
	}
	return out
}

func mapOf(pairs []pairRecord) map[string]string {
	m := make(map[string]string, len(pairs))
	for _, p := range pairs {
		m[p.key.Value()] = p.value
	}
	return m
}

// parseUID reads a UID in its canonical form, a lowercase UUID.
func parseUID(s string) ([16]byte, bool) {
	var uid [16]byte
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return uid, false
	}
	digits := s[:8] + s[9:13] + s[14:18] + s[19:23] + s[24:]
	if _, err := hex.Decode(uid[:], []byte(digits)); err != nil || hex.EncodeToString(uid[:]) != digits || uid == [16]byte{} {
		return [16]byte{}, false
	}
	return uid, true
}

func formatUID(uid [16]byte) types.UID {
	h := hex.EncodeToString(uid[:])
	return types.UID(h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:])
}

// seconds is t as Unix seconds when timeOf gives t back exactly: a time
// read from JSON, which has whole seconds in the local zone.
func seconds(t time.Time) (int64, bool) {
	if t.IsZero() || t.Nanosecond() != 0 || t.Location() != time.Local {
		return 0, false
	}
	s := t.Unix()
	return s, timeOf(s).Time == t
}

func timeOf(s int64) metav1.Time { return metav1.Time{Time: time.Unix(s, 0).Local()} }

// conditionText is what conditions of many objects share.
type conditionText struct {
	typ, status, reason, message string
}

// conditionRecord is one condition: its shared text, its generation and
// when it last changed.
type conditionRecord struct {
	text               unique.Handle[conditionText]
	observedGeneration int64
	changed            int64
}

// conditionsOf returns the records of conds, or false when one of them
// does not fit.
func conditionsOf(conds []metav1.Condition) ([]conditionRecord, bool) {
	out := make([]conditionRecord, len(conds))
	for i, c := range conds {
		s, ok := seconds(c.LastTransitionTime.Time)
		if !ok {
			return nil, false
		}
		out[i] = conditionRecord{
			text:               unique.Make(conditionText{typ: c.Type, status: string(c.Status), reason: c.Reason, message: c.Message}),
			observedGeneration: c.ObservedGeneration,
			changed:            s,
		}
	}
	return out, true
}

func conditions(recs []conditionRecord) []metav1.Condition {
	if recs == nil {
		return nil
	}
	out := make([]metav1.Condition, len(recs))
	for i, r := range recs {
		t := r.text.Value()
		out[i] = metav1.Condition{
			Type: t.typ, Status: metav1.ConditionStatus(t.status), Reason: t.reason, Message: t.message,
			ObservedGeneration: r.observedGeneration, LastTransitionTime: timeOf(r.changed),
		}
	}
	return out
}

// userRecord is the compact form of a User but its name, which is the
// store's key.
type userRecord struct {
	meta                          metaRecord
	username, firstName, lastName string
	// email is spec.email, then, when the User has identities, NUL and
	// spec.identities joined by NUL: one string rather than two.
	email string
	// groups are spec.groups joined by NUL; organizations are
	// status.organizations, each organization and its role, joined by NUL.
	groups, organizations unique.Handle[string]
	id                    int64
	dateJoined            int64
	lastLogin             int64
	// conditions is the first condition; meta.nconds counts them.
	conditions         *conditionRecord
	observedGeneration int64
	// rest holds what did not fit the fields above, nil when nothing.
	rest *iamv1alpha1.User
}

// The flags of a userRecord, in its meta.own.
const (
	hasActive uint16 = 1 << iota
	isActive
	isStaff
	isSuperuser
	hasGroups
	hasIdentities
	hasStatusUsername
	hasOrganizations
	hasDateJoined
	hasLastLogin
)

func (r *userRecord) GetResourceVersion() string {
	if r.meta.has&hasRV == 0 && r.rest != nil {
		return r.rest.ResourceVersion
	}
	return r.meta.resourceVersion()
}

// joinable reports whether strings joined by NUL split back into them.
func joinable(list []string) bool {
	return len(list) > 0 && !slices.ContainsFunc(list, func(s string) bool { return strings.Contains(s, "\x00") })
}

// join is a joinable list as one string shared by every record that holds
// the same list; split gives the list back.
func join(list []string) unique.Handle[string] { return unique.Make(strings.Join(list, "\x00")) }

func split(s string) []string { return strings.Split(s, "\x00") }

// takeTime moves *t out when it fits a record: its Unix seconds.
func takeTime(t **metav1.Time) (int64, bool) {
	if *t == nil {
		return 0, false
	}
	s, ok := seconds((*t).Time)
	if ok {
		*t = nil
	}
	return s, ok
}

// takeConditions moves *conds out when they fit a record, and returns
// the first of their records; r counts them. A pointer takes 16 bytes
// fewer than a slice, which every record would pay.
func (r *metaRecord) takeConditions(conds *[]metav1.Condition) *conditionRecord {
	if n := len(*conds); n == 0 || n > math.MaxUint8 {
		return nil
	}
	recs, ok := conditionsOf(*conds)
	if !ok {
		return nil
	}
	*conds, r.nconds = nil, uint8(len(recs))
	return &recs[0]
}

// conditions are the conditions whose first record is first, nil for none.
func (r *metaRecord) conditions(first *conditionRecord) []metav1.Condition {
	if first == nil {
		return nil
	}
	return conditions(unsafe.Slice(first, r.nconds))
}

// keepUser returns the record of u, which may share u's maps and slices:
// change neither.
func keepUser(u *iamv1alpha1.User) *userRecord {
	r := &userRecord{}
	rest := *u
	rest.Name = ""
	r.meta.take(&rest.ObjectMeta)
	spec, status := &rest.Spec, &rest.Status
	r.username, spec.Username = spec.Username, ""
	if r.username == u.Name {
		// Most Users are named after their username: one string for both.
		r.username = u.Name
	}
	r.firstName, spec.FirstName = spec.FirstName, ""
	r.lastName, spec.LastName = spec.LastName, ""
	r.email = spec.Email
	has := uint16(0)
	if spec.IsActive != nil {
		has |= hasActive
		if *spec.IsActive {
			has |= isActive
		}
		spec.IsActive = nil
	}
	if spec.IsStaff {
		has, spec.IsStaff = has|isStaff, false
	}
	if spec.IsSuperuser {
		has, spec.IsSuperuser = has|isSuperuser, false
	}
	if joinable(spec.Groups) {
		r.groups, spec.Groups = join(spec.Groups), nil
		has |= hasGroups
	}
	if joinable(spec.Identities) && !strings.Contains(spec.Email, "\x00") {
		r.email, spec.Identities = strings.Join(append([]string{spec.Email}, spec.Identities...), "\x00"), nil
		has |= hasIdentities
	}
	spec.Email = ""
	r.id, status.ID = status.ID, 0
	if status.Username != "" && status.Username == u.EffectiveUsername() {
		// The controllers copy the username they grant into the status.
		has, status.Username = has|hasStatusUsername, ""
	}
	if s, ok := takeTime(&status.DateJoined); ok {
		r.dateJoined, has = s, has|hasDateJoined
	}
	if s, ok := takeTime(&status.LastLogin); ok {
		r.lastLogin, has = s, has|hasLastLogin
	}
	if orgs := organizationList(status.Organizations); joinable(orgs) {
		r.organizations, status.Organizations = join(orgs), nil
		has |= hasOrganizations
	}
	r.conditions = r.meta.takeConditions(&status.Conditions)
	r.observedGeneration, status.ObservedGeneration = status.ObservedGeneration, 0
	r.meta.own = has
	if !reflect.ValueOf(rest).IsZero() {
		r.rest = &rest
	}
	return r
}

func readUser(name string, r *userRecord) *iamv1alpha1.User { return r.user(name) }

// organizationList is each organization of orgs followed by its role.
func organizationList(orgs []iamv1alpha1.UserOrganization) []string {
	out := make([]string, 0, 2*len(orgs))
	for _, o := range orgs {
		out = append(out, o.Organization, string(o.Role))
	}
	return out
}

// user builds the User named name the record was made of: a new object,
// the caller's to change.
func (r *userRecord) user(name string) *iamv1alpha1.User {
	u := &iamv1alpha1.User{}
	if r.rest != nil {
		r.rest.DeepCopyInto(u)
	}
	u.Name = name
	r.meta.put(&u.ObjectMeta)
	spec, status, has := &u.Spec, &u.Status, r.meta.own
	spec.Username, spec.FirstName, spec.LastName, spec.Email = r.username, r.firstName, r.lastName, r.email
	if has&hasActive != 0 {
		spec.IsActive = new(has&isActive != 0)
	}
	spec.IsStaff = spec.IsStaff || has&isStaff != 0
	spec.IsSuperuser = spec.IsSuperuser || has&isSuperuser != 0
	if has&hasGroups != 0 {
		spec.Groups = split(r.groups.Value())
	}
	if has&hasIdentities != 0 {
		email, identities, _ := strings.Cut(r.email, "\x00")
		spec.Email, spec.Identities = email, split(identities)
	}
	if r.id != 0 {
		status.ID = r.id
	}
	if has&hasStatusUsername != 0 {
		status.Username = cmp.Or(r.username, name)
	}
	if has&hasDateJoined != 0 {
		status.DateJoined = new(timeOf(r.dateJoined))
	}
	if has&hasLastLogin != 0 {
		status.LastLogin = new(timeOf(r.lastLogin))
	}
	if has&hasOrganizations != 0 {
		list := split(r.organizations.Value())
		status.Organizations = make([]iamv1alpha1.UserOrganization, len(list)/2)
		for i := range status.Organizations {
			status.Organizations[i] = iamv1alpha1.UserOrganization{Organization: list[2*i], Role: iamv1alpha1.MembershipRole(list[2*i+1])}
		}
	}
	if r.conditions != nil {
		status.Conditions = r.meta.conditions(r.conditions)
	}
	if r.observedGeneration != 0 {
		status.ObservedGeneration = r.observedGeneration
	}
	return u
}

// MembershipRecord is how the directory keeps a Membership: its name and
// spec as they are, for the scans of every membership that filter on them,
// the rest in compact form. Object builds the Membership again.
type MembershipRecord struct {
	Name string
	// Spec is the Membership's spec, its organization, role and state
	// strings shared with every other Membership's.
	Spec   iamv1alpha1.MembershipSpec
	meta   metaRecord
	joined int64
	// conditions is the first condition; meta.nconds counts them.
	conditions         *conditionRecord
	observedGeneration int64
	// rest holds what did not fit the fields above, nil when nothing.
	rest *iamv1alpha1.Membership
}

func (r *MembershipRecord) GetResourceVersion() string {
	if r.meta.has&hasRV == 0 && r.rest != nil {
		return r.rest.ResourceVersion
	}
	return r.meta.resourceVersion()
}

// hasJoinedDate is the flag of a MembershipRecord with a joinedDate.
const hasJoinedDate uint16 = 1

// Labels are the Membership's labels.
func (r *MembershipRecord) Labels() map[string]string {
	if r.meta.has&hasLabels != 0 {
		return mapOf(r.meta.labels())
	}
	if r.rest != nil {
		return r.rest.Labels
	}
	return nil
}

// Active reports whether the membership is active rather than pending.
func (r *MembershipRecord) Active() bool {
	return r.Spec.Active()
}

// keepMembership returns the record of m, which may share m's maps and
// slices: change neither.
func keepMembership(m *iamv1alpha1.Membership) *MembershipRecord {
	r := &MembershipRecord{}
	rest := *m
	r.Name, rest.Name = rest.Name, ""
	r.Spec, rest.Spec = rest.Spec, iamv1alpha1.MembershipSpec{}
	r.Spec.Organization = shared(r.Spec.Organization)
	r.Spec.Role = iamv1alpha1.MembershipRole(shared(string(r.Spec.Role)))
	r.Spec.State = iamv1alpha1.MembershipState(shared(string(r.Spec.State)))
	r.meta.take(&rest.ObjectMeta)
	status := &rest.Status
	if s, ok := takeTime(&status.JoinedDate); ok {
		r.joined, r.meta.own = s, hasJoinedDate
	}
	r.conditions = r.meta.takeConditions(&status.Conditions)
	r.observedGeneration, status.ObservedGeneration = status.ObservedGeneration, 0
	if !reflect.ValueOf(rest).IsZero() {
		r.rest = &rest
	}
	return r
}

func readMembership(_ string, r *MembershipRecord) *iamv1alpha1.Membership { return r.Object() }

// Object builds the Membership the record was made of: a new object, the
// caller's to change.
func (r *MembershipRecord) Object() *iamv1alpha1.Membership {
	m := &iamv1alpha1.Membership{}
	if r.rest != nil {
		r.rest.DeepCopyInto(m)
	}
	m.Name, m.Spec = r.Name, r.Spec
	r.meta.put(&m.ObjectMeta)
	if r.meta.own&hasJoinedDate != 0 {
		m.Status.JoinedDate = new(timeOf(r.joined))
	}
	if r.conditions != nil {
		m.Status.Conditions = r.meta.conditions(r.conditions)
	}
	if r.observedGeneration != 0 {
		m.Status.ObservedGeneration = r.observedGeneration
	}
	return m
}

// sharedStrings holds one copy of each organization name, role and state
// the directory has seen: few, and the same in many Memberships.
var sharedStrings sync.Map

func shared(s string) string {
	if s == "" {
		return s
	}
	if v, ok := sharedStrings.Load(s); ok {
		return v.(string)
	}
	c := strings.Clone(s)
	v, _ := sharedStrings.LoadOrStore(c, c)
	return v.(string)
}
