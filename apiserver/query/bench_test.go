package query

import (
	"fmt"
	"math/rand/v2"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"unsafe"
)

// Realistic names: a few dozen common names plus names built from
// syllables, several hundred of each.
var (
	commonFirst = []string{"Alice", "Alina", "Ali", "Alex", "Bob", "Carol", "David", "Erin", "Frank", "Grace",
		"Hannah", "Ivan", "Julia", "Karl", "Laura", "Mary Ann", "Natalia", "Oscar", "Pierre", "Quinn", "Rosalie",
		"Sven", "Tatiana", "Ursula", "Victor", "Wendy", "Xavier", "Yusuf", "Zoë", "Élodie", "Søren", "Łukasz"}
	commonLast = []string{"Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Alison",
		"Khalil", "Müller", "Schmidt", "Rossi", "Dubois", "Kowalski", "Nguyen", "Kim", "Tanaka", "Ivanova",
		"O'Brien", "da Silva", "van Dijk", "Øster", "Papadopoulos", "Malik", "Haddad", "Novak", "Horvat"}
	syllables = []string{"al", "an", "bel", "car", "da", "el", "fi", "gra", "han", "is", "jo", "ka", "li",
		"ma", "ni", "or", "pe", "ra", "sa", "ta", "ul", "vi", "wen", "ya", "zo", "mer", "ton", "ski", "son", "berg"}
)

func nameList(rnd *rand.Rand, common []string, n int) []string {
	out := append([]string(nil), common...)
	seen := map[string]bool{}
	for len(out) < n {
		var b strings.Builder
		for range 2 + rnd.IntN(2) {
			b.WriteString(syllables[rnd.IntN(len(syllables))])
		}
		s := b.String()
		if !seen[s] {
			seen[s] = true
			out = append(out, strings.ToUpper(s[:1])+s[1:])
		}
	}
	return out
}

type dataset struct {
	ix       *Index
	users    []User
	largest  string // slug of the largest organization
	regular  Caller // a member of a few organizations
	nUsers   int
	heapUsed uint64 // bytes the index holds
	// memberships are the memberships the index was built with.
	memberships []Membership
}

var (
	datasetsMu sync.Mutex
	datasets   = map[int]*dataset{}
)

// makeDataset builds n users in 100 organizations of Zipf-like sizes, each
// user in 0 to 3 of them. Datasets are built once per size and shared.
func makeDataset(tb testing.TB, n int) *dataset {
	datasetsMu.Lock()
	defer datasetsMu.Unlock()
	if d, ok := datasets[n]; ok {
		return d
	}
	rnd := rand.New(rand.NewPCG(uint64(n), 1))
	first := nameList(rnd, commonFirst, 400)
	last := nameList(rnd, commonLast, 600)
	users := make([]User, n)
	for i := range users {
		f, l := first[rnd.IntN(len(first))], last[rnd.IntN(len(last))]
		users[i] = User{
			Name:      fmt.Sprintf("user-%d", i),
			ID:        int64(i + 1),
			Username:  fmt.Sprintf("%s.%s%d", strings.ToLower(strings.ReplaceAll(f, " ", "")), strings.ToLower(strings.ReplaceAll(l, " ", "")), i),
			FirstName: f,
			LastName:  l,
			IsActive:  rnd.IntN(10) > 0,
		}
	}
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	ix := NewIndex()
	for _, u := range users {
		ix.UpsertUser(u)
	}
	zipf := rand.NewZipf(rnd, 1.1, 2, 99)
	sizes := map[string]int{}
	for o := range 100 {
		ix.UpsertOrganization(Organization{Slug: fmt.Sprintf("org-%d", o), ID: int64(o + 1)})
	}
	memberships := 0
	var ms []Membership
	for i, u := range users {
		k := []int{0, 1, 1, 2, 2, 3, 1, 0}[rnd.IntN(8)]
		joined := map[uint64]bool{}
		for range k {
			o := zipf.Uint64()
			if joined[o] {
				continue
			}
			joined[o] = true
			slug := fmt.Sprintf("org-%d", o)
			sizes[slug]++
			role := []Role{RoleWorker, RoleWorker, RoleWorker, RoleSupervisor, RoleMaintainer, RoleOwner}[rnd.IntN(6)]
			m := Membership{Name: fmt.Sprintf("m-%d-%d", i, o), Organization: slug, User: u.Name,
				Role: role, Active: rnd.IntN(10) > 0}
			ix.UpsertMembership(m)
			ms = append(ms, m)
			memberships++
		}
	}
	s := ix.Snapshot()
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	d := &dataset{ix: ix, users: users, nUsers: n, heapUsed: after.HeapAlloc - before.HeapAlloc, memberships: ms}
	for slug, size := range sizes {
		if d.largest == "" || size > sizes[d.largest] {
			d.largest = slug
		}
	}
	// A regular caller: an active member of two or more organizations.
	for _, u := range users {
		orgs := s.OrganizationsOf(u.Name)
		if len(orgs) >= 2 && orgs[0].Active && orgs[1].Active {
			d.regular = Caller{User: u.Name}
			break
		}
	}
	datasets[n] = d
	return d
}

var benchSizes = []int{1_000, 10_000, 100_000}

func benchList(b *testing.B, c func(d *dataset) Caller, query func(d *dataset) string) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("users=%d", n), func(b *testing.B) {
			d := makeDataset(b, n)
			q, err := url.ParseQuery(query(d))
			if err != nil {
				b.Fatal(err)
			}
			caller := c(d)
			s := d.ix.Snapshot()
			b.ReportAllocs()
			b.ResetTimer()
			var res *Result
			for b.Loop() {
				r, err := ParseListRequest(q, nil, ParseOptions{})
				if err != nil {
					b.Fatal(err)
				}
				if res, err = s.List(caller, r); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(res.Count), "count")
		})
	}
}

func asAdmin(*dataset) Caller     { return Caller{Admin: true} }
func asRegular(d *dataset) Caller { return d.regular }
func fixed(q string) func(*dataset) string {
	return func(*dataset) string { return q }
}

func BenchmarkListFirstPageAdmin(b *testing.B) { benchList(b, asAdmin, fixed("page=1")) }

func BenchmarkListFirstPageRegular(b *testing.B) { benchList(b, asRegular, fixed("page=1")) }

func BenchmarkListSearch(b *testing.B) { benchList(b, asAdmin, fixed("search=ali&page=1")) }

func BenchmarkListSearchSortMiddlePage(b *testing.B) {
	benchList(b, asAdmin, func(d *dataset) string {
		// The middle page of the search result.
		r, _ := ParseListRequest(url.Values{"search": {"ali"}}, nil, ParseOptions{})
		res, _ := d.ix.Snapshot().List(Caller{Admin: true}, r)
		return fmt.Sprintf("search=ali&sort=last_name&page=%d", max(1, res.Count/20))
	})
}

func BenchmarkListLargestOrg(b *testing.B) {
	benchList(b, asAdmin, func(d *dataset) string { return "page=1&org=" + d.largest })
}

// BenchmarkListLargestOrgByRole is users?org=X&role=worker: within 2x of
// the organization's page alone (BenchmarkListLargestOrg).
func BenchmarkListLargestOrgByRole(b *testing.B) {
	benchList(b, asAdmin, func(d *dataset) string { return "page=1&org=" + d.largest + "&role=worker" })
}

func BenchmarkListFilterRange(b *testing.B) {
	benchList(b, asAdmin, fixed(`page=1&filter={"<=":[100,{"var":"id"},5000]}`))
}

// BenchmarkUpsertUser changes one user's last name and takes a snapshot, so
// that every write pays for copying what a reader may still hold.
func BenchmarkUpsertUser(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("users=%d", n), func(b *testing.B) {
			// A private index: the shared datasets must not change.
			ix := NewIndex()
			d := makeDataset(b, n)
			for _, u := range d.users {
				ix.UpsertUser(u)
			}
			rnd := rand.New(rand.NewPCG(1, 2))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				u := d.users[rnd.IntN(len(d.users))]
				u.LastName = d.users[rnd.IntN(len(d.users))].LastName + "x"
				ix.UpsertUser(u)
				ix.Snapshot()
			}
		})
	}
}

// BenchmarkIndexMemory reports the heap an index holds per user, and the
// part of it beyond the records themselves.
func BenchmarkIndexMemory(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("users=%d", n), func(b *testing.B) {
			d := makeDataset(b, n)
			// Each iteration builds an index of its own, from records whose
			// strings it owns (as the directory's records are its own), and
			// measures what the heap retains after a GC.
			var retained uint64
			for b.Loop() {
				retained = retainedIndex(d)
			}
			// The records themselves, as a plain slice would hold them.
			var records uint64
			for _, u := range d.users {
				records += uint64(unsafe.Sizeof(u)) + uint64(len(u.Name)+len(u.Username)+len(u.FirstName)+len(u.LastName))
			}
			for _, m := range d.memberships {
				records += uint64(unsafe.Sizeof(m)) + uint64(len(m.Name)+len(m.Organization)+len(m.User)+len(m.Role))
			}
			b.ReportMetric(float64(retained)/float64(n), "B/user")
			b.ReportMetric((float64(retained)-float64(records))/float64(n), "index-B/user")
		})
	}
}

// retainedIndex builds an index of d's users and memberships and returns the
// heap it retains.
func retainedIndex(d *dataset) uint64 {
	users := make([]User, len(d.users))
	for i, u := range d.users {
		users[i] = User{Name: strings.Clone(u.Name), ID: u.ID, Username: strings.Clone(u.Username),
			FirstName: strings.Clone(u.FirstName), LastName: strings.Clone(u.LastName), IsActive: u.IsActive}
	}
	ms := make([]Membership, len(d.memberships))
	for i, m := range d.memberships {
		ms[i] = Membership{Name: strings.Clone(m.Name), Organization: strings.Clone(m.Organization),
			User: strings.Clone(m.User), Role: m.Role, Active: m.Active}
	}
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	ix := NewIndex()
	for _, u := range users {
		ix.UpsertUser(u)
	}
	for o := range 100 {
		ix.UpsertOrganization(Organization{Slug: fmt.Sprintf("org-%d", o), ID: int64(o + 1)})
	}
	for _, m := range ms {
		ix.UpsertMembership(m)
	}
	ix.Snapshot()
	// The inputs go; what the index keeps of them stays.
	users, ms = nil, nil
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(ix)
	_, _ = users, ms
	return after.HeapAlloc - before.HeapAlloc
}

// BenchmarkListFilterRangeActive is an id range and is_active in one JSON
// Logic filter: the id order and the active users' bitset answer it, with no
// predicate run per candidate.
func BenchmarkListFilterRangeActive(b *testing.B) {
	benchList(b, asAdmin, fixed(`page=1&filter={"and":[{"<=":[100,{"var":"id"},5000]},{"==":[{"var":"is_active"},true]}]}`))
}

// organizationsAndMemberships is a new index of the dataset's organizations
// and memberships, without users: what a directory holds when its users'
// list arrives.
func (d *dataset) organizationsAndMemberships() *Index {
	ix := NewIndex()
	for o := range 100 {
		ix.UpsertOrganization(Organization{Slug: fmt.Sprintf("org-%d", o), ID: int64(o + 1)})
	}
	for _, m := range d.memberships {
		ix.UpsertMembership(m)
	}
	return ix
}

// BenchmarkLoad builds an index of n users at once, as a directory loads
// its initial lists (Index.Load), with and without the memberships that
// arrived before them, and one upsert at a time.
func BenchmarkLoad(b *testing.B) {
	for _, n := range benchSizes {
		d := makeDataset(b, n)
		b.Run(fmt.Sprintf("load/users=%d", n), func(b *testing.B) {
			for b.Loop() {
				NewIndex().Load(d.users)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/user")
		})
		// As a directory loads: its organizations and memberships are
		// indexed as they arrive, its users at once after.
		b.Run(fmt.Sprintf("load-with-memberships/users=%d", n), func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				ix := d.organizationsAndMemberships()
				b.StartTimer()
				ix.Load(d.users)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/user")
		})
		// As a directory loads since it readies each user as its list is
		// read: what is left of Load after the last byte.
		b.Run(fmt.Sprintf("load-prepared-with-memberships/users=%d", n), func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				ix := d.organizationsAndMemberships()
				prepared := make([]*Prepared, len(d.users))
				for i, u := range d.users {
					prepared[i] = Prepare(u)
				}
				b.StartTimer()
				ix.LoadPrepared(prepared)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/user")
		})
		b.Run(fmt.Sprintf("upserts/users=%d", n), func(b *testing.B) {
			for b.Loop() {
				ix := NewIndex()
				for _, u := range d.users {
					ix.UpsertUser(u)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/user")
		})
	}
}
