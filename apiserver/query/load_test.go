package query

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// A load sorts its orders on keys (the start of each string, the id); each
// order must be compareTotal's, also where strings share their first eight
// bytes, end in zero bytes, or are empty, and where ids repeat.
func TestLoadOrdersAreCompareTotal(t *testing.T) {
	rnd := rand.New(rand.NewPCG(7, 11))
	pieces := []string{"", "a", "b", "\x00", "ab", "abcdefgh", "abcdefg", "abcdefgh\x00", "abcdefghi", "Zed", "é"}
	str := func() string {
		s := ""
		for range rnd.IntN(4) {
			s += pieces[rnd.IntN(len(pieces))]
		}
		return s
	}
	for round := range 20 {
		recs := make([]*userRec, 200+round*50)
		for i := range recs {
			recs[i] = &userRec{User: User{
				Name: fmt.Sprintf("u%d-%d", rnd.IntN(100), i), ID: int64(rnd.IntN(20)),
				Username: str(), FirstName: str(), LastName: str(), IsActive: rnd.IntN(3) > 0,
			}, slot: uint32(i)}
		}
		want := func(f field) []uint32 {
			order := make([]uint32, len(recs))
			for i := range order {
				order[i] = uint32(i)
			}
			slices.SortFunc(order, func(a, b uint32) int { return f.compareTotal(recs[a], recs[b]) })
			return order
		}
		for _, f := range []field{fieldUsername, fieldFirstName, fieldLastName} {
			if got := sortedByString(f, recs); !slices.Equal(got, want(f)) {
				t.Fatalf("round %d: the %s order differs from compareTotal's", round, fieldNames[f])
			}
		}
		byID := sortedByID(recs)
		if !slices.Equal(byID, want(fieldID)) {
			t.Fatalf("round %d: the id order differs from compareTotal's", round)
		}
		if !slices.Equal(byActive(byID, recs), want(fieldIsActive)) {
			t.Fatalf("round %d: the is_active order differs from compareTotal's", round)
		}
	}
}
