package query

import (
	"cmp"
	"fmt"
	"math/bits"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
)

// Snapshot is an immutable view of an Index at one moment. Any number of
// goroutines may use it at once.
type Snapshot struct {
	st state
	// scratch, on one request's own copy of a snapshot, lends the bitsets
	// the request works in; nil on a shared snapshot.
	scratch *scratch
}

// scratch holds the bitsets one request borrowed from bitsetPool, to give
// back when it ends: a bitset has a bit per slot (12.5 KB at 100k users),
// and allocating one per request cost a third of a filtered list's time.
type scratch struct{ lent []*bitset }

var bitsetPool sync.Pool // of *bitset

// newBitset returns an empty bitset of every slot: borrowed on a request's
// copy, allocated otherwise.
func (s *Snapshot) newBitset() bitset {
	if s.scratch == nil {
		return newBitset(s.st.slots)
	}
	n := (s.st.slots + 63) / 64
	p, _ := bitsetPool.Get().(*bitset)
	if p == nil || cap(*p) < n {
		b := make(bitset, n)
		p = &b
	} else {
		*p = (*p)[:n]
		clear(*p)
	}
	s.scratch.lent = append(s.scratch.lent, p)
	return *p
}

// borrowing returns a copy of s whose bitsets come from the pool, and the
// function that gives them back: call it once nothing uses them.
func (s *Snapshot) borrowing() (*Snapshot, func()) {
	sc := &scratch{}
	return &Snapshot{st: s.st, scratch: sc}, func() {
		for _, p := range sc.lent {
			bitsetPool.Put(p)
		}
		sc.lent = nil
	}
}

func (s *Snapshot) rec(slot uint32) *userRec { return s.st.users.get(slot) }

// size returns the number of users.
func (s *Snapshot) size() int { return s.st.count }

// User returns the user named name.
func (s *Snapshot) User(name string) (User, bool) {
	slot, ok := s.st.names.get(name)
	if !ok {
		return User{}, false
	}
	return s.rec(slot).User, true
}

// UserByID returns the user whose ID is id (the one with the smallest name,
// should two users ever share an ID). Unallocated IDs (0) match no one.
func (s *Snapshot) UserByID(id int64) (User, bool) {
	if id == 0 {
		return User{}, false
	}
	l := s.st.orders[fieldID]
	pos := l.search(func(slot uint32) bool { return s.rec(slot).ID >= id })
	if pos >= l.len() {
		return User{}, false
	}
	r := s.rec(l.at(pos))
	return r.User, r.ID == id
}

// OrganizationsOf returns the memberships of the user named userName in
// organizations that exist, by organization slug: what `users/self` shows.
func (s *Snapshot) OrganizationsOf(userName string) []MembershipRole {
	refs, _ := s.st.byUser.get(userName)
	out := make([]MembershipRole, 0, len(refs))
	for _, r := range refs {
		o, ok := s.st.orgs.get(r.org)
		if !ok || !o.present {
			continue
		}
		out = append(out, MembershipRole{Organization: r.org, OrganizationID: o.ID, Role: r.role.Value(), Active: r.active})
	}
	slices.SortFunc(out, func(a, b MembershipRole) int { return cmp.Compare(a.Organization, b.Organization) })
	return out
}

// MembershipNamesOf returns the names of the memberships of the user named
// userName, in any state and of any organization, existing or not.
func (s *Snapshot) MembershipNamesOf(userName string) []string {
	refs, _ := s.st.byUser.get(userName)
	out := make([]string, len(refs))
	for i, r := range refs {
		out[i] = r.name
	}
	return out
}

// Organization returns the organization named slug, when it exists.
func (s *Snapshot) Organization(slug string) (Organization, bool) {
	o, ok := s.st.orgs.get(slug)
	if !ok || !o.present {
		return Organization{}, false
	}
	return o.Organization, true
}

// OrganizationSlug returns the slug of the organization whose ID is id.
func (s *Snapshot) OrganizationSlug(id int64) (string, bool) {
	slug, ok := s.st.orgIDs.get(id)
	return slug, ok
}

// MembersOf returns the names of the users with a membership in org, in any
// state, whether or not org exists: the users whose visibility a change of
// org or of one of its memberships may change.
func (s *Snapshot) MembersOf(org string) []string {
	o, ok := s.st.orgs.get(org)
	if !ok || o.all == nil {
		return nil
	}
	b := s.newBitset()
	o.all.orInto(b)
	var names []string
	b.each(func(slot uint32) bool {
		if r := s.rec(slot); r != nil {
			names = append(names, r.Name)
		}
		return true
	})
	return names
}

// Visible reports whether the caller may see the user named userName
// without an organization context: GET by name and watch events. A user
// that does not exist is not visible.
func (s *Snapshot) Visible(c Caller, userName string) bool {
	if _, ok := s.st.names.get(userName); !ok {
		return false
	}
	if c.Admin {
		return true
	}
	if _, ok := s.st.names.get(c.User); !ok || c.User == "" {
		return false
	}
	if c.User == userName {
		return true
	}
	mine, _ := s.st.byUser.get(c.User)
	theirs, _ := s.st.byUser.get(userName)
	for _, m := range mine {
		if !m.active || !s.orgPresent(m.org) {
			continue
		}
		for _, t := range theirs {
			if t.active && t.org == m.org {
				return true
			}
		}
	}
	return false
}

func (s *Snapshot) orgPresent(slug string) bool {
	o, ok := s.st.orgs.get(slug)
	return ok && o.present
}

// orgOf resolves an organization context; 404 when it names no
// organization.
func (s *Snapshot) orgOf(ctx OrgContext) (*orgRec, error) {
	slug, ok := ctx.Slug, true
	if ctx.ByID {
		slug, ok = s.st.orgIDs.get(ctx.ID)
	}
	if ok {
		if o, found := s.st.orgs.get(slug); found && o.present {
			return o, nil
		}
	}
	name := ctx.Slug
	if ctx.ByID {
		name = fmt.Sprint(ctx.ID)
	}
	return nil, &Error{Status: 404, Message: fmt.Sprintf(orgNotFound, name)}
}

const (
	orgNotFound = "%s organization does not exist."
	notAMember  = "You are not an active member of the `%s` organization."
)

// scope is the set of users a caller may see in a request's context.
type scope struct {
	all  bool
	set  *pset  // when not all, the set is either set ...
	bits bitset // ... or bits (nil and nil: nobody)
	// roles, when not empty, narrows the scope to the members holding one
	// of these roles in the request's organization.
	roles []*pset
}

// withRoles narrows sc to the members of o holding one of roles.
func (sc scope) withRoles(o *orgRec, roles []Role) scope {
	for _, r := range roles {
		if p := o.roles[roleIndex(r)]; p != nil {
			sc.roles = append(sc.roles, p)
		}
	}
	if len(roles) > 0 && len(sc.roles) == 0 {
		return scope{}
	}
	return sc
}

func (s *Snapshot) scopeOf(c Caller, ctx OrgContext, roles []Role) (scope, error) {
	callerSlot, mapped := s.st.names.get(c.User)
	mapped = mapped && c.User != ""
	mine, _ := s.st.byUser.get(c.User)
	switch {
	case !ctx.Set && c.Admin:
		return scope{all: true}, nil
	case !ctx.Set:
		if !mapped {
			return scope{}, nil
		}
		b := s.newBitset()
		b.set(callerSlot)
		for _, m := range mine {
			if o, ok := s.st.orgs.get(m.org); ok && m.active && o.present {
				o.active.orInto(b)
			}
		}
		return scope{bits: b}, nil
	case !ctx.ByID && ctx.Slug == "":
		// The personal workspace.
		if c.Admin {
			return scope{set: s.st.loners}, nil
		}
		if mapped && s.st.loners.has(callerSlot) {
			b := s.newBitset()
			b.set(callerSlot)
			return scope{bits: b}, nil
		}
		return scope{}, nil
	}
	o, err := s.orgOf(ctx)
	if err != nil {
		return scope{}, err
	}
	if c.Admin {
		return scope{set: o.all}.withRoles(o, roles), nil
	}
	active, manager := false, false
	for _, m := range mine {
		if m.org == o.Slug && m.active {
			active = true
			role := m.role.Value()
			manager = manager || role == RoleOwner || role == RoleMaintainer
		}
	}
	if !mapped || !active {
		return scope{}, &Error{Status: 403, Message: fmt.Sprintf(notAMember, o.Slug)}
	}
	if manager {
		return scope{set: o.all}.withRoles(o, roles), nil
	}
	return scope{set: o.active}.withRoles(o, roles), nil
}

func (sc scope) has(slot uint32) bool {
	if len(sc.roles) > 0 && !slices.ContainsFunc(sc.roles, func(p *pset) bool { return p.has(slot) }) {
		return false
	}
	switch {
	case sc.all:
		return true
	case sc.set != nil:
		return sc.set.has(slot)
	}
	return sc.bits.has(slot)
}

// conditions are the request's filters apart from visibility, split into
// what indexes answer and what is checked per candidate.
type conditions struct {
	eq     [3]string // exact username, first_name, last_name
	terms  []string  // search terms, each to be found by the trigram index
	ids    idRange
	active activity
	preds  []func(*userRec) bool
}

func conditionsOf(r *ListRequest) conditions {
	var c conditions
	c.eq = [3]string{r.Username, r.FirstName, r.LastName}
	for _, t := range r.Search {
		t := fold(t) // a no-op for terms from ParseListRequest
		n := utf8.RuneCountInString(t)
		if n >= 3 {
			c.terms = append(c.terms, t)
		}
		// A trigram match proves a term of three runes; longer ones and
		// shorter ones (which no trigram covers) are checked on the record.
		if n != 3 {
			c.preds = append(c.preds, func(u *userRec) bool { return termMatches(u, t) })
		}
	}
	if r.IsActive != nil {
		c.active = activityOf(*r.IsActive)
	}
	if r.Filter != nil {
		c.ids = r.Filter.ids
		c.active = c.active.and(r.Filter.active)
		if !r.Filter.exact {
			c.preds = append(c.preds, r.Filter.match)
		}
	}
	if r.Extra != nil {
		extra := r.Extra
		c.preds = append(c.preds, func(u *userRec) bool { return extra(u.User) })
	}
	return c
}

func termMatches(u *userRec, t string) bool {
	f := u.fold()
	return strings.Contains(f[0], t) || strings.Contains(f[1], t) || strings.Contains(f[2], t)
}

func (c *conditions) test(u *userRec) bool {
	if c.ids.bounded && (u.ID < c.ids.lo || u.ID > c.ids.hi) {
		return false
	}
	switch c.active {
	case onlyActive:
		if !u.IsActive {
			return false
		}
	case onlyInactive:
		if u.IsActive {
			return false
		}
	case noActivity:
		return false
	}
	for i, s := range c.eq {
		if s != "" && field(i).str(u) != s {
			return false
		}
	}
	for _, t := range c.terms {
		if !termMatches(u, t) {
			return false
		}
	}
	for _, p := range c.preds {
		if !p(u) {
			return false
		}
	}
	return true
}

// Authorize returns the error List would for a request the caller may not
// make (an unknown organization, or one the caller is not an active member
// of), without listing anything.
func (s *Snapshot) Authorize(c Caller, r *ListRequest) error {
	_, err := s.scopeOf(c, r.Org, r.Roles)
	return err
}

// Matches reports whether the user named userName is in the result of r
// for caller c, paging aside: the server filters watch events with it. It
// returns the errors List would.
func (s *Snapshot) Matches(c Caller, r *ListRequest, userName string) (bool, error) {
	sc, err := s.scopeOf(c, r.Org, r.Roles)
	if err != nil {
		return false, err
	}
	slot, ok := s.st.names.get(userName)
	if !ok || !sc.has(slot) {
		return false, nil
	}
	cond := conditionsOf(r)
	return cond.test(s.rec(slot)), nil
}

// List answers a list request for caller c: the users the caller may see in
// the request's organization context that match every filter, sorted, and
// the requested page or window of them.
func (s *Snapshot) List(c Caller, r *ListRequest) (*Result, error) {
	if s.scratch == nil {
		// The bitsets never leave the request: the result holds copies of
		// the records.
		rs, release := s.borrowing()
		defer release()
		return rs.List(c, r)
	}
	keys, err := sortKeys(r.Sort)
	if err != nil {
		return nil, err
	}
	sc, err := s.scopeOf(c, r.Org, r.Roles)
	if err != nil {
		return nil, err
	}
	cond := conditionsOf(r)
	m, count, spans := s.matching(sc, &cond)
	res := &Result{Count: count}
	off, limit := 0, count
	if r.Paged {
		size := r.PageSize
		if size <= 0 {
			size = 10
		}
		pages := max(1, (count+size-1)/size)
		page := max(r.Page, 1)
		if r.LastPage {
			page = pages
		}
		if page < 1 || page > pages {
			return nil, &Error{Status: 404, Param: "page", Message: "Invalid page."}
		}
		res.Page, res.HasPrevious, res.HasNext = page, page > 1, page < pages
		off, limit = (page-1)*size, size
	} else {
		off = max(r.Window.Offset, 0)
		if r.Window.After != nil {
			off = s.rankAfter(m, count, keys, r.Window.After)
		}
		if r.Window.Limit > 0 {
			limit = r.Window.Limit
		}
		res.HasPrevious = off > 0 && count > 0
		res.HasNext = off < count && limit < count-off
	}
	res.Offset = off
	slots := s.window(m, count, keys, spans[keys[0].f], off, limit)
	res.Users = make([]User, len(slots))
	for i, slot := range slots {
		res.Users[i] = s.rec(slot).User
	}
	return res, nil
}

// rankAfter is the number of matching users (m and count as matching
// returns them) that sort at or before u: the position right after u in the
// order of keys.
func (s *Snapshot) rankAfter(m bitset, count int, keys []sortKey, u *User) int {
	if count == 0 {
		return 0
	}
	ref := &userRec{User: *u}
	n := 0
	visit := func(slot uint32) bool {
		if r := s.rec(slot); r != nil && compareBy(keys, r, ref) <= 0 {
			n++
		}
		return true
	}
	if m != nil {
		m.each(visit)
		return n
	}
	for slot := range uint32(s.st.slots) {
		visit(slot)
	}
	return n
}

// span is the part [lo, hi) of an order that holds every matching user.
type span struct{ lo, hi int }

// matching returns the matching users as a bitset (nil: every user), their
// number, and for each order the span known to hold them all. Indexes give
// the candidates: visibility sets, the trigram postings of search terms,
// ranges of the username, name and id orders; only the remaining conditions
// run per candidate.
func (s *Snapshot) matching(sc scope, c *conditions) (bitset, int, [numFields]span) {
	var spans [numFields]span
	for f := range spans {
		spans[f] = span{0, s.st.orders[f].len()}
	}
	var cand bitset
	// Only the words [wlo, whi) of cand can be non-zero.
	wlo, whi := 0, (s.st.slots+63)/64
	narrow := func(b bitset) {
		if cand == nil {
			cand = b
		} else {
			cand.and(b)
		}
	}
	switch {
	case sc.all:
	case sc.set != nil:
		b := s.newBitset()
		sc.set.orInto(b)
		narrow(b)
	case sc.bits != nil:
		narrow(sc.bits)
	default:
		return nil, 0, spans
	}
	if len(sc.roles) > 0 {
		b := s.newBitset()
		for _, p := range sc.roles {
			p.orInto(b)
		}
		narrow(b)
	}
	for i, v := range c.eq {
		if v != "" {
			f := field(i)
			b, sp, _, _ := s.orderRange(f,
				func(u *userRec) bool { return f.str(u) >= v },
				func(u *userRec) bool { return f.str(u) > v })
			narrow(b)
			spans[f] = sp
		}
	}
	if c.ids.bounded {
		if c.ids.lo > c.ids.hi {
			return nil, 0, spans
		}
		lo, hi := c.ids.lo, c.ids.hi
		first := cand == nil
		b, sp, blo, bhi := s.orderRange(fieldID,
			func(u *userRec) bool { return u.ID >= lo },
			func(u *userRec) bool { return u.ID > hi })
		narrow(b)
		if first {
			wlo, whi = blo, bhi
		}
		spans[fieldID] = sp
	}
	for _, t := range c.terms {
		b, ok := s.gramCandidates(t)
		if !ok {
			return nil, 0, spans
		}
		narrow(b)
	}
	if c.active != anyActivity {
		set := s.st.active
		switch c.active {
		case onlyInactive:
			set = s.st.inactive
		case noActivity:
			return nil, 0, spans
		}
		if cand == nil {
			cand = s.newBitset()
			set.orInto(cand)
		} else {
			set.andIntoWords(cand, wlo, whi)
		}
	}
	if cand == nil {
		if len(c.preds) == 0 {
			return nil, s.st.count, spans
		}
		cand = s.newBitset()
		for slot := range uint32(s.st.slots) {
			if u := s.rec(slot); u != nil && c.testPreds(u) {
				cand.set(slot)
			}
		}
		return cand, cand.count(), spans
	}
	if len(c.preds) == 0 {
		// Every candidate came from an index of live users.
		return cand, cand[wlo:whi].count(), spans
	}
	n := 0
	for i := wlo; i < whi; i++ {
		w := cand[i]
		for rest := w; rest != 0; rest &= rest - 1 {
			slot := uint32(i*64 + bits.TrailingZeros64(rest))
			if u := s.rec(slot); u == nil || !c.testPreds(u) {
				w &^= 1 << (slot & 63)
			}
		}
		cand[i] = w
		n += bits.OnesCount64(w)
	}
	return cand, n, spans
}

func (c *conditions) testPreds(u *userRec) bool {
	for _, p := range c.preds {
		if !p(u) {
			return false
		}
	}
	return true
}

// orderRange returns the users between the first position of field f's
// order where from holds and the first where past holds, and that span.
// The bitset's non-zero words are [wlo, whi).
func (s *Snapshot) orderRange(f field, from, past func(*userRec) bool) (b bitset, sp span, wlo, whi int) {
	l := s.st.orders[f]
	lo := l.search(func(slot uint32) bool { return from(s.rec(slot)) })
	hi := l.search(func(slot uint32) bool { return past(s.rec(slot)) })
	b = s.newBitset()
	wlo, whi = l.fill(lo, hi, b)
	return b, span{lo, max(lo, hi)}, wlo, whi
}

// gramCandidates returns the users whose fields hold every trigram of the
// folded term t; false when some trigram occurs nowhere.
func (s *Snapshot) gramCandidates(t string) (bitset, bool) {
	grams := gramsOf(t)
	posts := make([]*pset, 0, len(grams))
	for _, g := range grams {
		p, ok := s.st.grams.get(g)
		if !ok {
			return nil, false
		}
		posts = append(posts, p)
	}
	slices.SortFunc(posts, func(a, b *pset) int { return cmp.Compare(a.len(), b.len()) })
	b := s.newBitset()
	posts[0].orInto(b)
	for _, p := range posts[1:] {
		p.andInto(b)
	}
	return b, true
}
