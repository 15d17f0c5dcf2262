package query

import (
	"cmp"
	"slices"
	"sync"
	"sync/atomic"
	"unique"
)

// userRec is a User as the index keeps it: immutable once published.
type userRec struct {
	User
	slot uint32
	// The folded username, first name and last name that search compares
	// are computed once per write instead of once per request. Those that
	// fold to another string are kept in folds, one after the other, the
	// first two ending at cuts; own marks those that fold to themselves,
	// as most usernames do, and are kept once.
	own   uint8
	cuts  [2]uint32
	folds string
}

func newRec(u User, slot uint32) *userRec {
	r := &userRec{User: u, slot: slot}
	var folds []byte
	n := 0
	for i, s := range r.searched() {
		f := fold(s)
		if f == s {
			r.own |= 1 << i
			continue
		}
		folds = append(folds, f...)
		if n < len(r.cuts) {
			r.cuts[n] = uint32(len(folds))
		}
		n++
	}
	r.folds = string(folds)
	return r
}

// grams are the distinct trigrams of the folded searched fields.
func (r *userRec) grams() []gram {
	f := r.fold()
	return gramsOf(f[:]...)
}

// searched are the fields search compares.
func (r *userRec) searched() [3]string { return [3]string{r.Username, r.FirstName, r.LastName} }

// fold returns the folded searched fields.
func (r *userRec) fold() [3]string {
	out := r.searched()
	start, n := uint32(0), 0
	for i := range out {
		if r.own&(1<<i) != 0 {
			continue
		}
		end := uint32(len(r.folds))
		if n < len(r.cuts) {
			end = r.cuts[n]
		}
		out[i] = r.folds[start:end]
		start, n = end, n+1
	}
	return out
}

// field is a user field that lists sort and filter on.
type field int

const (
	fieldUsername field = iota
	fieldFirstName
	fieldLastName
	fieldID
	fieldIsActive
	numFields
)

var fieldNames = [numFields]string{"username", "first_name", "last_name", "id", "is_active"}

func fieldByName(name string) (field, bool) {
	for f, n := range fieldNames {
		if n == name {
			return field(f), true
		}
	}
	return 0, false
}

func (f field) str(r *userRec) string {
	switch f {
	case fieldUsername:
		return r.Username
	case fieldFirstName:
		return r.FirstName
	default:
		return r.LastName
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// compare orders two records by one field alone.
func (f field) compare(a, b *userRec) int {
	switch f {
	case fieldID:
		return cmp.Compare(a.ID, b.ID)
	case fieldIsActive:
		return boolInt(a.IsActive) - boolInt(b.IsActive)
	default:
		return cmp.Compare(f.str(a), f.str(b))
	}
}

// compareTotal is the order an index keeps for field f: the field, then id,
// then name, all ascending. Names are unique, so the order is total.
func (f field) compareTotal(a, b *userRec) int {
	if c := f.compare(a, b); c != 0 {
		return c
	}
	if c := cmp.Compare(a.ID, b.ID); c != 0 {
		return c
	}
	return cmp.Compare(a.Name, b.Name)
}

// memberRef is one membership of a user, kept per user for visibility.
// Its role is one of few strings, kept once for all.
type memberRef struct {
	name   string
	org    string
	role   unique.Handle[Role]
	active bool
}

// orgRec holds an organization and its member sets. It also exists, with
// present false, while memberships name an organization that is not (yet)
// known, so the sets are ready when it arrives.
type orgRec struct {
	Organization
	present bool
	all     *pset // members in any state
	active  *pset // active members
	// roles holds the members by role (in any state), in the order of Roles:
	// `role=` is answered from them.
	roles [4]*pset
}

// state is one generation of every index. Copying it is a snapshot.
type state struct {
	users  *recVec
	names  hamt[string, uint32]
	orders [numFields]*orderList
	grams  hamt[gram, *pset]
	orgs   hamt[string, *orgRec]
	orgIDs hamt[int64, string]
	byUser hamt[string, []memberRef]
	loners *pset // users with no memberships: the personal workspace
	// active and inactive hold the users by isActive: is_active and JSON
	// Logic conditions on it are answered from them.
	active, inactive *pset
	count            int
	slots            int // one past the highest slot ever used
}

// Index holds users, organizations and memberships, fed from the
// directory's changes. One goroutine writes; any number read through Snapshot.
type Index struct {
	mu   sync.Mutex
	gen  uint64
	st   state
	free []uint32
	snap atomic.Pointer[Snapshot]
}

// NewIndex returns an empty index.
func NewIndex() *Index { return &Index{gen: nextGen()} }

// gens hands out generations to every Index of the process: an Index forked
// from a snapshot shares the snapshot's nodes, and must never write in place
// a node another Index may write in place, so no two indexes ever use the
// same generation.
var gens atomic.Uint64

func nextGen() uint64 { return gens.Add(1) }

// Fork returns a new Index that starts as s: writes to it copy what they
// change, so s and the index it came from never see them. A resumed watch
// replays recorded changes on a fork of an older snapshot.
func (s *Snapshot) Fork() *Index {
	return &Index{gen: nextGen(), st: s.st}
}

// Snapshot returns a consistent, immutable view of the index. It costs O(1):
// later writes copy what they change instead of changing it in place.
func (ix *Index) Snapshot() *Snapshot {
	if s := ix.snap.Load(); s != nil {
		return s
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if s := ix.snap.Load(); s != nil {
		return s
	}
	s := &Snapshot{st: ix.st}
	// Everything reachable from s is now frozen: writes of the next
	// generation copy it first.
	ix.gen = nextGen()
	ix.snap.Store(s)
	return s
}

func (ix *Index) write(fn func(w *writer)) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	fn(&writer{ix: ix, gen: ix.gen, st: &ix.st})
	ix.snap.Store(nil)
}

// Users is the number of users the index holds.
func (ix *Index) Users() int {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return ix.st.count
}

// UpsertUser adds or replaces the user named u.Name.
func (ix *Index) UpsertUser(u User) { ix.write(func(w *writer) { w.upsertUser(u) }) }

// DeleteUser removes the user named name, if present.
func (ix *Index) DeleteUser(name string) { ix.write(func(w *writer) { w.deleteUser(name) }) }

// UpsertMembership adds or replaces the membership named m.Name among
// m.User's. Its user and organization need not exist yet. A membership's
// user never changes (the API server refuses such an update): the index
// finds memberships by user and name, and keeps no map of every
// membership's name, which its caller's store has already.
func (ix *Index) UpsertMembership(m Membership) {
	ix.write(func(w *writer) { w.upsertMembership(m) })
}

// DeleteMembership removes the membership named m.Name among m.User's, if
// present.
func (ix *Index) DeleteMembership(m Membership) {
	ix.write(func(w *writer) { w.deleteMembership(m.User, m.Name) })
}

// UpsertOrganization adds or replaces the organization o.Slug.
func (ix *Index) UpsertOrganization(o Organization) {
	ix.write(func(w *writer) { w.upsertOrganization(o) })
}

// DeleteOrganization removes the organization slug. Its memberships stay
// until they are deleted themselves, but no longer make anyone visible.
func (ix *Index) DeleteOrganization(slug string) {
	ix.write(func(w *writer) { w.deleteOrganization(slug) })
}

type writer struct {
	ix  *Index
	gen uint64
	st  *state
}

func (w *writer) orderRemove(f field, r *userRec) {
	st := w.st
	l := st.orders[f]
	pos := l.search(func(s uint32) bool { return f.compareTotal(st.users.get(s), r) >= 0 })
	if pos < l.len() && l.at(pos) == r.slot {
		st.orders[f] = l.remove(w.gen, pos)
	}
}

func (w *writer) orderInsert(f field, r *userRec) {
	st := w.st
	l := st.orders[f]
	pos := l.search(func(s uint32) bool { return f.compareTotal(st.users.get(s), r) >= 0 })
	st.orders[f] = l.insert(w.gen, pos, r.slot)
}

func (w *writer) gramAdd(g gram, slot uint32) {
	p, _ := w.st.grams.get(g)
	if np := p.add(w.gen, slot); np != p {
		w.st.grams = w.st.grams.set(w.gen, g, np)
	}
}

func (w *writer) gramRemove(g gram, slot uint32) {
	p, ok := w.st.grams.get(g)
	if !ok {
		return
	}
	np := p.remove(w.gen, slot)
	switch {
	case np.len() == 0:
		w.st.grams = w.st.grams.del(w.gen, g)
	case np != p:
		w.st.grams = w.st.grams.set(w.gen, g, np)
	}
}

func (w *writer) upsertUser(u User) {
	st := w.st
	slot, ok := st.names.get(u.Name)
	if !ok {
		w.addUser(u)
		return
	}
	old := st.users.get(slot)
	if old.User == u {
		return
	}
	r := newRec(u, slot)
	var moved [numFields]bool
	for f := range numFields {
		// id breaks ties in every order, so an id change moves the user
		// in all of them.
		if f.compare(old, r) != 0 || old.ID != r.ID {
			moved[f] = true
			w.orderRemove(f, old)
		}
	}
	st.users = st.users.set(w.gen, slot, r)
	for f := range numFields {
		if moved[f] {
			w.orderInsert(f, r)
		}
	}
	if old.IsActive != r.IsActive {
		w.setActive(slot, r.IsActive)
	}
	if oldFold, newFold := old.fold(), r.fold(); oldFold != newFold {
		before, after := gramsOf(oldFold[:]...), gramsOf(newFold[:]...)
		for _, g := range before {
			if _, found := slices.BinarySearch(after, g); !found {
				w.gramRemove(g, slot)
			}
		}
		for _, g := range after {
			if _, found := slices.BinarySearch(before, g); !found {
				w.gramAdd(g, slot)
			}
		}
	}
}

func (w *writer) addUser(u User) {
	st := w.st
	var slot uint32
	if n := len(w.ix.free); n > 0 {
		slot = w.ix.free[n-1]
		w.ix.free = w.ix.free[:n-1]
	} else {
		slot = uint32(st.slots)
		st.slots++
	}
	r := newRec(u, slot)
	st.users = st.users.set(w.gen, slot, r)
	st.names = st.names.set(w.gen, u.Name, slot)
	for f := range numFields {
		w.orderInsert(f, r)
	}
	for _, g := range r.grams() {
		w.gramAdd(g, slot)
	}
	w.setActive(slot, r.IsActive)
	st.count++
	w.syncLoner(u.Name)
	refs, _ := st.byUser.get(u.Name)
	for i, ref := range refs {
		if !slices.ContainsFunc(refs[:i], func(o memberRef) bool { return o.org == ref.org }) {
			w.syncMember(u.Name, ref.org)
		}
	}
}

func (w *writer) deleteUser(name string) {
	st := w.st
	slot, ok := st.names.get(name)
	if !ok {
		return
	}
	old := st.users.get(slot)
	for f := range numFields {
		w.orderRemove(f, old)
	}
	for _, g := range old.grams() {
		w.gramRemove(g, slot)
	}
	st.loners = st.loners.remove(w.gen, slot)
	st.active = st.active.remove(w.gen, slot)
	st.inactive = st.inactive.remove(w.gen, slot)
	refs, _ := st.byUser.get(name)
	for _, ref := range refs {
		w.setMember(ref.org, slot, false, false, [4]bool{})
	}
	st.users = st.users.set(w.gen, slot, nil)
	st.names = st.names.del(w.gen, name)
	st.count--
	w.ix.free = append(w.ix.free, slot)
}

// setActive files slot under isActive.
func (w *writer) setActive(slot uint32, active bool) {
	if active {
		w.st.active, w.st.inactive = w.st.active.add(w.gen, slot), w.st.inactive.remove(w.gen, slot)
	} else {
		w.st.active, w.st.inactive = w.st.active.remove(w.gen, slot), w.st.inactive.add(w.gen, slot)
	}
}

// syncMember makes the member sets of org agree with the memberships of
// user, which may hold several (a transient duplicate) or none.
func (w *writer) syncMember(user, org string) {
	slot, ok := w.st.names.get(user)
	if !ok {
		return
	}
	refs, _ := w.st.byUser.get(user)
	inAll, inActive := false, false
	var roles [4]bool
	for _, r := range refs {
		if r.org == org {
			inAll = true
			inActive = inActive || r.active
			if i := roleIndex(r.role.Value()); i >= 0 {
				roles[i] = true
			}
		}
	}
	w.setMember(org, slot, inAll, inActive, roles)
}

func (w *writer) setMember(org string, slot uint32, inAll, inActive bool, inRoles [4]bool) {
	st := w.st
	rec, ok := st.orgs.get(org)
	if !ok {
		if !inAll {
			return
		}
		rec = &orgRec{Organization: Organization{Slug: org}}
	}
	all, active := rec.all, rec.active
	if inAll {
		all = all.add(w.gen, slot)
	} else {
		all = all.remove(w.gen, slot)
	}
	if inActive {
		active = active.add(w.gen, slot)
	} else {
		active = active.remove(w.gen, slot)
	}
	roles := rec.roles
	for i, in := range inRoles {
		if in {
			roles[i] = roles[i].add(w.gen, slot)
		} else {
			roles[i] = roles[i].remove(w.gen, slot)
		}
	}
	if ok && all == rec.all && active == rec.active && roles == rec.roles {
		return
	}
	nr := *rec
	nr.all, nr.active, nr.roles = all, active, roles
	if !nr.present && nr.all.len() == 0 {
		st.orgs = st.orgs.del(w.gen, org)
		return
	}
	st.orgs = st.orgs.set(w.gen, org, &nr)
}

// syncLoner puts user in the personal workspace when none of its
// memberships is of an organization that exists: a membership of an
// organization that does not is no organization.
func (w *writer) syncLoner(user string) {
	slot, ok := w.st.names.get(user)
	if !ok {
		return
	}
	refs, _ := w.st.byUser.get(user)
	loner := true
	for _, r := range refs {
		if o, ok := w.st.orgs.get(r.org); ok && o.present {
			loner = false
			break
		}
	}
	if loner {
		w.st.loners = w.st.loners.add(w.gen, slot)
	} else {
		w.st.loners = w.st.loners.remove(w.gen, slot)
	}
}

// syncLonersOf re-sorts the members of an organization that appeared or
// went between the personal workspace and the rest.
func (w *writer) syncLonersOf(rec *orgRec) {
	if rec == nil || rec.all.len() == 0 {
		return
	}
	b := newBitset(w.st.slots)
	rec.all.orInto(b)
	b.each(func(slot uint32) bool {
		if r := w.st.users.get(slot); r != nil {
			w.syncLoner(r.Name)
		}
		return true
	})
}

func (w *writer) setRefs(user string, refs []memberRef) {
	if len(refs) == 0 {
		w.st.byUser = w.st.byUser.del(w.gen, user)
	} else {
		w.st.byUser = w.st.byUser.set(w.gen, user, refs)
	}
}

// withoutRef returns a new slice: published slices are never changed.
func withoutRef(refs []memberRef, name string) []memberRef {
	out := make([]memberRef, 0, len(refs)+1)
	for _, r := range refs {
		if r.name != name {
			out = append(out, r)
		}
	}
	return out
}

// membership returns the membership named name, as the index holds it.
// refOf returns user's memberships and the place among them of the one
// named name, -1 for none.
func (st *state) refOf(user, name string) ([]memberRef, int) {
	refs, _ := st.byUser.get(user)
	return refs, slices.IndexFunc(refs, func(r memberRef) bool { return r.name == name })
}

func (w *writer) upsertMembership(m Membership) {
	refs, i := w.st.refOf(m.User, m.Name)
	ref := memberRef{name: m.Name, org: m.Organization, role: unique.Make(m.Role), active: m.Active}
	if i >= 0 && refs[i] == ref {
		return
	}
	w.setRefs(m.User, append(withoutRef(refs, m.Name), ref))
	if i >= 0 && refs[i].org != m.Organization {
		w.syncMember(m.User, refs[i].org)
	}
	w.syncMember(m.User, m.Organization)
	w.syncLoner(m.User)
}

func (w *writer) deleteMembership(user, name string) {
	refs, i := w.st.refOf(user, name)
	if i < 0 {
		return
	}
	w.setRefs(user, withoutRef(refs, name))
	w.syncMember(user, refs[i].org)
	w.syncLoner(user)
}

func (w *writer) upsertOrganization(o Organization) {
	st := w.st
	rec, ok := st.orgs.get(o.Slug)
	nr := orgRec{}
	if ok {
		nr = *rec
		if nr.present && nr.ID != o.ID {
			w.dropOrgID(nr.ID, o.Slug)
		}
	}
	appeared := !ok || !rec.present
	nr.Organization = o
	nr.present = true
	st.orgs = st.orgs.set(w.gen, o.Slug, &nr)
	st.orgIDs = st.orgIDs.set(w.gen, o.ID, o.Slug)
	if appeared {
		w.syncLonersOf(&nr)
	}
}

func (w *writer) dropOrgID(id int64, slug string) {
	if s, ok := w.st.orgIDs.get(id); ok && s == slug {
		w.st.orgIDs = w.st.orgIDs.del(w.gen, id)
	}
}

func (w *writer) deleteOrganization(slug string) {
	st := w.st
	rec, ok := st.orgs.get(slug)
	if !ok || !rec.present {
		return
	}
	w.dropOrgID(rec.ID, slug)
	if rec.all.len() == 0 {
		st.orgs = st.orgs.del(w.gen, slug)
		return
	}
	nr := *rec
	nr.present = false
	nr.Organization = Organization{Slug: slug}
	st.orgs = st.orgs.set(w.gen, slug, &nr)
	w.syncLonersOf(&nr)
}
