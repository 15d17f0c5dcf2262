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

// An organization's part of the catalog holds every one of its memberships
// (and may hold those of an organization whose slug begins with its own
// and a dot); once a membership is not named <organization>.<user>, it is
// the whole catalog.
func TestCatalogOrganizationPart(t *testing.T) {
	g := NewWithT(t)
	stored := map[string]*MembershipRecord{}
	c := newCatalog(func() []*MembershipRecord { return slices.Collect(maps.Values(stored)) })
	put := func(name, org, user string) {
		stored[name] = &MembershipRecord{Name: name, Spec: iamv1alpha1.MembershipSpec{Organization: org, User: user}}
		c.put(stored[name])
	}
	names := func(ms []*MembershipRecord) []string {
		out := []string{}
		for _, m := range ms {
			out = append(out, m.Name)
		}
		return out
	}
	for _, m := range [][2]string{{"acme", "alice"}, {"acme", "bob"}, {"acme.corp", "carol"}, {"acmex", "dave"}, {"ac", "me.erin"}, {"zeta", "acme"}} {
		put(m[0]+"."+m[1], m[0], m[1])
	}
	g.Expect(c.all()).To(HaveLen(6), "built from the source")
	put("acme.frank", "acme", "frank")
	g.Expect(names(c.org("acme"))).To(Equal([]string{"acme.alice", "acme.bob", "acme.corp.carol", "acme.frank"}))
	g.Expect(names(c.org("acme.corp"))).To(Equal([]string{"acme.corp.carol"}))
	g.Expect(names(c.org("ac"))).To(Equal([]string{"ac.me.erin"}))
	g.Expect(names(c.org("nosuch"))).To(BeEmpty())

	put("weird", "acme", "grace")
	g.Expect(names(c.org("acme"))).To(HaveLen(8), "a misnamed membership: the whole catalog")
	delete(stored, "weird")
	c.remove("weird")
	g.Expect(names(c.org("acme"))).To(HaveLen(4))
	// Replaced by a misnamed one, and back.
	put("acme.bob", "acme", "robert")
	g.Expect(c.org("zeta")).To(HaveLen(7))
	put("acme.bob", "acme", "bob")
	g.Expect(names(c.org("zeta"))).To(Equal([]string{"zeta.acme"}))

	// A catalog built again from its source counts anew.
	put("weird", "acme", "grace")
	c2 := newCatalog(func() []*MembershipRecord { return slices.Collect(maps.Values(stored)) })
	g.Expect(c2.org("zeta")).To(HaveLen(8))
}

// Changes between two reads, however many, leave the catalog what the
// store holds, in name order, with its misnamed memberships counted.
func TestCatalogMergesChanges(t *testing.T) {
	g := NewWithT(t)
	stored := map[string]*MembershipRecord{}
	c := newCatalog(func() []*MembershipRecord { return slices.Collect(maps.Values(stored)) })
	rnd := rand.New(rand.NewPCG(3, 4))
	for i := range 3000 {
		org, user := fmt.Sprintf("o%d", rnd.IntN(5)), fmt.Sprintf("u%02d", rnd.IntN(60))
		name := org + "." + user
		switch rnd.IntN(5) {
		case 0:
			delete(stored, name)
			c.remove(name)
		case 1:
			// Misnamed: another user than the name says.
			stored[name] = &MembershipRecord{Name: name, Spec: iamv1alpha1.MembershipSpec{Organization: org, User: "x" + user}}
			c.put(stored[name])
		default:
			stored[name] = &MembershipRecord{Name: name, Spec: iamv1alpha1.MembershipSpec{Organization: org, User: user, InvitedBy: strconv.Itoa(i)}}
			c.put(stored[name])
		}
		if rnd.IntN(8) > 0 {
			continue
		}
		want := slices.SortedFunc(maps.Values(stored), func(a, b *MembershipRecord) int { return byName(a, b.Name) })
		g.Expect(c.all()).To(Equal(want))
		misnamed := 0
		for _, m := range want {
			if !wellNamed(m) {
				misnamed++
			}
		}
		g.Expect(c.misnamed).To(Equal(misnamed))
	}
}
