package query

import (
	"math/rand/v2"
	"testing"
)

// TestHamtAgainstMap applies random sets and deletes to a hamt and a Go map
// side by side, taking a snapshot every few writes, and checks that every
// snapshot still holds exactly what the map held when it was taken.
func TestHamtAgainstMap(t *testing.T) {
	rnd := rand.New(rand.NewPCG(7, 11))
	type version struct {
		m    hamt[int, int]
		want map[int]int
	}
	var (
		m        hamt[int, int]
		want     = map[int]int{}
		versions []version
		gen      uint64 = 1
	)
	check := func(v version) {
		t.Helper()
		if v.m.n != len(v.want) {
			t.Fatalf("len %d, want %d", v.m.n, len(v.want))
		}
		for k, x := range v.want {
			if got, ok := v.m.get(k); !ok || got != x {
				t.Fatalf("get(%d) = %d, %v; want %d", k, got, ok, x)
			}
		}
		seen := 0
		v.m.each(func(k, x int) bool {
			seen++
			if v.want[k] != x {
				t.Fatalf("each gave %d=%d, want %d", k, x, v.want[k])
			}
			return true
		})
		if seen != len(v.want) {
			t.Fatalf("each visited %d entries, want %d", seen, len(v.want))
		}
	}
	for i := range 200_000 {
		// A key space that grows and shrinks, so nodes split and empty.
		k := rnd.IntN(20_000)
		if rnd.IntN(3) == 0 {
			m = m.del(gen, k)
			delete(want, k)
		} else {
			m = m.set(gen, k, i)
			want[k] = i
		}
		if _, ok := m.get(k + 20_000); ok {
			t.Fatalf("found a key never set: %d", k+20_000)
		}
		if i%5_000 == 0 {
			snap := make(map[int]int, len(want))
			for k, x := range want {
				snap[k] = x
			}
			versions = append(versions, version{m, snap})
			gen++
		}
	}
	check(version{m, want})
	for _, v := range versions {
		check(v)
	}
	// Emptying the map leaves no nodes behind.
	for k := range want {
		m = m.del(gen, k)
	}
	if m.root != nil || m.n != 0 {
		t.Fatalf("an emptied map keeps %d entries and root %v", m.n, m.root)
	}
}

// TestRecordFolds builds records of every mix of fields that fold to
// themselves and fields that do not, and wants each field's fold back,
// with only the fields that change kept a second time.
func TestRecordFolds(t *testing.T) {
	values := []string{"", "ana", "Ana", "ΣΊΣΥΦΟΣ", "σίσυφος", "bad \xff", "K\u212a", "o'brien-smith"}
	for _, username := range values {
		for _, first := range values {
			for _, last := range values {
				r := newRec(User{Name: "n", Username: username, FirstName: first, LastName: last}, 0)
				want := [3]string{fold(username), fold(first), fold(last)}
				if got := r.fold(); got != want {
					t.Fatalf("%q %q %q: folds %q, want %q", username, first, last, got, want)
				}
				kept := 0
				for _, f := range []string{username, first, last} {
					if fold(f) != f {
						kept += len(fold(f))
					}
				}
				if len(r.folds) != kept {
					t.Errorf("%q %q %q: keeps %d bytes of folds, want %d", username, first, last, len(r.folds), kept)
				}
			}
		}
	}
}
