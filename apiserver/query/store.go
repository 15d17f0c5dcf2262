package query

import "sort"

// recVec maps a user slot to its record. Chunks are copied on write, so a
// write copies 2 KiB plus the chunk directory.
type recVec struct {
	gen    uint64
	chunks []*recChunk
}

const (
	vecShift = 8
	vecSize  = 1 << vecShift
)

type recChunk struct {
	gen  uint64
	recs [vecSize]*userRec
}

func (v *recVec) get(slot uint32) *userRec {
	ci := int(slot >> vecShift)
	if v == nil || ci >= len(v.chunks) || v.chunks[ci] == nil {
		return nil
	}
	return v.chunks[ci].recs[slot&(vecSize-1)]
}

func (v *recVec) set(gen uint64, slot uint32, r *userRec) *recVec {
	if v == nil {
		v = &recVec{gen: gen}
	} else if v.gen != gen {
		c := &recVec{gen: gen, chunks: make([]*recChunk, len(v.chunks), len(v.chunks)+1)}
		copy(c.chunks, v.chunks)
		v = c
	}
	ci := int(slot >> vecShift)
	for len(v.chunks) <= ci {
		v.chunks = append(v.chunks, nil)
	}
	ch := v.chunks[ci]
	switch {
	case ch == nil:
		ch = &recChunk{gen: gen}
	case ch.gen != gen:
		cp := *ch
		cp.gen = gen
		ch = &cp
	}
	ch.recs[slot&(vecSize-1)] = r
	v.chunks[ci] = ch
	return v
}

// orderList is a persistent sequence of slots kept sorted by one sort key
// (then id, then name), cut into chunks of at most orderChunkMax slots. A
// write copies one chunk and the chunk directory: O(sqrt n) bytes, never the
// whole order.
type orderList struct {
	gen    uint64
	chunks []*orderChunk
	starts []int // starts[i] is the position of chunks[i].slots[0]
	n      int
}

type orderChunk struct {
	gen   uint64
	slots []uint32
}

const orderChunkMax = 512

func (l *orderList) len() int {
	if l == nil {
		return 0
	}
	return l.n
}

func (l *orderList) own(gen uint64) *orderList {
	if l == nil {
		return &orderList{gen: gen}
	}
	if l.gen == gen {
		return l
	}
	c := &orderList{gen: gen, n: l.n,
		chunks: make([]*orderChunk, len(l.chunks), len(l.chunks)+1),
		starts: make([]int, len(l.starts), len(l.starts)+1)}
	copy(c.chunks, l.chunks)
	copy(c.starts, l.starts)
	return c
}

func (c *orderChunk) own(gen uint64) *orderChunk {
	if c.gen == gen {
		return c
	}
	d := &orderChunk{gen: gen, slots: make([]uint32, len(c.slots), orderChunkMax+1)}
	copy(d.slots, c.slots)
	return d
}

// locate returns the chunk and offset of position pos (0 <= pos < n).
func (l *orderList) locate(pos int) (int, int) {
	ci := sort.Search(len(l.starts), func(i int) bool { return l.starts[i] > pos }) - 1
	return ci, pos - l.starts[ci]
}

func (l *orderList) at(pos int) uint32 {
	ci, off := l.locate(pos)
	return l.chunks[ci].slots[off]
}

// search returns the first position whose slot satisfies pred, which must be
// false then true along the order; n when there is none.
func (l *orderList) search(pred func(uint32) bool) int {
	if l == nil || l.n == 0 {
		return 0
	}
	ci := sort.Search(len(l.chunks), func(i int) bool {
		s := l.chunks[i].slots
		return pred(s[len(s)-1])
	})
	if ci == len(l.chunks) {
		return l.n
	}
	s := l.chunks[ci].slots
	return l.starts[ci] + sort.Search(len(s), func(i int) bool { return pred(s[i]) })
}

func (l *orderList) insert(gen uint64, pos int, slot uint32) *orderList {
	l = l.own(gen)
	if len(l.chunks) == 0 {
		l.chunks = append(l.chunks, &orderChunk{gen: gen, slots: make([]uint32, 0, orderChunkMax+1)})
		l.starts = append(l.starts, 0)
	}
	var ci, off int
	if pos == l.n {
		ci = len(l.chunks) - 1
		off = len(l.chunks[ci].slots)
	} else {
		ci, off = l.locate(pos)
	}
	c := l.chunks[ci].own(gen)
	l.chunks[ci] = c
	c.slots = append(c.slots, 0)
	copy(c.slots[off+1:], c.slots[off:])
	c.slots[off] = slot
	l.n++
	if len(c.slots) > orderChunkMax {
		half := len(c.slots) / 2
		right := &orderChunk{gen: gen, slots: make([]uint32, len(c.slots)-half, orderChunkMax+1)}
		copy(right.slots, c.slots[half:])
		c.slots = c.slots[:half]
		l.chunks = append(l.chunks, nil)
		copy(l.chunks[ci+2:], l.chunks[ci+1:])
		l.chunks[ci+1] = right
		l.starts = append(l.starts, 0)
	}
	l.restart(ci)
	return l
}

func (l *orderList) remove(gen uint64, pos int) *orderList {
	l = l.own(gen)
	ci, off := l.locate(pos)
	c := l.chunks[ci].own(gen)
	l.chunks[ci] = c
	c.slots = append(c.slots[:off], c.slots[off+1:]...)
	l.n--
	switch {
	case len(c.slots) == 0:
		l.chunks = append(l.chunks[:ci], l.chunks[ci+1:]...)
		l.starts = l.starts[:len(l.chunks)]
	case len(c.slots) < orderChunkMax/4 && ci+1 < len(l.chunks) &&
		len(c.slots)+len(l.chunks[ci+1].slots) <= orderChunkMax/2:
		// Merge small neighbours so deletions cannot leave a long directory.
		c.slots = append(c.slots, l.chunks[ci+1].slots...)
		l.chunks = append(l.chunks[:ci+1], l.chunks[ci+2:]...)
		l.starts = l.starts[:len(l.chunks)]
	}
	l.restart(max(ci, 0))
	return l
}

func (l *orderList) restart(from int) {
	p := 0
	if from > 0 && from <= len(l.chunks) {
		p = l.starts[from-1] + len(l.chunks[from-1].slots)
	} else {
		from = 0
	}
	for i := from; i < len(l.chunks); i++ {
		l.starts[i] = p
		p += len(l.chunks[i].slots)
	}
}

// fill sets in b the slots at positions [lo, hi) and returns the words of b
// it touched, [wlo, whi) (empty when it set nothing).
func (l *orderList) fill(lo, hi int, b bitset) (wlo, whi int) {
	if l == nil || lo >= hi {
		return 0, 0
	}
	least, most := ^uint32(0), uint32(0)
	ci, off := l.locate(lo)
	for n := hi - lo; n > 0 && ci < len(l.chunks); ci++ {
		s := l.chunks[ci].slots[off:]
		if len(s) > n {
			s = s[:n]
		}
		for _, slot := range s {
			b.set(slot)
			least, most = min(least, slot), max(most, slot)
		}
		n -= len(s)
		off = 0
	}
	return int(least >> 6), int(most>>6) + 1
}

// each visits positions from pos towards the end (dir > 0) or the start
// (dir < 0) until fn returns false.
func (l *orderList) each(pos, dir int, fn func(pos int, slot uint32) bool) {
	if l == nil || pos < 0 || pos >= l.n {
		return
	}
	ci, off := l.locate(pos)
	if dir > 0 {
		for ; ci < len(l.chunks); ci++ {
			s := l.chunks[ci].slots
			base := l.starts[ci]
			for ; off < len(s); off++ {
				if !fn(base+off, s[off]) {
					return
				}
			}
			off = 0
		}
		return
	}
	for ; ci >= 0; ci-- {
		s := l.chunks[ci].slots
		base := l.starts[ci]
		if off < 0 {
			off = len(s) - 1
		}
		for ; off >= 0; off-- {
			if !fn(base+off, s[off]) {
				return
			}
		}
	}
}
