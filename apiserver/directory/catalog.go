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
	source func() []*MembershipRecord
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
		c.sorted = slices.Concat(c.sorted[:i], c.sorted[i+1:])
	}
}

func byName(m *MembershipRecord, name string) int { return strings.Compare(m.Name, name) }

// all returns every membership in name order. The slice is shared: do not
// change it.
func (c *catalog) all() []*MembershipRecord {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sorted == nil {
		c.sorted = c.source()
		slices.SortFunc(c.sorted, func(a, b *MembershipRecord) int { return strings.Compare(a.Name, b.Name) })
	}
	return c.sorted
}

// SortedMemberships returns the record of every membership the cache holds,
// in name order. The slice and the records are shared: read them, never
// change them.
func (d *Directory) SortedMemberships() []*MembershipRecord {
	return d.catalog.all()
}
