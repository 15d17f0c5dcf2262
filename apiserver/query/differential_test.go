package query

import (
	"cmp"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
)

// model is the reference the engine is checked against: plain maps, every
// request answered by filtering every record and sorting the survivors.
type model struct {
	users   map[string]User
	orgs    map[string]Organization
	members map[string]Membership
}

func newModel() *model {
	return &model{users: map[string]User{}, orgs: map[string]Organization{}, members: map[string]Membership{}}
}

func (m *model) clone() *model {
	return &model{users: maps.Clone(m.users), orgs: maps.Clone(m.orgs), members: maps.Clone(m.members)}
}

func (m *model) orgByContext(ctx OrgContext) (Organization, bool) {
	for _, o := range m.orgs {
		if (ctx.ByID && o.ID == ctx.ID) || (!ctx.ByID && o.Slug == ctx.Slug) {
			return o, true
		}
	}
	return Organization{}, false
}

func (m *model) has(user, org string, activeOnly bool, roles ...Role) bool {
	for _, ms := range m.members {
		if ms.User == user && ms.Organization == org && (ms.Active || !activeOnly) &&
			(len(roles) == 0 || slices.Contains(roles, ms.Role)) {
			return true
		}
	}
	return false
}

// hasAny reports a membership in an organization that exists: one of an
// organization that does not is no organization at all.
func (m *model) hasAny(user string) bool {
	for _, ms := range m.members {
		if _, ok := m.orgs[ms.Organization]; ok && ms.User == user {
			return true
		}
	}
	return false
}

// visible is docs/users-api.md section 6, row by row.
func (m *model) visible(c Caller, ctx OrgContext) (func(User) bool, error) {
	_, mapped := m.users[c.User]
	mapped = mapped && c.User != ""
	nobody := func(User) bool { return false }
	if !ctx.Set {
		if c.Admin {
			return func(User) bool { return true }, nil
		}
		if !mapped {
			return nobody, nil
		}
		return func(u User) bool {
			if u.Name == c.User {
				return true
			}
			for slug := range m.orgs {
				if m.has(c.User, slug, true) && m.has(u.Name, slug, true) {
					return true
				}
			}
			return false
		}, nil
	}
	if !ctx.ByID && ctx.Slug == "" {
		if c.Admin {
			return func(u User) bool { return !m.hasAny(u.Name) }, nil
		}
		if mapped && !m.hasAny(c.User) {
			return func(u User) bool { return u.Name == c.User }, nil
		}
		return nobody, nil
	}
	o, ok := m.orgByContext(ctx)
	if !ok {
		name := ctx.Slug
		if ctx.ByID {
			name = fmt.Sprint(ctx.ID)
		}
		return nil, &Error{Status: 404, Message: name + " organization does not exist."}
	}
	if c.Admin {
		return func(u User) bool { return m.has(u.Name, o.Slug, false) }, nil
	}
	if !mapped || !m.has(c.User, o.Slug, true) {
		return nil, &Error{Status: 403, Message: "You are not an active member of the `" + o.Slug + "` organization."}
	}
	manager := m.has(c.User, o.Slug, true, RoleOwner, RoleMaintainer)
	return func(u User) bool { return m.has(u.Name, o.Slug, !manager) }, nil
}

func (m *model) list(c Caller, r *ListRequest) (*Result, error) {
	vis, err := m.visible(c, r.Org)
	if err != nil {
		return nil, err
	}
	if len(r.Roles) > 0 {
		o, _ := m.orgByContext(r.Org)
		inner := vis
		vis = func(u User) bool { return inner(u) && m.has(u.Name, o.Slug, false, r.Roles...) }
	}
	var rows []User
	for _, u := range m.users {
		if !vis(u) ||
			(r.Username != "" && u.Username != r.Username) ||
			(r.FirstName != "" && u.FirstName != r.FirstName) ||
			(r.LastName != "" && u.LastName != r.LastName) ||
			(r.IsActive != nil && u.IsActive != *r.IsActive) ||
			(r.Filter != nil && !modelMatch(filterSource[r.Filter], u)) ||
			(r.Extra != nil && !r.Extra(u)) {
			continue
		}
		found := true
		for _, t := range r.Search {
			t = modelFold(t)
			found = found && (strings.Contains(modelFold(u.Username), t) ||
				strings.Contains(modelFold(u.FirstName), t) || strings.Contains(modelFold(u.LastName), t))
		}
		if found {
			rows = append(rows, u)
		}
	}
	keys := r.Sort
	if len(keys) == 0 {
		keys = []SortKey{{Field: "id", Descending: true}}
	}
	slices.SortFunc(rows, func(a, b User) int { return compareRows(keys, a, b) })
	res := &Result{Count: len(rows)}
	if r.Paged {
		pages := max(1, (len(rows)+r.PageSize-1)/r.PageSize)
		page := r.Page
		if r.LastPage {
			page = pages
		}
		if page > pages {
			return nil, &Error{Status: 404, Param: "page", Message: "Invalid page."}
		}
		res.Page, res.HasPrevious, res.HasNext = page, page > 1, page < pages
		lo := (page - 1) * r.PageSize
		res.Offset = lo
		res.Users = rows[lo:min(lo+r.PageSize, len(rows))]
	} else {
		start := r.Window.Offset
		if a := r.Window.After; a != nil {
			start = 0
			for _, u := range rows {
				if compareRows(keys, u, *a) <= 0 {
					start++
				}
			}
		}
		lo := min(start, len(rows))
		hi := len(rows)
		if r.Window.Limit > 0 {
			hi = min(lo+r.Window.Limit, hi)
		}
		res.Offset = start
		res.Users = rows[lo:hi]
		res.HasPrevious = start > 0 && len(rows) > 0
		res.HasNext = hi < len(rows)
	}
	if res.Users == nil {
		res.Users = []User{}
	}
	return res, nil
}

// compareRows is the model's order as a comparison: the sort keys, then
// ascending id and name.
func compareRows(keys []SortKey, a, b User) int {
	for _, k := range keys {
		var c int
		switch k.Field {
		case "username":
			c = cmp.Compare(a.Username, b.Username)
		case "first_name":
			c = cmp.Compare(a.FirstName, b.FirstName)
		case "last_name":
			c = cmp.Compare(a.LastName, b.LastName)
		case "id":
			c = cmp.Compare(a.ID, b.ID)
		case "is_active":
			c = cmp.Compare(fmt.Sprint(a.IsActive), fmt.Sprint(b.IsActive))
		}
		if k.Descending {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	if c := cmp.Compare(a.ID, b.ID); c != 0 {
		return c
	}
	return cmp.Compare(a.Name, b.Name)
}

// world drives an Index and the model through the same random events.
type world struct {
	rnd   *rand.Rand
	ix    *Index
	m     *model
	names []string // user names ever used
	slugs []string
	// pending holds the users of an initial list while it is read, to be
	// given to Index.Load at once (nil when users are upserted one by one).
	pending map[string]User
}

// load gives the pending users to Index.Load, in name order, with one of
// them twice.
func (w *world) load() {
	users := slices.SortedFunc(maps.Values(w.pending), func(a, b User) int { return cmp.Compare(a.Name, b.Name) })
	if len(users) > 0 {
		users = append(users, users[w.rnd.IntN(len(users))])
	}
	w.ix.Load(users)
	w.pending = nil
}

var (
	nameParts = []string{"al", "Ali", "ALI", "ce", "bo", "b", "Σο", "σος", "ς", "é", "É", "an", "n", " ", "li", "x"}
	roles     = []Role{RoleOwner, RoleMaintainer, RoleSupervisor, RoleWorker}
)

func (w *world) word(maxParts int) string {
	var b strings.Builder
	for range w.rnd.IntN(maxParts + 1) {
		b.WriteString(nameParts[w.rnd.IntN(len(nameParts))])
	}
	return b.String()
}

func (w *world) userName() string {
	if len(w.names) == 0 || w.rnd.IntN(4) == 0 {
		w.names = append(w.names, fmt.Sprintf("u%d", len(w.names)))
	}
	return w.names[w.rnd.IntN(len(w.names))]
}

func (w *world) step() {
	switch k := w.rnd.IntN(20); {
	case k < 9:
		u := User{
			Name: w.userName(), ID: int64(w.rnd.IntN(40)), Username: w.word(3),
			FirstName: w.word(2), LastName: w.word(2), IsActive: w.rnd.IntN(3) > 0,
		}
		if old, ok := w.m.users[u.Name]; ok && w.rnd.IntN(2) == 0 {
			// Change one field only, the way real updates do.
			nu := old
			switch w.rnd.IntN(4) {
			case 0:
				nu.LastName = u.LastName
			case 1:
				nu.ID = u.ID
			case 2:
				nu.IsActive = !nu.IsActive
			default:
				nu.Username = u.Username
			}
			u = nu
		}
		if w.pending != nil {
			w.pending[u.Name] = u
		} else {
			w.ix.UpsertUser(u)
		}
		w.m.users[u.Name] = u
	case k < 11:
		n := w.userName()
		if w.pending != nil {
			delete(w.pending, n)
		} else {
			w.ix.DeleteUser(n)
		}
		delete(w.m.users, n)
	case k < 16:
		ms := Membership{
			Name: fmt.Sprintf("m%d", w.rnd.IntN(60)), Organization: w.slugs[w.rnd.IntN(len(w.slugs))],
			User: w.userName(), Role: roles[w.rnd.IntN(len(roles))], Active: w.rnd.IntN(3) > 0,
		}
		if old, ok := w.m.members[ms.Name]; ok && old.User != ms.User {
			// A membership's user never changes: another user's membership
			// of the same name comes after a deletion, as from the API
			// server.
			w.ix.DeleteMembership(old)
		}
		w.ix.UpsertMembership(ms)
		w.m.members[ms.Name] = ms
	case k < 17:
		n := fmt.Sprintf("m%d", w.rnd.IntN(60))
		old, ok := w.m.members[n]
		if !ok {
			// Deleting what the index does not hold changes nothing.
			old = Membership{Name: n, User: w.userName()}
		}
		w.ix.DeleteMembership(old)
		delete(w.m.members, n)
	case k < 19:
		i := w.rnd.IntN(len(w.slugs))
		// IDs stay unique per slug; a recreated organization may get a new one.
		o := Organization{Slug: w.slugs[i], ID: int64(100 + i + 10*w.rnd.IntN(2))}
		w.ix.UpsertOrganization(o)
		w.m.orgs[o.Slug] = o
	default:
		s := w.slugs[w.rnd.IntN(len(w.slugs))]
		w.ix.DeleteOrganization(s)
		delete(w.m.orgs, s)
	}
}

func (w *world) someUser() User {
	for _, u := range w.m.users {
		return u
	}
	return User{}
}

func (w *world) query() (Caller, url.Values) {
	q := url.Values{}
	pick := func(p int) bool { return w.rnd.IntN(p) == 0 }
	some := w.someUser()
	if pick(8) {
		q.Set("username", some.Username)
	}
	if pick(8) {
		q.Set("last_name", some.LastName)
	}
	if pick(5) {
		q.Set("is_active", fmt.Sprint(pick(2)))
	}
	if pick(3) {
		terms := []string{}
		for range 1 + w.rnd.IntN(2) {
			t := []string{some.Username, some.FirstName, some.LastName, w.word(2)}[w.rnd.IntN(4)]
			if r := []rune(t); len(r) > 1 {
				i := w.rnd.IntN(len(r))
				t = string(r[i : i+1+w.rnd.IntN(min(len(r)-i, 5))])
			}
			if pick(2) {
				t = strings.ToUpper(t)
			}
			if strings.Contains(t, " ") || pick(5) {
				t = `"` + t + `"`
			}
			terms = append(terms, t)
		}
		q.Set("search", strings.Join(terms, []string{" ", ","}[w.rnd.IntN(2)]))
	}
	if pick(2) {
		fields := []string{"username", "first_name", "last_name", "id", "is_active"}
		var keys []string
		for range 1 + w.rnd.IntN(2) {
			k := fields[w.rnd.IntN(len(fields))]
			if pick(2) {
				k = "-" + k
			}
			keys = append(keys, k)
		}
		q.Set("sort", strings.Join(keys, ","))
	}
	if pick(4) {
		a, b := w.rnd.IntN(45)-2, w.rnd.IntN(45)-2
		filters := []string{
			fmt.Sprintf(`{"<=":[%d,{"var":"id"},%d]}`, a, b),
			fmt.Sprintf(`{"<":[%d,{"var":"id"},%d]}`, a, b),
			fmt.Sprintf(`{"and":[{">":[{"var":"id"},%d]},{"!":{"var":"is_active"}}]}`, a),
			fmt.Sprintf(`{"or":[{"==":[{"var":"id"},%d]},{"in":[{"var":"id"},[%d,%d,7]]}]}`, a, b, a+1),
			fmt.Sprintf(`{"in":[%q,{"var":"username"}]}`, w.word(1)),
			fmt.Sprintf(`{"!=":[{"var":"first_name"},%q]}`, w.word(2)),
			fmt.Sprintf(`{">=":[%d,{"var":"id"}]}`, b),
			`{"!!":[{"var":"last_name"}]}`,
			// Answered by the indexes alone: the id order and the active sets.
			fmt.Sprintf(`{"and":[{"<=":[%d,{"var":"id"},%d]},{"==":[{"var":"is_active"},true]}]}`, a, b),
			`{"==":[false,{"var":"is_active"}]}`,
			`{"!=":[{"var":"is_active"},false]}`,
			fmt.Sprintf(`{"and":[{"var":"is_active"},{">=":[{"var":"id"},%d]},{"!=":[{"var":"is_active"},true]}]}`, a),
		}
		q.Set("filter", filters[w.rnd.IntN(len(filters))])
	}
	switch w.rnd.IntN(4) {
	case 0:
		q.Set("page", fmt.Sprint(1+w.rnd.IntN(4)))
		q.Set("page_size", fmt.Sprint(1+w.rnd.IntN(5)))
	case 1:
		q.Set("page", "last")
	}
	switch w.rnd.IntN(8) {
	case 0:
		q.Set("org", w.slugs[w.rnd.IntN(len(w.slugs))])
	case 1:
		q.Set("org", "")
	case 2:
		q.Set("org_id", fmt.Sprint(100+w.rnd.IntN(len(w.slugs)+10)))
	}
	if (q.Get("org") != "" || q.Has("org_id")) && pick(3) {
		roles := []string{"owner", "maintainer", "supervisor", "worker"}
		q.Set("role", roles[w.rnd.IntN(4)])
		if pick(2) {
			q.Set("role", q.Get("role")+","+roles[w.rnd.IntN(4)])
		}
	}
	c := Caller{Admin: pick(2)}
	if !pick(8) {
		c.User = w.userName()
	}
	return c, q
}

// checkList compares one request and returns the number of matching users.
func checkList(g Gomega, s *Snapshot, m *model, c Caller, r *ListRequest, ctx string) int {
	got, err := s.List(c, r)
	want, wantErr := m.list(c, r)
	if wantErr != nil {
		g.Expect(err).To(Equal(wantErr), ctx)
		return 0
	}
	g.Expect(err).NotTo(HaveOccurred(), ctx)
	g.Expect(got).To(Equal(want), ctx)
	return want.Count
}

// TestMatchesReference checks the engine against the model on random
// datasets and requests, with random writes between requests, and checks
// that earlier snapshots keep answering as the model did when they were
// taken.
func TestMatchesReference(t *testing.T) {
	rounds := 300
	if testing.Short() || raceEnabled {
		rounds = 60
	}
	queries, listed := 0, 0
	defer func() {
		// Guard against a generator that only ever produces empty lists.
		if queries > 0 && listed < queries/5 {
			t.Errorf("only %d of %d random requests matched more than one user", listed, queries)
		}
	}()
	for seed := range uint64(rounds) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			g := NewWithT(t)
			w := &world{rnd: rand.New(rand.NewPCG(seed, 7)), ix: NewIndex(), m: newModel(),
				slugs: []string{"acme", "beta", "gamma", "delta"}}
			type frozen struct {
				s *Snapshot
				m *model
			}
			var old []frozen
			steps := 20 + w.rnd.IntN(60)
			if seed%25 == 3 {
				steps = 2500 // enough to split order chunks and fill containers
			}
			if seed%2 == 1 {
				// Half the worlds start from a loaded initial list, with
				// memberships and organizations arriving before it.
				w.pending = map[string]User{}
			}
			for range steps {
				w.step()
			}
			if w.pending != nil {
				w.load()
			}
			for range 25 {
				for range w.rnd.IntN(6) {
					w.step()
				}
				s := w.ix.Snapshot()
				if w.rnd.IntN(4) == 0 {
					old = append(old, frozen{s, w.m.clone()})
				}
				c, q := w.query()
				r, err := ParseListRequest(q, nil, ParseOptions{})
				g.Expect(err).NotTo(HaveOccurred(), q.Encode())
				if r.Filter != nil {
					filterSource[r.Filter] = q.Get("filter")
				}
				if !r.Paged && w.rnd.IntN(2) == 0 {
					r.Window = Window{Offset: w.rnd.IntN(5), Limit: w.rnd.IntN(4)}
					if len(w.names) > 0 && w.rnd.IntN(2) == 0 {
						// After a user as it is, or as it was: a name that
						// may be gone with values that may have changed.
						name := w.names[w.rnd.IntN(len(w.names))]
						after, ok := w.m.users[name]
						if !ok || w.rnd.IntN(3) == 0 {
							after = User{Name: name, ID: int64(w.rnd.IntN(40)), Username: name, IsActive: w.rnd.IntN(2) == 0}
						}
						r.Window.After = &after
					}
				}
				if w.rnd.IntN(6) == 0 {
					r.Extra = func(u User) bool { return len(u.Name)%2 == 0 }
				}
				ctx := fmt.Sprintf("caller %+v query %s window %+v", c, q.Encode(), r.Window)
				queries++
				if checkList(g, s, w.m, c, r, ctx) > 1 {
					listed++
				}
				for _, f := range old {
					checkList(g, f.s, f.m, c, r, "old snapshot: "+ctx)
				}
				for _, name := range w.names[:min(len(w.names), 5)] {
					want, _ := w.m.visible(c, OrgContext{})
					u, exists := w.m.users[name]
					g.Expect(s.Visible(c, name)).To(Equal(exists && want(u)), "Visible "+ctx+" "+name)
					ok, err := s.Matches(c, r, name)
					if err == nil && exists {
						res, _ := w.m.list(c, &ListRequest{Org: r.Org, Username: r.Username, LastName: r.LastName,
							IsActive: r.IsActive, Search: r.Search, Filter: r.Filter, Extra: r.Extra, Roles: r.Roles})
						g.Expect(ok).To(Equal(res != nil && slices.Contains(res.Users, u)), "Matches "+ctx+" "+name)
					}
				}
			}
		})
	}
}
