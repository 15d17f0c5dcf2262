package directory

import (
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
	// sorted is every membership in name order, built from source on the
	// first read after a list.
	sorted []*MembershipRecord
	// misnamed counts the memberships in sorted whose name is not their
	// organization's and their user's, <organization>.<user>, as the API
	// server requires.
	misnamed int
	source   func() []*MembershipRecord
}

func newCatalog(source func() []*MembershipRecord) *catalog {
	return &catalog{source: source}
}

// put adds or replaces m once the store holds it. Readers may hold the
// sorted slice, so a change makes a new one: a copy with m in its place,
// never a new sort.
func (c *catalog) put(m *MembershipRecord) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sorted == nil {
		return
	}
	i, found := slices.BinarySearchFunc(c.sorted, m.Name, byName)
	if found && !wellNamed(c.sorted[i]) {
		c.misnamed--
	}
	if !wellNamed(m) {
		c.misnamed++
	}
	next := make([]*MembershipRecord, 0, len(c.sorted)+1)
	next = append(next, c.sorted[:i]...)
	next = append(next, m)
	if found {
		i++
	}
	c.sorted = append(next, c.sorted[i:]...)
}

// remove drops the membership named name once the store no longer holds it.
func (c *catalog) remove(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sorted == nil {
		return
	}
	if i, found := slices.BinarySearchFunc(c.sorted, name, byName); found {
		if !wellNamed(c.sorted[i]) {
			c.misnamed--
		}
		c.sorted = slices.Concat(c.sorted[:i], c.sorted[i+1:])
	}
}

func byName(m *MembershipRecord, name string) int { return strings.Compare(m.Name, name) }

// all returns every membership in name order. The slice is shared: do not
// change it.
func (c *catalog) all() []*MembershipRecord {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.load()
}

// load builds the sorted slice when it is not built; c.mu is held.
func (c *catalog) load() []*MembershipRecord {
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
