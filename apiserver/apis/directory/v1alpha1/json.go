package v1alpha1

import (
	"encoding/json"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// A page of users is encoded once per request, and encoding/json's
// reflection over each user's metadata, pointers and times was most of
// what a page cost the directory beyond any other request. The objects the
// directory builds use a small part of ObjectMeta; for them MarshalJSON
// writes the bytes encoding/json would write (the same keys in the same
// order, the same escapes), directly. Anything else, such as an object with
// owner references or managed fields, goes through encoding/json as
// before. TestUserJSONMatchesReflection holds the two to the same bytes.
//
// encoding/json checks and compacts whatever a MarshalJSON returns, which
// costs more than writing it; the directory's server writes what
// AppendJSON returns as it is.

// MarshalJSON writes every field of the full view, groups as [] and
// lastLogin as null when they are empty, so that clients comparing whole
// objects find every key; the basic view leaves the full view's fields out.
// The caller's own record lists its organizations, [] when there are none.
func (u User) MarshalJSON() ([]byte, error) { return u.AppendJSON(nil) }

// AppendJSON appends what MarshalJSON returns to b: compact JSON, HTML
// characters escaped, as encoding/json's Encoder writes it.
func (u *User) AppendJSON(b []byte) ([]byte, error) {
	if !plainMeta(&u.ObjectMeta) {
		j, err := reflectUser(u)
		return append(b, j...), err
	}
	return appendUser(b, u), nil
}

// reflectUser is MarshalJSON through encoding/json.
func reflectUser(u *User) ([]byte, error) {
	type plain User
	if u.IsActive == nil {
		return json.Marshal(plain(*u))
	}
	groups := u.Groups
	if groups == nil {
		groups = []string{}
	}
	var orgs *[]UserOrganization
	if u.Organizations != nil {
		orgs = &u.Organizations
	}
	return json.Marshal(struct {
		plain
		Groups        []string            `json:"groups"`
		LastLogin     *metav1.Time        `json:"lastLogin"`
		Organizations *[]UserOrganization `json:"organizations,omitempty"`
	}{plain(*u), groups, u.LastLogin, orgs})
}

// MarshalJSON writes the page as encoding/json would, each user as
// User.MarshalJSON does.
func (l UserList) MarshalJSON() ([]byte, error) { return l.AppendJSON(nil) }

// AppendJSON appends what MarshalJSON returns to b.
func (l *UserList) AppendJSON(b []byte) ([]byte, error) {
	return appendPage(b, &l.TypeMeta, &l.ListMeta, l.Count, l.Next, l.Previous, l.Items)
}

// MarshalJSON writes the membership as encoding/json would.
func (m Membership) MarshalJSON() ([]byte, error) { return m.AppendJSON(nil) }

// AppendJSON appends what MarshalJSON returns to b.
func (m *Membership) AppendJSON(b []byte) ([]byte, error) {
	if !plainMeta(&m.ObjectMeta) {
		j, err := reflectMembership(m)
		return append(b, j...), err
	}
	o := startObject(b, &m.TypeMeta, &m.ObjectMeta)
	o.str("organization", m.Organization)
	o.int("organizationId", m.OrganizationID)
	o.str("user", m.User)
	o.str("username", m.Username)
	o.str("role", m.Role)
	o.str("state", m.State)
	o.str("invitedBy", m.InvitedBy)
	o.timePtr("joinedDate", m.JoinedDate, false)
	if s := m.Status; s != nil {
		o.status(s.ObservedGeneration, s.Conditions)
	}
	o.close()
	return o.b, nil
}

// reflectMembership is MarshalJSON through encoding/json.
func reflectMembership(m *Membership) ([]byte, error) {
	type plain Membership
	return json.Marshal((*plain)(m))
}

// MarshalJSON writes the page as encoding/json would.
func (l MembershipList) MarshalJSON() ([]byte, error) { return l.AppendJSON(nil) }

// AppendJSON appends what MarshalJSON returns to b.
func (l *MembershipList) AppendJSON(b []byte) ([]byte, error) {
	return appendPage(b, &l.TypeMeta, &l.ListMeta, l.Count, l.Next, l.Previous, l.Items)
}

// appendPage appends a page of items, each written by its AppendJSON.
func appendPage[T any, P interface {
	*T
	AppendJSON([]byte) ([]byte, error)
}](b []byte, t *metav1.TypeMeta, m *metav1.ListMeta, count int64, next, previous *string, items []T) ([]byte, error) {
	o := jsonObject{b: slices.Grow(b, 512+400*len(items))}
	o.open()
	o.typeMeta(t)
	o.key("metadata")
	if err := o.listMeta(m); err != nil {
		return nil, err
	}
	o.int("count", count)
	o.strPtr("next", next, false)
	o.strPtr("previous", previous, false)
	o.key("items")
	var err error
	o.array(items == nil, len(items), func(i int) {
		if err == nil {
			o.b, err = P(&items[i]).AppendJSON(o.b)
		}
	})
	if err != nil {
		return nil, err
	}
	o.close()
	return o.b, nil
}

// appendUser appends the JSON of u, whose metadata is plainMeta, to b.
func appendUser(b []byte, u *User) []byte {
	full := u.IsActive != nil
	o := startObject(b, &u.TypeMeta, &u.ObjectMeta)
	o.int("id", u.ID)
	o.str("username", u.Username)
	o.str("firstName", u.FirstName)
	o.str("lastName", u.LastName)
	o.strPtr("email", u.Email, true)
	o.boolPtr("isActive", u.IsActive)
	o.boolPtr("isStaff", u.IsStaff)
	o.boolPtr("isSuperuser", u.IsSuperuser)
	if !full {
		o.strings("groups", u.Groups, true)
		o.timePtr("lastLogin", u.LastLogin, true)
	}
	o.timePtr("dateJoined", u.DateJoined, true)
	if !full {
		o.organizations(u.Organizations, len(u.Organizations) == 0)
	}
	if s := u.Status; s != nil {
		o.status(s.ObservedGeneration, s.Conditions)
	}
	if full {
		groups := u.Groups
		if groups == nil {
			groups = []string{}
		}
		o.strings("groups", groups, false)
		o.timePtr("lastLogin", u.LastLogin, false)
		o.organizations(u.Organizations, u.Organizations == nil)
	}
	o.close()
	return o.b
}

// plainMeta reports whether m sets only the fields objectMeta writes.
func plainMeta(m *metav1.ObjectMeta) bool {
	return m.GenerateName == "" && m.Namespace == "" && m.SelfLink == "" && m.DeletionGracePeriodSeconds == nil &&
		m.OwnerReferences == nil && m.Finalizers == nil && m.ManagedFields == nil
}

// jsonObject appends one JSON object's members as encoding/json writes
// them: HTML characters escaped, map keys sorted. It is no API type.
// +k8s:openapi-gen=false
type jsonObject struct {
	b []byte
	// members counts the members written at each open level.
	members []int
}

// startObject opens an object of one of the directory's kinds after b and
// writes its type and metadata, which are plainMeta.
func startObject(b []byte, t *metav1.TypeMeta, m *metav1.ObjectMeta) jsonObject {
	o := jsonObject{b: b}
	o.open()
	o.typeMeta(t)
	o.key("metadata")
	o.objectMeta(m)
	return o
}

func (o *jsonObject) open() {
	o.b = append(o.b, '{')
	o.members = append(o.members, 0)
}

func (o *jsonObject) close() {
	o.b = append(o.b, '}')
	o.members = o.members[:len(o.members)-1]
}

func (o *jsonObject) key(k string) {
	if n := &o.members[len(o.members)-1]; *n > 0 {
		o.b = append(o.b, ',')
		*n++
	} else {
		*n = 1
	}
	o.b = appendJSONString(o.b, k)
	o.b = append(o.b, ':')
}

func (o *jsonObject) str(k, v string) {
	o.key(k)
	o.b = appendJSONString(o.b, v)
}

func (o *jsonObject) strOmit(k, v string) {
	if v != "" {
		o.str(k, v)
	}
}

func (o *jsonObject) strPtr(k string, v *string, omit bool) {
	switch {
	case v != nil:
		o.str(k, *v)
	case !omit:
		o.key(k)
		o.null()
	}
}

func (o *jsonObject) null() { o.b = append(o.b, "null"...) }

// array writes n items, each by item, or null.
func (o *jsonObject) array(null bool, n int, item func(i int)) {
	if null {
		o.null()
		return
	}
	o.b = append(o.b, '[')
	for i := range n {
		if i > 0 {
			o.b = append(o.b, ',')
		}
		item(i)
	}
	o.b = append(o.b, ']')
}

func (o *jsonObject) int(k string, v int64) {
	o.key(k)
	o.b = strconv.AppendInt(o.b, v, 10)
}

func (o *jsonObject) intOmit(k string, v int64) {
	if v != 0 {
		o.int(k, v)
	}
}

func (o *jsonObject) boolPtr(k string, v *bool) {
	if v != nil {
		o.key(k)
		o.b = strconv.AppendBool(o.b, *v)
	}
}

// time writes t as metav1.Time.MarshalJSON does.
func (o *jsonObject) time(k string, t metav1.Time) {
	o.key(k)
	if t.IsZero() {
		o.null()
		return
	}
	o.b = append(o.b, '"')
	o.b = t.UTC().AppendFormat(o.b, time.RFC3339)
	o.b = append(o.b, '"')
}

func (o *jsonObject) timePtr(k string, t *metav1.Time, omit bool) {
	switch {
	case t != nil:
		o.time(k, *t)
	case !omit:
		o.key(k)
		o.null()
	}
}

func (o *jsonObject) strings(k string, list []string, omit bool) {
	if omit && len(list) == 0 {
		return
	}
	o.key(k)
	o.array(list == nil, len(list), func(i int) { o.b = appendJSONString(o.b, list[i]) })
}

func (o *jsonObject) stringMap(k string, m map[string]string) {
	if len(m) == 0 {
		return
	}
	o.key(k)
	o.open()
	keys := make([]string, 0, len(m))
	for key := range m {
		keys = append(keys, key)
	}
	slices.Sort(keys)
	for _, key := range keys {
		o.str(key, m[key])
	}
	o.close()
}

func (o *jsonObject) typeMeta(t *metav1.TypeMeta) {
	o.strOmit("kind", t.Kind)
	o.strOmit("apiVersion", t.APIVersion)
}

// objectMeta writes the fields plainMeta allows.
func (o *jsonObject) objectMeta(m *metav1.ObjectMeta) {
	o.open()
	o.strOmit("name", m.Name)
	o.strOmit("uid", string(m.UID))
	o.strOmit("resourceVersion", m.ResourceVersion)
	o.intOmit("generation", m.Generation)
	if !m.CreationTimestamp.IsZero() {
		o.time("creationTimestamp", m.CreationTimestamp)
	}
	o.timePtr("deletionTimestamp", m.DeletionTimestamp, true)
	o.stringMap("labels", m.Labels)
	o.stringMap("annotations", m.Annotations)
	o.close()
}

// listMeta writes m, through encoding/json when it has shard information.
func (o *jsonObject) listMeta(m *metav1.ListMeta) error {
	if m.ShardInfo != nil {
		b, err := json.Marshal(m)
		o.b = append(o.b, b...)
		return err
	}
	o.open()
	o.strOmit("selfLink", m.SelfLink)
	o.strOmit("resourceVersion", m.ResourceVersion)
	o.strOmit("continue", m.Continue)
	if m.RemainingItemCount != nil {
		o.int("remainingItemCount", *m.RemainingItemCount)
	}
	o.close()
	return nil
}

// status writes a status of observedGeneration and conditions.
func (o *jsonObject) status(observedGeneration int64, conds []metav1.Condition) {
	o.key("status")
	o.open()
	o.intOmit("observedGeneration", observedGeneration)
	o.conditions(conds)
	o.close()
}

func (o *jsonObject) conditions(conds []metav1.Condition) {
	if len(conds) == 0 {
		return
	}
	o.key("conditions")
	o.array(false, len(conds), func(i int) {
		c := &conds[i]
		o.open()
		o.str("type", c.Type)
		o.str("status", string(c.Status))
		o.intOmit("observedGeneration", c.ObservedGeneration)
		o.time("lastTransitionTime", c.LastTransitionTime)
		o.str("reason", c.Reason)
		o.str("message", c.Message)
		o.close()
	})
}

// organizations writes the caller's organizations, nothing when omit.
func (o *jsonObject) organizations(orgs []UserOrganization, omit bool) {
	if omit {
		return
	}
	o.key("organizations")
	o.array(orgs == nil, len(orgs), func(i int) {
		o.open()
		o.str("slug", orgs[i].Slug)
		o.intOmit("id", orgs[i].ID)
		o.str("role", orgs[i].Role)
		o.key("active")
		o.b = strconv.AppendBool(o.b, orgs[i].Active)
		o.close()
	})
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s quoted as encoding/json quotes it: HTML
// characters, control characters, U+2028 and U+2029 escaped, invalid UTF-8
// replaced.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
