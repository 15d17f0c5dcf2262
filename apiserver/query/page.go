package query

import (
	"cmp"
	"math/bits"
	"slices"
)

// compareBy is the order of a list: the sort keys, then ascending id, then
// ascending name (names are unique, so no two users tie).
func compareBy(keys []sortKey, a, b *userRec) int {
	for _, k := range keys {
		c := k.f.compare(a, b)
		if k.desc {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	if c := cmp.Compare(a.ID, b.ID); c != 0 {
		return c
	}
	return cmp.Compare(a.Name, b.Name)
}

// window returns the slots at positions [off, off+limit) of the matching
// users m (nil: all users, count of them) sorted by keys; sp is the span of
// the first key's order that holds them all.
func (s *Snapshot) window(m bitset, count int, keys []sortKey, sp span, off, limit int) []uint32 {
	if off >= count || limit <= 0 {
		return nil
	}
	want := min(limit, count-off)
	if m != nil && sortIsCheaper(sp.hi-sp.lo, count, off+want) {
		return s.sortWindow(m, count, keys, off, want)
	}
	return s.walk(m, keys, sp, off, want)
}

// sortIsCheaper weighs sorting the count matching users against walking an
// order until reach of them have passed, where one step of the walk (a bit
// test) is about a tenth of one comparison of the sort.
func sortIsCheaper(n, count, reach int) bool {
	walk := n
	if count > 0 && reach < count {
		walk = int(min(int64(n), int64(reach)*int64(n)/int64(count)+64))
	}
	sortCost := count * (bits.Len(uint(count)) + 1) * 10
	return sortCost < walk
}

func (s *Snapshot) sortWindow(m bitset, count int, keys []sortKey, off, want int) []uint32 {
	recs := make([]*userRec, 0, count)
	m.each(func(slot uint32) bool {
		recs = append(recs, s.rec(slot))
		return true
	})
	slices.SortFunc(recs, func(a, b *userRec) int { return compareBy(keys, a, b) })
	out := make([]uint32, want)
	for i := range out {
		out[i] = recs[off+i].slot
	}
	return out
}

// walk reads the window off the order of the first sort key. The order is
// (key, id, name) ascending; a descending key or further keys reorder only
// within runs of equal first keys ("groups"), so the walk visits groups in
// the key's direction and sorts each group it emits, stopping as soon as the
// window is full.
func (s *Snapshot) walk(m bitset, keys []sortKey, sp span, off, want int) []uint32 {
	first, rest := keys[0], keys[1:]
	l := s.st.orders[first.f]
	in := func(slot uint32) bool { return m == nil || m.has(slot) }
	out := make([]uint32, 0, want)
	if sp.lo >= sp.hi {
		return out
	}
	if !first.desc && len(rest) == 0 {
		skip := off
		start := sp.lo
		if m == nil {
			start, skip = off, 0
		}
		l.each(start, 1, func(p int, slot uint32) bool {
			if p >= sp.hi {
				return false
			}
			if !in(slot) {
				return true
			}
			if skip > 0 {
				skip--
				return true
			}
			out = append(out, slot)
			return len(out) < want
		})
		return out
	}
	dir, start := 1, sp.lo
	if first.desc {
		dir, start = -1, sp.hi-1
	}
	// Find the off-th matching user in walk order and its group.
	p0 := -1
	if m == nil {
		if off < sp.hi-sp.lo {
			p0 = start + dir*off
		}
	} else {
		k := off
		l.each(start, dir, func(p int, slot uint32) bool {
			if p < sp.lo || p >= sp.hi {
				return false
			}
			if in(slot) {
				if k == 0 {
					p0 = p
					return false
				}
				k--
			}
			return true
		})
	}
	if p0 < 0 {
		return out
	}
	g, h := s.groupStart(l, first.f, p0), s.groupEnd(l, first.f, p0)
	// However the group is emitted, as many of its members as the walk
	// passed before reaching p0 precede the window: skip that many.
	skip := 0
	from, to := g, p0-1
	if dir < 0 {
		from, to = p0+1, h
	}
	if m == nil {
		skip = max(to-from+1, 0)
	} else if from <= to {
		l.each(from, 1, func(p int, slot uint32) bool {
			if p > to {
				return false
			}
			if in(slot) {
				skip++
			}
			return true
		})
	}
	var group []uint32
	for {
		// Collect the group's members in (id, name) order; without further
		// keys that is already their final order, so stop once enough.
		need := skip + want - len(out)
		group = group[:0]
		l.each(g, 1, func(p int, slot uint32) bool {
			if p > h {
				return false
			}
			if in(slot) {
				group = append(group, slot)
			}
			return len(rest) > 0 || len(group) < need
		})
		if len(rest) > 0 && len(group) > bigGroup && skip < len(group) {
			// A large group (say, every active user) is read off the next
			// key's order instead of being sorted whole.
			gm := s.newBitset()
			for _, slot := range group {
				gm.set(slot)
			}
			l2 := s.st.orders[rest[0].f]
			out = append(out, s.window(gm, len(group), rest, span{0, l2.len()}, skip, want-len(out))...)
			group = group[:0]
		} else if len(rest) > 0 {
			slices.SortFunc(group, func(a, b uint32) int { return compareBy(rest, s.rec(a), s.rec(b)) })
		}
		if len(out) == want {
			return out
		}
		for _, slot := range group[min(skip, len(group)):] {
			out = append(out, slot)
			if len(out) == want {
				return out
			}
		}
		skip = 0
		// The next group holds the next member in walk order.
		q := -1
		next := h + 1
		if dir < 0 {
			next = g - 1
		}
		l.each(next, dir, func(p int, slot uint32) bool {
			if p < sp.lo || p >= sp.hi {
				return false
			}
			if in(slot) {
				q = p
				return false
			}
			return true
		})
		if q < 0 {
			return out
		}
		// Non-members between the previous group and q need no visit.
		if dir > 0 {
			g, h = q, s.groupEnd(l, first.f, q)
		} else {
			g, h = s.groupStart(l, first.f, q), q
		}
	}
}

// bigGroup is the group size above which walking the next key's order beats
// sorting the group.
const bigGroup = 2048

// groupStart returns the first position whose first key equals position p's.
func (s *Snapshot) groupStart(l *orderList, f field, p int) int {
	k := s.rec(l.at(p))
	if p == 0 || f.compare(s.rec(l.at(p-1)), k) != 0 {
		return p
	}
	return l.search(func(slot uint32) bool { return f.compare(s.rec(slot), k) >= 0 })
}

// groupEnd returns the last position whose first key equals position p's.
func (s *Snapshot) groupEnd(l *orderList, f field, p int) int {
	k := s.rec(l.at(p))
	if p == l.len()-1 || f.compare(s.rec(l.at(p+1)), k) != 0 {
		return p
	}
	return l.search(func(slot uint32) bool { return f.compare(s.rec(slot), k) > 0 }) - 1
}
