package query

import (
	"cmp"
	"slices"
	"strings"
	"sync"
)

// Load adds users to an index that holds none yet: the state it leaves is
// the one UpsertUser would leave for each in turn, built with one sort per
// order and one pass for the trigrams instead of an insertion each. A
// directory loads its initial lists this way. Users already
// held, or named twice, are upserted one by one.
func (ix *Index) Load(users []User) {
	prepared := make([]*Prepared, len(users))
	for i, u := range users {
		prepared[i] = Prepare(u)
	}
	ix.LoadPrepared(prepared)
}

// Prepared is a user made ready for LoadPrepared where it was read: its
// folded search fields and its trigrams, computed once, on the caller's
// goroutine, before the load. A Prepared is loaded at most once.
type Prepared struct {
	rec   *userRec
	grams []gram
}

// Prepare readies u for LoadPrepared.
func Prepare(u User) *Prepared {
	r := newRec(u, 0)
	return &Prepared{rec: r, grams: r.grams()}
}

// User is the user p was prepared from.
func (p *Prepared) User() User { return p.rec.User }

// LoadPrepared is Load for users prepared beforehand.
func (ix *Index) LoadPrepared(users []*Prepared) {
	ix.write(func(w *writer) { w.load(users) })
}

func (w *writer) load(users []*Prepared) {
	st := w.st
	if st.count > 0 || st.slots > 0 {
		for _, p := range users {
			w.upsertUser(p.User())
		}
		return
	}
	recs := make([]*userRec, 0, len(users))
	grams := make([][]gram, 0, len(users))
	var again []User
	for _, p := range users {
		u := p.User()
		if _, dup := st.names.get(u.Name); dup {
			again = append(again, u)
			continue
		}
		slot := uint32(len(recs))
		r := p.rec
		r.slot = slot
		recs = append(recs, r)
		grams = append(grams, p.grams)
		st.users = st.users.set(w.gen, slot, r)
		st.names = st.names.set(w.gen, u.Name, slot)
	}
	n := len(recs)
	st.slots, st.count = n, n

	// The orders sort on their own goroutines while this one builds the
	// trigram postings: the sorts read the records and nothing else.
	var sorts sync.WaitGroup
	for _, f := range []field{fieldUsername, fieldFirstName, fieldLastName} {
		sorts.Go(func() { st.orders[f] = orderListOf(w.gen, sortedByString(f, recs)) })
	}
	sorts.Go(func() {
		byID := sortedByID(recs)
		st.orders[fieldID] = orderListOf(w.gen, byID)
		st.orders[fieldIsActive] = orderListOf(w.gen, byActive(byID, recs))
	})

	postings := map[gram][]uint32{}
	var active, inactive []uint32
	for i, r := range recs {
		for _, g := range grams[i] {
			postings[g] = append(postings[g], r.slot)
		}
		if r.IsActive {
			active = append(active, r.slot)
		} else {
			inactive = append(inactive, r.slot)
		}
	}
	for g, slots := range postings {
		st.grams = st.grams.set(w.gen, g, psetOf(w.gen, slots))
	}
	st.active, st.inactive = psetOf(w.gen, active), psetOf(w.gen, inactive)
	w.loadMembers(recs)
	sorts.Wait()

	for _, u := range again {
		w.upsertUser(u)
	}
}

// The orders of a load are sorted on keys that hold what most comparisons
// need (the start of the string, the id), in one slice, rather than on
// slots that point to records all over the heap. Each is compareTotal's
// order: the field, then id, then name.

// stringKey is a record's key in the order of a string field: the first
// eight bytes of the string, big-endian and zero-padded, its length
// (capped at nine: past eight, only that the string is longer matters),
// its id and its slot.
type stringKey struct {
	prefix uint64
	id     int64
	n      uint32
	slot   uint32
}

// sortedByString is the order of the string field f over recs, whose slots
// are their indexes.
func sortedByString(f field, recs []*userRec) []uint32 {
	keys := make([]stringKey, len(recs))
	for i, r := range recs {
		s := f.str(r)
		var prefix uint64
		for j := range 8 {
			prefix <<= 8
			if j < len(s) {
				prefix |= uint64(s[j])
			}
		}
		keys[i] = stringKey{prefix: prefix, id: r.ID, n: uint32(min(len(s), 9)), slot: uint32(i)}
	}
	slices.SortFunc(keys, func(a, b stringKey) int {
		if c := cmp.Compare(a.prefix, b.prefix); c != 0 {
			return c
		}
		// Equal starts: strings of eight bytes or fewer differ only in
		// their zero bytes past the shorter's end, so the shorter is first.
		if a.n > 8 || b.n > 8 {
			if c := strings.Compare(f.str(recs[a.slot]), f.str(recs[b.slot])); c != 0 {
				return c
			}
		} else if c := cmp.Compare(a.n, b.n); c != 0 {
			return c
		}
		return idThenName(recs, a.id, b.id, a.slot, b.slot)
	})
	return slotsOf(keys, func(k stringKey) uint32 { return k.slot })
}

// idKey is a record's key in the id order.
type idKey struct {
	id   int64
	slot uint32
}

// sortedByID is the id order over recs, whose slots are their indexes.
func sortedByID(recs []*userRec) []uint32 {
	keys := make([]idKey, len(recs))
	for i, r := range recs {
		keys[i] = idKey{id: r.ID, slot: uint32(i)}
	}
	slices.SortFunc(keys, func(a, b idKey) int { return idThenName(recs, a.id, b.id, a.slot, b.slot) })
	return slotsOf(keys, func(k idKey) uint32 { return k.slot })
}

// idThenName orders two records whose keys tie on their field as
// compareTotal does: by id, then by name.
func idThenName(recs []*userRec, aID, bID int64, a, b uint32) int {
	if c := cmp.Compare(aID, bID); c != 0 {
		return c
	}
	return strings.Compare(recs[a].Name, recs[b].Name)
}

// byActive is the is_active order from the id order: the inactive users,
// then the active ones, each in the id order.
func byActive(byID []uint32, recs []*userRec) []uint32 {
	out := make([]uint32, 0, len(byID))
	for _, active := range []bool{false, true} {
		for _, slot := range byID {
			if recs[slot].IsActive == active {
				out = append(out, slot)
			}
		}
	}
	return out
}

func slotsOf[K any](keys []K, slot func(K) uint32) []uint32 {
	out := make([]uint32, len(keys))
	for i, k := range keys {
		out[i] = slot(k)
	}
	return out
}

// loadMembers does for the loaded users what addUser does last, for all of
// them at once: a user with no membership of an organization that exists
// is a loner, and the memberships that arrived before their users now
// count. Each organization's sets are built once from its members' slots,
// which come in ascending order, instead of an insert per membership. The
// index held no user before, so every organization's sets are empty.
func (w *writer) loadMembers(recs []*userRec) {
	st := w.st
	type members struct {
		all, active []uint32
		roles       [4][]uint32
	}
	// appendOnce adds slot unless it is there already, which it is only as
	// the last (slots ascend).
	appendOnce := func(slots []uint32, slot uint32) []uint32 {
		if n := len(slots); n > 0 && slots[n-1] == slot {
			return slots
		}
		return append(slots, slot)
	}
	byOrg := map[string]*members{}
	var loners []uint32
	for _, r := range recs {
		loner := true
		refs, _ := st.byUser.get(r.Name)
		for _, ref := range refs {
			if o, ok := st.orgs.get(ref.org); ok && o.present {
				loner = false
			}
			m := byOrg[ref.org]
			if m == nil {
				m = &members{}
				byOrg[ref.org] = m
			}
			m.all = appendOnce(m.all, r.slot)
			if ref.active {
				m.active = appendOnce(m.active, r.slot)
			}
			if i := roleIndex(ref.role.Value()); i >= 0 {
				m.roles[i] = appendOnce(m.roles[i], r.slot)
			}
		}
		if loner {
			loners = append(loners, r.slot)
		}
	}
	st.loners = psetOf(w.gen, loners)
	for org, m := range byOrg {
		nr := orgRec{Organization: Organization{Slug: org}}
		if rec, ok := st.orgs.get(org); ok {
			nr = *rec
		}
		nr.all, nr.active = psetOf(w.gen, m.all), psetOf(w.gen, m.active)
		for i, slots := range m.roles {
			nr.roles[i] = psetOf(w.gen, slots)
		}
		st.orgs = st.orgs.set(w.gen, org, &nr)
	}
}

// orderListOf is the order list of slots, which are in order already.
func orderListOf(gen uint64, slots []uint32) *orderList {
	l := &orderList{gen: gen, n: len(slots)}
	// Chunks half full, as splits leave them, so that inserts do not split
	// every chunk at once.
	const fill = orderChunkMax / 2
	for from := 0; from < len(slots); from += fill {
		to := min(from+fill, len(slots))
		// No room to grow: the first write after a snapshot copies the
		// chunk anyway.
		c := &orderChunk{gen: gen, slots: slices.Clone(slots[from:to])}
		l.chunks = append(l.chunks, c)
		l.starts = append(l.starts, from)
	}
	return l
}

// psetOf is the set of slots, which are ascending and distinct; nil when
// there are none, as a set emptied by removals.
func psetOf(gen uint64, slots []uint32) *pset {
	if len(slots) == 0 {
		return nil
	}
	s := &pset{gen: gen, n: len(slots)}
	for i := 0; i < len(slots); {
		ci := int(slots[i] >> containerShift)
		j := i
		for j < len(slots) && int(slots[j]>>containerShift) == ci {
			j++
		}
		for len(s.cs) <= ci {
			s.cs = append(s.cs, nil)
		}
		c := &container{gen: gen, n: j - i}
		if c.n > arrMax {
			c.bits = make([]uint64, containerWords)
			for _, x := range slots[i:j] {
				lo := x & (containerSize - 1)
				c.bits[lo>>6] |= 1 << (lo & 63)
			}
		} else {
			c.arr = make([]uint16, c.n)
			for k, x := range slots[i:j] {
				c.arr[k] = uint16(x & (containerSize - 1))
			}
		}
		s.cs[ci] = c
		i = j
	}
	return s
}
