package directory

import (
	"slices"
	"strings"
	"sync"

	iamv1alpha1 "github.com/roster-dev/roster/api/v1alpha1"
)

// catalog holds the cache's memberships in name order, so that a page of
// memberships costs a scan of pointers rather than a copy and a sort of every
// membership. The objects are the informer's own, which it replaces rather
// than changes: read them, never change them.
type catalog struct {
	mu     sync.Mutex
	byName map[string]*iamv1alpha1.Membership
	// sorted is byName in name order, rebuilt on the first read after a change.
	sorted []*iamv1alpha1.Membership
}

func newCatalog() *catalog {
	return &catalog{byName: map[string]*iamv1alpha1.Membership{}}
}

func (c *catalog) put(m *iamv1alpha1.Membership) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.byName[m.Name] = m
	c.sorted = nil
}

func (c *catalog) remove(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.byName, name)
	c.sorted = nil
}

// all returns every membership in name order. The slice is shared: do not
// change it.
func (c *catalog) all() []*iamv1alpha1.Membership {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sorted == nil {
		c.sorted = make([]*iamv1alpha1.Membership, 0, len(c.byName))
		for _, m := range c.byName {
			c.sorted = append(c.sorted, m)
		}
		slices.SortFunc(c.sorted, func(a, b *iamv1alpha1.Membership) int { return strings.Compare(a.Name, b.Name) })
	}
	return c.sorted
}

// SortedMemberships returns every membership the cache holds, in name order.
// The slice and the objects are shared: read them, never change them.
func (d *Directory) SortedMemberships() []*iamv1alpha1.Membership {
	return d.catalog.all()
}
