package directory

import (
	"maps"
	"slices"
	"strings"
	"sync"
)

// catalog keeps the memberships in name order, so that a page of
// memberships costs a scan of pointers rather than a copy and a sort of every
// membership. The records are the store's own, which it replaces rather than
// changes: read them, never change them.
type catalog struct {
	mu sync.Mutex
	// sorted is every membership in name order as of the last read, built
	// from source on the first read after a list. Readers hold it, so it
	// never changes: the first read after changes merges them into a new
	// one. Copying it on every change cost 0.7 ms and 800 KB at 100,000
	// memberships (BenchmarkCatalogPut).
	sorted []*MembershipRecord
	// changes holds what changed since: a name's new record, or nil for a
	// removed one.
	changes map[string]*MembershipRecord
	// misnamed counts the memberships, changes included, whose name is not
	// their organization's and their user's, <organization>.<user>, as the
	// API server requires.
	misnamed int
	source   func() []*MembershipRecord
}

func newCatalog(source func() []*MembershipRecord) *catalog {
	return &catalog{source: source}
}

// put adds or replaces m once the store holds it.
func (c *catalog) put(m *MembershipRecord) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sorted == nil {
		return
	}
	if old := c.current(m.Name); old != nil && !wellNamed(old) {
		c.misnamed--
	}
	if !wellNamed(m) {
		c.misnamed++
	}
	c.change(m.Name, m)
}

// remove drops the membership named name once the store no longer holds it.
func (c *catalog) remove(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sorted == nil {
		return
	}
	old := c.current(name)
	if old == nil {
		return
	}
	if !wellNamed(old) {
		c.misnamed--
	}
	c.change(name, nil)
}

func (c *catalog) change(name string, m *MembershipRecord) {
	if c.changes == nil {
		c.changes = map[string]*MembershipRecord{}
	}
	c.changes[name] = m
}

// current is the membership named name, changes included; nil for none.
func (c *catalog) current(name string) *MembershipRecord {
	if m, ok := c.changes[name]; ok {
		return m
	}
	if i, found := slices.BinarySearchFunc(c.sorted, name, byName); found {
		return c.sorted[i]
	}
	return nil
}

// merged is sorted with changes applied, a new slice.
func merged(sorted []*MembershipRecord, changes map[string]*MembershipRecord) []*MembershipRecord {
	out := make([]*MembershipRecord, 0, len(sorted)+len(changes))
	i := 0
	for _, name := range slices.Sorted(maps.Keys(changes)) {
		// The records before the change's name are copied as a run.
		j, found := slices.BinarySearchFunc(sorted[i:], name, byName)
		out = append(out, sorted[i:i+j]...)
		i += j
		if found {
			i++
		}
		if m := changes[name]; m != nil {
			out = append(out, m)
		}
	}
	return append(out, sorted[i:]...)
}

func byName(m *MembershipRecord, name string) int { return strings.Compare(m.Name, name) }

// all returns every membership in name order. The slice is shared: do not
// change it.
func (c *catalog) all() []*MembershipRecord {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.load()
}

// load builds the sorted slice when it is not built, and applies the
// changes since the last read; c.mu is held.
func (c *catalog) load() []*MembershipRecord {
	if c.sorted != nil && len(c.changes) > 0 {
		c.sorted, c.changes = merged(c.sorted, c.changes), nil
	}
	if c.sorted == nil {
		c.sorted = c.source()
		slices.SortFunc(c.sorted, func(a, b *MembershipRecord) int { return strings.Compare(a.Name, b.Name) })
		c.misnamed = 0
		for _, m := range c.sorted {
			if !wellNamed(m) {
				c.misnamed++
			}
		}
	}
	return c.sorted
}

// org returns, in name order, the part of the catalog that holds every
// membership of the organization slug: the names that begin with the slug
// and a dot, or every membership while one is not named
// <organization>.<user>. It may hold memberships of another organization
// whose slug begins with slug and a dot: check each one's organization.
// The slice is shared: do not change it.
func (c *catalog) org(slug string) []*MembershipRecord {
	c.mu.Lock()
	defer c.mu.Unlock()
	all := c.load()
	if c.misnamed > 0 {
		return all
	}
	// '/' follows '.': the names from slug+"." up to slug+"/" are those
	// that begin with slug+".".
	lo, _ := slices.BinarySearchFunc(all, slug+".", byName)
	hi, _ := slices.BinarySearchFunc(all, slug+"/", byName)
	return all[lo:hi]
}

// wellNamed reports whether m is named <organization>.<user>.
func wellNamed(m *MembershipRecord) bool {
	org, user, name := m.Spec.Organization, m.Spec.User, m.Name
	return len(name) == len(org)+1+len(user) && name[:len(org)] == org && name[len(org)] == '.' && name[len(org)+1:] == user
}

// SortedMemberships returns the record of every membership the cache holds,
// in name order. The slice and the records are shared: read them, never
// change them.
func (d *Directory) SortedMemberships() []*MembershipRecord {
	return d.catalog.all()
}

// OrganizationMemberships returns, in name order, a part of
// SortedMemberships that holds every membership of the organization slug,
// and possibly memberships of other organizations: check each one's
// organization. The slice and the records are shared: read them, never
// change them.
func (d *Directory) OrganizationMemberships(slug string) []*MembershipRecord {
	return d.catalog.org(slug)
}
