package query

import (
	"math/bits"
	"sort"
)

// pset is a persistent set of user slots, split into containers of 4096
// slots: a sorted array while sparse, a bitmap once dense (the roaring bitmap
// layout). A write copies at most one container of 512 bytes and the
// container directory, so posting lists and organization member sets stay
// cheap to update under snapshots.
type pset struct {
	gen uint64
	n   int
	cs  []*container
}

type container struct {
	gen  uint64
	n    int
	arr  []uint16 // sorted; used while bits == nil
	bits []uint64 // 64 words once the container holds more than arrMax slots
}

const (
	containerShift = 12
	containerSize  = 1 << containerShift
	containerWords = containerSize / 64
	// An array of arrMax uint16 takes as many bytes as the bitmap.
	arrMax = containerSize / 16
	arrMin = arrMax / 2
)

func (s *pset) len() int {
	if s == nil {
		return 0
	}
	return s.n
}

func (s *pset) has(x uint32) bool {
	if s == nil {
		return false
	}
	ci := int(x >> containerShift)
	if ci >= len(s.cs) || s.cs[ci] == nil {
		return false
	}
	return s.cs[ci].has(uint16(x & (containerSize - 1)))
}

func (c *container) has(lo uint16) bool {
	if c.bits != nil {
		return c.bits[lo>>6]&(1<<(lo&63)) != 0
	}
	i := sort.Search(len(c.arr), func(i int) bool { return c.arr[i] >= lo })
	return i < len(c.arr) && c.arr[i] == lo
}

func (s *pset) own(gen uint64) *pset {
	if s == nil {
		return &pset{gen: gen}
	}
	if s.gen == gen {
		return s
	}
	c := &pset{gen: gen, n: s.n, cs: make([]*container, len(s.cs))}
	copy(c.cs, s.cs)
	return c
}

func (c *container) own(gen uint64) *container {
	if c.gen == gen {
		return c
	}
	d := &container{gen: gen, n: c.n}
	if c.bits != nil {
		d.bits = make([]uint64, containerWords)
		copy(d.bits, c.bits)
	} else {
		d.arr = make([]uint16, len(c.arr), len(c.arr)+1)
		copy(d.arr, c.arr)
	}
	return d
}

// add returns the set with x in it (the same set if x was there).
func (s *pset) add(gen uint64, x uint32) *pset {
	if s.has(x) {
		return s
	}
	s = s.own(gen)
	ci := int(x >> containerShift)
	for len(s.cs) <= ci {
		s.cs = append(s.cs, nil)
	}
	c := s.cs[ci]
	if c == nil {
		c = &container{gen: gen}
	} else {
		c = c.own(gen)
	}
	s.cs[ci] = c
	lo := uint16(x & (containerSize - 1))
	if c.bits != nil {
		c.bits[lo>>6] |= 1 << (lo & 63)
	} else {
		i := sort.Search(len(c.arr), func(i int) bool { return c.arr[i] >= lo })
		c.arr = append(c.arr, 0)
		copy(c.arr[i+1:], c.arr[i:])
		c.arr[i] = lo
		if len(c.arr) > arrMax {
			c.bits = make([]uint64, containerWords)
			for _, v := range c.arr {
				c.bits[v>>6] |= 1 << (v & 63)
			}
			c.arr = nil
		}
	}
	c.n++
	s.n++
	return s
}

// remove returns the set without x.
func (s *pset) remove(gen uint64, x uint32) *pset {
	if !s.has(x) {
		return s
	}
	s = s.own(gen)
	ci := int(x >> containerShift)
	c := s.cs[ci].own(gen)
	lo := uint16(x & (containerSize - 1))
	c.n--
	s.n--
	if c.n == 0 {
		s.cs[ci] = nil
		for len(s.cs) > 0 && s.cs[len(s.cs)-1] == nil {
			s.cs = s.cs[:len(s.cs)-1]
		}
		return s
	}
	s.cs[ci] = c
	if c.bits != nil {
		c.bits[lo>>6] &^= 1 << (lo & 63)
		if c.n < arrMin {
			arr := make([]uint16, 0, c.n+1)
			for w, word := range c.bits {
				for word != 0 {
					arr = append(arr, uint16(w*64+bits.TrailingZeros64(word)))
					word &= word - 1
				}
			}
			c.arr, c.bits = arr, nil
		}
	} else {
		i := sort.Search(len(c.arr), func(i int) bool { return c.arr[i] >= lo })
		c.arr = append(c.arr[:i], c.arr[i+1:]...)
	}
	return s
}

// orInto sets the bits of s in dst.
func (s *pset) orInto(dst bitset) {
	if s == nil {
		return
	}
	for ci, c := range s.cs {
		if c == nil {
			continue
		}
		base := ci * containerWords
		if c.bits != nil {
			for w, word := range c.bits {
				if base+w < len(dst) {
					dst[base+w] |= word
				}
			}
			continue
		}
		for _, v := range c.arr {
			x := ci<<containerShift | int(v)
			if x>>6 < len(dst) {
				dst[x>>6] |= 1 << (x & 63)
			}
		}
	}
}

// andInto clears in dst every bit that is not in s.
func (s *pset) andInto(dst bitset) { s.andIntoWords(dst, 0, len(dst)) }

// andIntoWords is andInto for the words [lo, hi) of dst, the others being
// zero already.
func (s *pset) andIntoWords(dst bitset, lo, hi int) {
	if s == nil {
		clear(dst[lo:hi])
		return
	}
	for ci := lo / containerWords; ci*containerWords < hi; ci++ {
		base := ci * containerWords
		end := min(base+containerWords, hi)

		var c *container
		if ci < len(s.cs) {
			c = s.cs[ci]
		}
		from := max(base, lo)
		switch {
		case c == nil:
			clear(dst[from:end])
		case c.bits != nil:
			for w := from; w < end; w++ {
				dst[w] &= c.bits[w-base]
			}
		default:
			var keep [containerWords]uint64
			for _, v := range c.arr {
				keep[v>>6] |= 1 << (v & 63)
			}
			for w := from; w < end; w++ {
				dst[w] &= keep[w-base]
			}
		}
	}
}

// bitset is a flat, mutable set of slots used while answering one request.
type bitset []uint64

func newBitset(slots int) bitset { return make(bitset, (slots+63)/64) }

func (b bitset) has(x uint32) bool {
	w := int(x >> 6)
	return w < len(b) && b[w]&(1<<(x&63)) != 0
}

func (b bitset) set(x uint32) { b[x>>6] |= 1 << (x & 63) }

func (b bitset) and(o bitset) {
	for i := range b {
		if i < len(o) {
			b[i] &= o[i]
		} else {
			b[i] = 0
		}
	}
}

func (b bitset) count() int {
	n := 0
	for _, w := range b {
		n += bits.OnesCount64(w)
	}
	return n
}

// each calls fn for every slot in ascending order until fn returns false.
func (b bitset) each(fn func(uint32) bool) {
	for i, w := range b {
		for w != 0 {
			if !fn(uint32(i*64 + bits.TrailingZeros64(w))) {
				return
			}
			w &= w - 1
		}
	}
}
