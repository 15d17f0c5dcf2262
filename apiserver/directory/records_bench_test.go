package directory

import (
	goruntime "runtime"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/roster-dev/roster/api/v1alpha1"
)

// BenchmarkRecords compares, for a User and a Membership as the controllers
// leave them (the fixtures of TestRecordsOfUsualObjects), the live heap of
// the typed object with that of its record (typed-B, record-B, per object,
// 20,000 of each after a GC), and the time to read one back (ns/op of
// user, membership) with that of a deep copy of the typed object (ns/op of
// user-copy, membership-copy), which is what reading from the cache cost
// before.
func BenchmarkRecords(b *testing.B) {
	newUser := func() runtime.Object { return &iamv1alpha1.User{} }
	newMembership := func() runtime.Object { return &iamv1alpha1.Membership{} }
	b.Run("user", func(b *testing.B) { benchRecords(b, usualUsers[1], newUser, keepUser, readUser) })
	b.Run("user-copy", func(b *testing.B) { benchCopy[*iamv1alpha1.User](b, usualUsers[1], newUser) })
	b.Run("membership", func(b *testing.B) {
		benchRecords(b, usualMembership, newMembership, keepMembership, readMembership)
	})
	b.Run("membership-copy", func(b *testing.B) { benchCopy[*iamv1alpha1.Membership](b, usualMembership, newMembership) })
}

func benchRecords[T interface {
	client.Object
	DeepCopy() T
}, R any](b *testing.B, js string, newObj func() runtime.Object, keep func(T) R, read func(string, R) T) {
	lw := &listWatch{newObj: newObj}
	decode := func() T {
		// As the directory's list reads it: the kind cleared.
		return lw.decodeObject(watch.Added, streamJSON.BorrowIterator([]byte(js))).(T)
	}
	const n = 20000
	heap := func() uint64 {
		goruntime.GC()
		goruntime.GC()
		var m goruntime.MemStats
		goruntime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	typed := make([]T, n)
	before := heap()
	for i := range typed {
		typed[i] = decode()
	}
	typedBytes := heap() - before
	recs := make([]R, n)
	for i := range recs {
		recs[i] = keep(typed[i])
	}
	clear(typed)
	recordBytes := heap() - before
	goruntime.KeepAlive(recs)

	one, name := recs[0], decode().GetName()
	for b.Loop() {
		_ = read(name, one)
	}
	b.ReportMetric(float64(typedBytes)/n, "typed-B")
	b.ReportMetric(float64(recordBytes)/n, "record-B")
}

func benchCopy[T interface{ DeepCopy() T }](b *testing.B, js string, newObj func() runtime.Object) {
	obj := (&listWatch{newObj: newObj}).decodeObject(watch.Added, streamJSON.BorrowIterator([]byte(js))).(T)
	for b.Loop() {
		_ = obj.DeepCopy()
	}
}
