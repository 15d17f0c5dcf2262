package directory

import (
	"context"
	"fmt"
	"net/http"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/roster-dev/roster/api/v1alpha1"
)

// kindStore holds the objects of one kind for the directory. A reflector
// lists and watches the kind and hands each object to the store, which
// keeps its record R (the object itself, or a compact form of it) and
// applies the change to the directory (the index, the user names, the
// watchers) in the same step. An informer would keep each object once more
// in its own store, pass it through a queue and a listener's buffer, and
// call the directory later.
type kindStore[T client.Object, R record] struct {
	kind     string
	resource schema.GroupResource
	d        *Directory
	// upsert gets the previous state of a changed object (nil for a new one)
	// and the new one; remove gets the last state of a deleted one.
	upsert func(old, obj any)
	remove func(obj any)
	// keep makes the record of an object, which may share the object's
	// maps and slices (no one changes either); object makes the object of
	// a record again.
	keep   func(T) R
	object func(name string, r R) T
	// early, if set, is also given each listed object as it is read.
	early func(T)

	mu   sync.RWMutex
	objs map[string]R
	// synced is closed once the first list has been applied.
	synced chan struct{}
	once   sync.Once
}

// record is what a store keeps of an object, under the object's name.
type record interface {
	GetResourceVersion() string
}

var _ toolscache.ReflectorStore = &kindStore[*iamv1alpha1.User, *userRecord]{}

func newKindStore[T client.Object, R record](d *Directory, kind, resource string,
	keep func(T) R, object func(string, R) T, upsert func(old, obj any), remove func(obj any)) *kindStore[T, R] {
	return &kindStore[T, R]{
		kind: kind, resource: iamv1alpha1.GroupVersion.WithResource(resource).GroupResource(),
		d: d, upsert: upsert, remove: remove, keep: keep, object: object,
		objs: map[string]R{}, synced: make(chan struct{}),
	}
}

// same is keep for a kind kept as it is; itself is its object.
func same[T client.Object](o T) T { return o }

func itself[T client.Object](_ string, o T) T { return o }

func (s *kindStore[T, R]) typed(obj any) (T, error) {
	o, ok := obj.(T)
	if !ok {
		return o, fmt.Errorf("the %s store was handed a %T", s.kind, obj)
	}
	return o, nil
}

// get returns the record named name: the store's own, read it, never
// change it.
func (s *kindStore[T, R]) get(name string) (R, error) {
	s.mu.RLock()
	o, ok := s.objs[name]
	s.mu.RUnlock()
	if !ok {
		return o, apierrors.NewNotFound(s.resource, name)
	}
	return o, nil
}

func (s *kindStore[T, R]) len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.objs)
}

// list returns every record, in no order.
func (s *kindStore[T, R]) list() []R {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]R, 0, len(s.objs))
	for _, o := range s.objs {
		out = append(out, o)
	}
	return out
}

func (s *kindStore[T, R]) Add(obj any) error { return s.Update(obj) }

func (s *kindStore[T, R]) Update(obj any) error {
	o, err := s.typed(obj)
	if err != nil {
		return err
	}
	name, rec := o.GetName(), s.keep(o)
	s.mu.Lock()
	old, had := s.objs[name]
	s.objs[name] = rec
	s.mu.Unlock()
	if had {
		s.upsert(s.object(name, old), o)
	} else {
		s.upsert(nil, o)
	}
	return nil
}

// Delete removes the object of a DELETED event, which carries its last
// state.
func (s *kindStore[T, R]) Delete(obj any) error {
	o, err := s.typed(obj)
	if err != nil {
		return err
	}
	s.mu.Lock()
	delete(s.objs, o.GetName())
	s.mu.Unlock()
	s.remove(o)
	return nil
}

// Replace takes a list: the first one, or a new one after the watch could
// not resume. Objects it does not hold are deleted, and only objects whose
// resourceVersion moved are changes.
func (s *kindStore[T, R]) Replace(items []any, rv string) error {
	objs := make([]T, len(items))
	next := make(map[string]R, len(items))
	for i, it := range items {
		if k, ok := it.(*kept[T, R]); ok {
			objs[i], next[k.obj.GetName()] = k.obj, k.rec
			continue
		}
		o, err := s.typed(it)
		if err != nil {
			return err
		}
		objs[i], next[o.GetName()] = o, s.keep(o)
	}
	s.mu.Lock()
	prev := s.objs
	s.objs = next
	s.mu.Unlock()
	for _, o := range objs {
		old, had := prev[o.GetName()]
		switch {
		case !had:
			s.upsert(nil, o)
		case old.GetResourceVersion() != o.GetResourceVersion():
			s.upsert(s.object(o.GetName(), old), o)
		}
	}
	for name, old := range prev {
		if _, ok := next[name]; !ok {
			s.remove(s.object(name, old))
		}
	}
	// The list's resourceVersion is where history starts, even when the
	// list was empty.
	s.d.observe(s.kind, rv)
	s.once.Do(func() { close(s.synced) })
	return nil
}

// Resync is for queues; a store has nothing to send again.
func (s *kindStore[T, R]) Resync() error { return nil }

// waitSynced blocks until the first list has been applied or ctx ends.
func (s *kindStore[T, R]) waitSynced(ctx context.Context) bool {
	select {
	case <-s.synced:
		return true
	case <-ctx.Done():
		return false
	}
}

// reflector lists and watches the store's kind, the type of expected, with
// the directory's own list-watch. Each listed object's record is made as
// soon as the object is read, while kube-apiserver is still sending the
// rest of the list, rather than after the whole list has arrived.
func (s *kindStore[T, R]) reflector(cfg *rest.Config, hc *http.Client, expected T) *toolscache.Reflector {
	lw := newListWatch(cfg, hc, expected)
	lw.prepare = s.prepare
	return toolscache.NewReflectorWithOptions(lw, expected, s, toolscache.ReflectorOptions{
		Name: "directory " + s.resource.Resource, TypeDescription: s.resource.String(),
	})
}

// prepare makes the record of a listed object as it is read; Replace takes
// both.
func (s *kindStore[T, R]) prepare(obj runtime.Object) runtime.Object {
	if o, ok := obj.(T); ok {
		if s.early != nil {
			s.early(o)
		}
		return &kept[T, R]{obj: o, rec: s.keep(o)}
	}
	return obj
}

// kept is a listed object with the record its store will keep of it, made
// while the list was read. The reflector hands list items to the store as
// they are.
type kept[T client.Object, R record] struct {
	obj T
	rec R
}

func (k *kept[T, R]) GetObjectKind() schema.ObjectKind { return k.obj.GetObjectKind() }

// DeepCopyObject copies the object; the record is never changed, so it is
// shared.
func (k *kept[T, R]) DeepCopyObject() runtime.Object {
	return &kept[T, R]{obj: k.obj.DeepCopyObject().(T), rec: k.rec}
}
