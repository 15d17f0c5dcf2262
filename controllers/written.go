package controllers

import (
	"context"
	"fmt"
	"sync"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// writtenStatus remembers the last status a reconciler wrote for each object
// until the cache catches up with that write. A reconcile that starts before
// the cache has seen its predecessor's write would otherwise compare against
// the stale status and write the same status again.
type writtenStatus[S any] struct {
	mu sync.Mutex
	m  map[string]written[S]
}

type written[S any] struct {
	// staleRV is the resourceVersion the write was based on: while the cache
	// still holds it, the cache has not seen the write.
	staleRV string
	status  S
}

func newWrittenStatus[S any]() *writtenStatus[S] {
	return &writtenStatus[S]{m: map[string]written[S]{}}
}

// basis is the status obj has on the API server as far as this process
// knows: the status it wrote, while the cache still shows the version that
// write was based on; else the cached status.
func (w *writtenStatus[S]) basis(obj client.Object, cached S) S {
	w.mu.Lock()
	defer w.mu.Unlock()
	rec, ok := w.m[obj.GetName()]
	if !ok {
		return cached
	}
	if rec.staleRV == obj.GetResourceVersion() {
		return rec.status
	}
	delete(w.m, obj.GetName())
	return cached
}

// record remembers status as written to the cluster-scoped object name on
// top of resourceVersion staleRV.
func (w *writtenStatus[S]) record(name, staleRV string, status S) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.m[name] = written[S]{staleRV: staleRV, status: status}
}

// forget drops what is remembered of the object name, once it is gone.
func (w *writtenStatus[S]) forget(name string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.m, name)
}

// fetch reads the object req names into obj; found is false, and what was
// remembered of it is dropped, when the object is gone.
func (w *writtenStatus[S]) fetch(ctx context.Context, c client.Reader, req ctrl.Request, obj client.Object) (found bool, err error) {
	if err := c.Get(ctx, req.NamespacedName, obj); err != nil {
		if apierrors.IsNotFound(err) {
			w.forget(req.Name)
		}
		return false, client.IgnoreNotFound(err)
	}
	return true, nil
}

// patch writes status when it differs from old, as a merge patch of obj
// against before, and remembers it until the cache shows it. An object gone
// meanwhile is not an error.
func (w *writtenStatus[S]) patch(ctx context.Context, c client.Client, obj, before client.Object, status, old S) error {
	if equality.Semantic.DeepEqual(old, status) {
		return nil
	}
	err := c.Status().Patch(ctx, obj, client.MergeFrom(before))
	if err == nil {
		w.record(obj.GetName(), before.GetResourceVersion(), status)
	}
	if client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("patching status: %w", err)
	}
	return nil
}
