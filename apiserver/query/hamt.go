package query

import (
	"hash/maphash"
	"math/bits"
)

// hamt is a persistent hash map (hash array mapped trie). Nodes carry the
// generation that created them: the writer mutates nodes of its current
// generation in place and copies older ones, so a snapshot taken at an older
// generation never sees a later write.
type hamt[K comparable, V any] struct {
	root *hnode[K, V]
	n    int
}

type hnode[K comparable, V any] struct {
	gen    uint64
	bitmap uint32
	kids   []hkid[K, V]
}

// hkid is either a sub-node or one entry.
type hkid[K comparable, V any] struct {
	node *hnode[K, V]
	h    uint64
	k    K
	v    V
}

const (
	hamtBits = 5
	// Below this shift a node stops splitting by hash and keeps a plain list
	// of colliding entries.
	hamtMaxShift = 60
)

var hashSeed = maphash.MakeSeed()

func hashOf[K comparable](k K) uint64 { return maphash.Comparable(hashSeed, k) }

func (m hamt[K, V]) get(k K) (V, bool) {
	h := hashOf(k)
	n := m.root
	for shift := uint(0); n != nil; shift += hamtBits {
		if shift >= hamtMaxShift {
			for i := range n.kids {
				if n.kids[i].k == k {
					return n.kids[i].v, true
				}
			}
			break
		}
		bit := uint32(1) << ((h >> shift) & 31)
		if n.bitmap&bit == 0 {
			break
		}
		kid := &n.kids[bits.OnesCount32(n.bitmap&(bit-1))]
		if kid.node == nil {
			if kid.h == h && kid.k == k {
				return kid.v, true
			}
			break
		}
		n = kid.node
	}
	var zero V
	return zero, false
}

func (n *hnode[K, V]) own(gen uint64) *hnode[K, V] {
	if n.gen == gen {
		return n
	}
	c := &hnode[K, V]{gen: gen, bitmap: n.bitmap, kids: make([]hkid[K, V], len(n.kids), len(n.kids)+1)}
	copy(c.kids, n.kids)
	return c
}

// set returns the map with k bound to v.
func (m hamt[K, V]) set(gen uint64, k K, v V) hamt[K, V] {
	h := hashOf(k)
	var added bool
	m.root, added = hset(m.root, gen, 0, h, k, v)
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
		for i := range n.kids {
			if n.kids[i].k == k {
				n.kids[i].v = v
				return n, false
			}
		}
		n.kids = append(n.kids, hkid[K, V]{h: h, k: k, v: v})
		return n, true
	}
	bit := uint32(1) << ((h >> shift) & 31)
	pos := bits.OnesCount32(n.bitmap & (bit - 1))
	if n.bitmap&bit == 0 {
		n.bitmap |= bit
		n.kids = append(n.kids, hkid[K, V]{})
		copy(n.kids[pos+1:], n.kids[pos:])
		n.kids[pos] = hkid[K, V]{h: h, k: k, v: v}
		return n, true
	}
	kid := &n.kids[pos]
	if kid.node != nil {
		var added bool
		kid.node, added = hset(kid.node, gen, shift+hamtBits, h, k, v)
		return n, added
	}
	if kid.h == h && kid.k == k {
		kid.v = v
		return n, false
	}
	// Push the existing entry one level down, next to the new one.
	sub, _ := hset[K, V](nil, gen, shift+hamtBits, kid.h, kid.k, kid.v)
	sub, _ = hset(sub, gen, shift+hamtBits, h, k, v)
	*kid = hkid[K, V]{node: sub}
	return n, true
}

// del returns the map without k.
func (m hamt[K, V]) del(gen uint64, k K) hamt[K, V] {
	h := hashOf(k)
	var removed bool
	m.root, removed = hdel(m.root, gen, 0, h, k)
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
		for i := range n.kids {
			if n.kids[i].k == k {
				n = n.own(gen)
				n.kids = append(n.kids[:i], n.kids[i+1:]...)
				if len(n.kids) == 0 {
					return nil, true
				}
				return n, true
			}
		}
		return n, false
	}
	bit := uint32(1) << ((h >> shift) & 31)
	if n.bitmap&bit == 0 {
		return n, false
	}
	pos := bits.OnesCount32(n.bitmap & (bit - 1))
	kid := n.kids[pos]
	if kid.node != nil {
		sub, removed := hdel(kid.node, gen, shift+hamtBits, h, k)
		if !removed {
			return n, false
		}
		n = n.own(gen)
		if sub == nil {
			return n.dropKid(bit, pos), true
		}
		n.kids[pos].node = sub
		return n, true
	}
	if kid.h != h || kid.k != k {
		return n, false
	}
	n = n.own(gen)
	return n.dropKid(bit, pos), true
}

func (n *hnode[K, V]) dropKid(bit uint32, pos int) *hnode[K, V] {
	n.bitmap &^= bit
	n.kids = append(n.kids[:pos], n.kids[pos+1:]...)
	if len(n.kids) == 0 {
		return nil
	}
	return n
}

// each calls fn for every entry until fn returns false.
func (m hamt[K, V]) each(fn func(K, V) bool) {
	if m.root != nil {
		m.root.each(fn)
	}
}

func (n *hnode[K, V]) each(fn func(K, V) bool) bool {
	for i := range n.kids {
		kid := &n.kids[i]
		if kid.node != nil {
			if !kid.node.each(fn) {
				return false
			}
		} else if !fn(kid.k, kid.v) {
			return false
		}
	}
	return true
}
