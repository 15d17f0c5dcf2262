package query

import (
	"hash/maphash"
	"math/bits"
)

// hamt is a persistent hash map: a hash array mapped trie in the CHAMP
// layout, where a node keeps its entries and its sub-nodes in two arrays, so
// an inner node holds 8 bytes per child and no entries. Nodes carry the
// generation that created them: the writer mutates nodes of its current
// generation in place and copies older ones, so a snapshot taken at an older
// generation never sees a later write. A write copies the nodes on one path.
type hamt[K comparable, V any] struct {
	root *hnode[K, V]
	n    int
}

type hnode[K comparable, V any] struct {
	gen uint64
	// dataMap and nodeMap mark which of the 32 hash slices hold an entry
	// and which a sub-node; entries and nodes are in slice order. Below
	// hamtMaxShift a node keeps a plain list of colliding entries instead.
	dataMap, nodeMap uint32
	entries          []hentry[K, V]
	nodes            []*hnode[K, V]
}

type hentry[K comparable, V any] struct {
	k K
	v V
}

const (
	hamtBits = 5
	// At this shift the hash is used up: the node lists colliding entries.
	hamtMaxShift = 60
)

var hashSeed = maphash.MakeSeed()

func hashOf[K comparable](k K) uint64 { return maphash.Comparable(hashSeed, k) }

// bitIndex returns the position of bit among the bits of m below it.
func bitIndex(m, bit uint32) int { return bits.OnesCount32(m & (bit - 1)) }

func (m hamt[K, V]) get(k K) (V, bool) {
	h := hashOf(k)
	n := m.root
	for shift := uint(0); n != nil; shift += hamtBits {
		if shift >= hamtMaxShift {
			for i := range n.entries {
				if n.entries[i].k == k {
					return n.entries[i].v, true
				}
			}
			break
		}
		bit := uint32(1) << ((h >> shift) & 31)
		if n.dataMap&bit != 0 {
			if e := &n.entries[bitIndex(n.dataMap, bit)]; e.k == k {
				return e.v, true
			}
			break
		}
		if n.nodeMap&bit == 0 {
			break
		}
		n = n.nodes[bitIndex(n.nodeMap, bit)]
	}
	var zero V
	return zero, false
}

func (n *hnode[K, V]) own(gen uint64) *hnode[K, V] {
	if n.gen == gen {
		return n
	}
	c := &hnode[K, V]{gen: gen, dataMap: n.dataMap, nodeMap: n.nodeMap}
	if len(n.entries) > 0 {
		c.entries = make([]hentry[K, V], len(n.entries), len(n.entries)+1)
		copy(c.entries, n.entries)
	}
	if len(n.nodes) > 0 {
		c.nodes = make([]*hnode[K, V], len(n.nodes), len(n.nodes)+1)
		copy(c.nodes, n.nodes)
	}
	return c
}

// set returns the map with k bound to v.
func (m hamt[K, V]) set(gen uint64, k K, v V) hamt[K, V] {
	var added bool
	m.root, added = hset(m.root, gen, 0, hashOf(k), k, v)
	if added {
		m.n++
	}
	return m
}

func hset[K comparable, V any](n *hnode[K, V], gen uint64, shift uint, h uint64, k K, v V) (*hnode[K, V], bool) {
	if n == nil {
		n = &hnode[K, V]{gen: gen}
	} else {
		n = n.own(gen)
	}
	if shift >= hamtMaxShift {
		for i := range n.entries {
			if n.entries[i].k == k {
				n.entries[i].v = v
				return n, false
			}
		}
		n.entries = append(n.entries, hentry[K, V]{k, v})
		return n, true
	}
	bit := uint32(1) << ((h >> shift) & 31)
	switch {
	case n.nodeMap&bit != 0:
		i := bitIndex(n.nodeMap, bit)
		var added bool
		n.nodes[i], added = hset(n.nodes[i], gen, shift+hamtBits, h, k, v)
		return n, added
	case n.dataMap&bit == 0:
		n.dataMap |= bit
		n.entries = insertAt(n.entries, bitIndex(n.dataMap, bit), hentry[K, V]{k, v})
		return n, true
	}
	i := bitIndex(n.dataMap, bit)
	old := n.entries[i]
	if old.k == k {
		n.entries[i].v = v
		return n, false
	}
	// Push the existing entry one level down, next to the new one.
	sub, _ := hset[K, V](nil, gen, shift+hamtBits, hashOf(old.k), old.k, old.v)
	sub, _ = hset(sub, gen, shift+hamtBits, h, k, v)
	n.dataMap &^= bit
	n.entries = removeAt(n.entries, i)
	n.nodeMap |= bit
	n.nodes = insertAt(n.nodes, bitIndex(n.nodeMap, bit), sub)
	return n, true
}

// del returns the map without k.
func (m hamt[K, V]) del(gen uint64, k K) hamt[K, V] {
	var removed bool
	m.root, removed = hdel(m.root, gen, 0, hashOf(k), k)
	if removed {
		m.n--
	}
	return m
}

func hdel[K comparable, V any](n *hnode[K, V], gen uint64, shift uint, h uint64, k K) (*hnode[K, V], bool) {
	if n == nil {
		return nil, false
	}
	if shift >= hamtMaxShift {
		for i := range n.entries {
			if n.entries[i].k == k {
				n = n.own(gen)
				n.entries = removeAt(n.entries, i)
				return n.orNil(), true
			}
		}
		return n, false
	}
	bit := uint32(1) << ((h >> shift) & 31)
	if n.nodeMap&bit != 0 {
		i := bitIndex(n.nodeMap, bit)
		sub, removed := hdel(n.nodes[i], gen, shift+hamtBits, h, k)
		if !removed {
			return n, false
		}
		n = n.own(gen)
		if sub == nil {
			n.nodeMap &^= bit
			n.nodes = removeAt(n.nodes, i)
			return n.orNil(), true
		}
		n.nodes[i] = sub
		return n, true
	}
	if n.dataMap&bit == 0 {
		return n, false
	}
	i := bitIndex(n.dataMap, bit)
	if n.entries[i].k != k {
		return n, false
	}
	n = n.own(gen)
	n.dataMap &^= bit
	n.entries = removeAt(n.entries, i)
	return n.orNil(), true
}

// orNil returns nil for a node left with nothing in it.
func (n *hnode[K, V]) orNil() *hnode[K, V] {
	if len(n.entries) == 0 && len(n.nodes) == 0 {
		return nil
	}
	return n
}

func insertAt[T any](s []T, i int, x T) []T {
	var zero T
	s = append(s, zero)
	copy(s[i+1:], s[i:])
	s[i] = x
	return s
}

func removeAt[T any](s []T, i int) []T {
	copy(s[i:], s[i+1:])
	var zero T
	s[len(s)-1] = zero
	return s[:len(s)-1]
}

// each calls fn for every entry until fn returns false.
func (m hamt[K, V]) each(fn func(K, V) bool) {
	if m.root != nil {
		m.root.each(fn)
	}
}

func (n *hnode[K, V]) each(fn func(K, V) bool) bool {
	for i := range n.entries {
		if !fn(n.entries[i].k, n.entries[i].v) {
			return false
		}
	}
	for _, sub := range n.nodes {
		if !sub.each(fn) {
			return false
		}
	}
	return true
}
