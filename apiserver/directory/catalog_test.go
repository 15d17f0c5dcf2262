package directory

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	. "github.com/onsi/gomega"

	iamv1alpha1 "github.com/roster-dev/roster/api/v1alpha1"
)

// The catalog stays in name order through puts and removes, and a slice a
// reader holds never changes under it.
func TestCatalogKeepsNameOrder(t *testing.T) {
	g := NewWithT(t)
	stored := map[string]*MembershipRecord{}
	c := newCatalog(func() []*MembershipRecord { return slices.Collect(maps.Values(stored)) })
	rnd := rand.New(rand.NewPCG(1, 2))
	want := map[string]int{}
	m := func(name string, v int) *MembershipRecord {
		return &MembershipRecord{Name: name, Spec: iamv1alpha1.MembershipSpec{User: strconv.Itoa(v)}}
	}
	for i := range 2000 {
		name := fmt.Sprintf("org.u%03d", rnd.IntN(300))
		held := c.all()
		heldNames := make([]string, len(held))
		for j, x := range held {
			heldNames[j] = x.Name
		}
		if rnd.IntN(4) == 0 {
			delete(stored, name)
			c.remove(name)
			delete(want, name)
		} else {
			stored[name] = m(name, i)
			c.put(stored[name])
			want[name] = i
		}
		for j, x := range held {
			g.Expect(x.Name).To(Equal(heldNames[j]), "a held slice changed")
		}
		all := c.all()
		g.Expect(all).To(HaveLen(len(want)))
		g.Expect(slices.IsSortedFunc(all, func(a, b *MembershipRecord) int { return byName(a, b.Name) })).To(BeTrue())
		for _, x := range all {
			g.Expect(x.Spec.User).To(Equal(strconv.Itoa(want[x.Name])))
		}
	}
}
