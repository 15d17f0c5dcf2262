package directory

import (
	"fmt"
	"testing"

	iamv1alpha1 "github.com/roster-dev/roster/api/v1alpha1"
)

// BenchmarkCatalogPut changes one membership of a catalog of n, as every
// membership event does once the catalog has been read (put), and changes
// one then reads the catalog, as a list of memberships after each change
// would (put-read).
func BenchmarkCatalogPut(b *testing.B) {
	for _, n := range []int{1000, 10000, 100000} {
		for _, read := range []bool{false, true} {
			name := fmt.Sprintf("memberships=%d/put", n)
			if read {
				name += "-read"
			}
			b.Run(name, func(b *testing.B) { benchCatalogPut(b, n, read) })
		}
	}
}

func benchCatalogPut(b *testing.B, n int, read bool) {
	recs := make([]*MembershipRecord, n)
	for i := range recs {
		org, user := fmt.Sprintf("org-%03d", i%100), fmt.Sprintf("user-%06d", i)
		recs[i] = &MembershipRecord{Name: org + "." + user, Spec: iamv1alpha1.MembershipSpec{Organization: org, User: user}}
	}
	c := newCatalog(func() []*MembershipRecord { return append([]*MembershipRecord(nil), recs...) })
	c.all()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		c.put(recs[i%n])
		if read {
			c.all()
		}
		i += 7919
	}
}
