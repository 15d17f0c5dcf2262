package directory

import (
	"context"
	"strconv"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	iamv1alpha1 "github.com/roster-dev/roster/api/v1alpha1"
	"github.com/roster-dev/roster/apiserver/query"
)

const (
	kindUser         = "User"
	kindMembership   = "Membership"
	kindOrganization = "Organization"
)

// change is one event of the cache that may change what a watcher sees.
type change struct {
	kind string
	// user is the user the change is about.
	user string
	// org is the organization of a membership change: its members' visibility
	// may change too.
	org string
	// deleted is the last state of a deleted user.
	deleted *iamv1alpha1.User
	rv      uint64
}

// hub fans changes out to watchers and keeps a short history to resume
// watches from a resourceVersion.
type hub struct {
	mu       sync.Mutex
	watchers map[*watcher]struct{}
	history  []change
	size     int
	// oldest is the resourceVersion before which history is incomplete.
	oldest uint64
}

func newHub(size int) *hub {
	return &hub{watchers: map[*watcher]struct{}{}, size: size}
}

func (d *Directory) publish(c change) { d.hub.publish(c) }

// publish records c and hands it to every watcher without waiting for any.
func (h *hub) publish(c change) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.history) == h.size {
		h.oldest = h.history[0].rv
		h.history = append(h.history[:0], h.history[1:]...)
	}
	h.history = append(h.history, c)
	for w := range h.watchers {
		select {
		case w.in <- c:
		default:
			// A slow watcher is closed, never waited for: it will list again.
			delete(h.watchers, w)
			w.overflow()
		}
	}
}

// subscribe registers w and returns the history newer than rv; ok is false
// when history no longer reaches back to rv.
func (h *hub) subscribe(w *watcher, rv uint64) (replay []change, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if rv > 0 && rv < h.oldest {
		return nil, false
	}
	h.watchers[w] = struct{}{}
	if rv == 0 {
		return nil, true
	}
	for _, c := range h.history {
		if c.rv > rv {
			replay = append(replay, c)
		}
	}
	return replay, true
}

func (h *hub) unsubscribe(w *watcher) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.watchers, w)
}

// startAt marks rv as the oldest resourceVersion a watch can resume from:
// what the cache listed before it had no history of changes.
func (h *hub) startAt(rv uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.oldest = rv
	h.history = h.history[:0]
}

func (h *hub) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for w := range h.watchers {
		delete(h.watchers, w)
		w.stop()
	}
}

// WatchRequest is a caller's watch of the users it may see.
type WatchRequest struct {
	Caller  *Caller
	Request *query.ListRequest
	// ResourceVersion is where to resume; "" or "0" sends the current state
	// first as ADDED events.
	ResourceVersion string
	// SendInitialEvents sends the current state first and then a bookmark
	// that marks its end, as the watch-list protocol asks.
	SendInitialEvents bool
	// View renders a User as the caller may see it.
	View func(*iamv1alpha1.User) runtime.Object
	// Bookmark renders a bookmark at a resourceVersion, annotated as the end
	// of the initial events.
	Bookmark func(rv string) runtime.Object
}

// Watch streams the changes of the users the caller may see, including a
// user becoming visible (ADDED) or invisible (DELETED) because a membership
// changed. A watcher that falls behind by more than the watch buffer gets an
// error event and is closed.
func (d *Directory) Watch(ctx context.Context, req WatchRequest) (watch.Interface, error) {
	var from uint64
	if req.ResourceVersion != "" {
		n, err := strconv.ParseUint(req.ResourceVersion, 10, 64)
		if err != nil {
			return nil, apierrors.NewBadRequest("resourceVersion: " + strconv.Quote(req.ResourceVersion) + " is not a valid resource version")
		}
		from = n
	}
	if req.SendInitialEvents {
		from = 0
	}
	w := &watcher{
		d:    d,
		req:  req,
		in:   make(chan change, d.opts.WatchBuffer),
		out:  make(chan watch.Event, 16),
		done: make(chan struct{}),
		seen: map[string]bool{},
	}
	replay, ok := d.hub.subscribe(w, from)
	if !ok {
		return nil, apierrors.NewResourceExpired("too old resource version: " + req.ResourceVersion)
	}
	go w.run(ctx, from, replay)
	return w, nil
}

type watcher struct {
	d   *Directory
	req WatchRequest
	in  chan change
	out chan watch.Event

	once       sync.Once
	done       chan struct{}
	overflowed sync.Once
	lagging    chan struct{}

	// seen holds the users the watcher has been told about and may still see.
	seen map[string]bool
}

func (w *watcher) ResultChan() <-chan watch.Event { return w.out }

func (w *watcher) Stop() { w.stop() }

func (w *watcher) stop() { w.once.Do(func() { close(w.done) }) }

func (w *watcher) overflow() {
	w.overflowed.Do(func() {
		w.lagging = make(chan struct{})
		close(w.lagging)
		w.stop()
	})
}

func (w *watcher) run(ctx context.Context, from uint64, replay []change) {
	defer close(w.out)
	defer w.d.hub.unsubscribe(w)

	snap := w.d.Snapshot()
	initial := from == 0
	r := *w.req.Request
	r.Paged, r.Window = false, query.Window{}
	res, err := snap.List(w.req.Caller.Caller, &r)
	if err != nil {
		w.send(ctx, watch.Event{Type: watch.Error, Object: statusOf(err)})
		return
	}
	for _, u := range res.Users {
		w.seen[u.Name] = true
		if initial {
			if obj := w.current(ctx, u.Name); obj != nil && !w.send(ctx, watch.Event{Type: watch.Added, Object: obj}) {
				return
			}
		}
	}
	if w.req.SendInitialEvents {
		rv := strconv.FormatUint(w.d.ResourceVersion(), 10)
		if !w.send(ctx, watch.Event{Type: watch.Bookmark, Object: w.req.Bookmark(rv)}) {
			return
		}
	}
	for _, c := range replay {
		if !w.apply(ctx, c) {
			return
		}
	}
	for {
		select {
		case c := <-w.in:
			if !w.apply(ctx, c) {
				return
			}
		case <-w.done:
			if w.lagging != nil {
				// Tell the client to list again rather than miss changes.
				select {
				case w.out <- watch.Event{Type: watch.Error, Object: statusOf(apierrors.NewResourceExpired("the watch fell too far behind; list again"))}:
				default:
				}
			}
			return
		case <-ctx.Done():
			return
		}
	}
}

// apply turns one change into the events this watcher must see.
func (w *watcher) apply(ctx context.Context, c change) bool {
	if c.kind == kindUser {
		return w.evaluate(ctx, c.user, c.deleted, true)
	}
	for _, name := range append(w.d.membersOf(ctx, c.org), c.user) {
		if !w.evaluate(ctx, name, nil, false) {
			return false
		}
	}
	return true
}

// evaluate sends what changed about one user: ADDED when it became visible,
// DELETED when it stopped being visible, MODIFIED when a visible user changed.
func (w *watcher) evaluate(ctx context.Context, name string, deleted *iamv1alpha1.User, modified bool) bool {
	visible := false
	if deleted == nil {
		ok, err := w.d.Snapshot().Matches(w.req.Caller.Caller, w.req.Request, name)
		visible = ok && err == nil
	}
	was := w.seen[name]
	switch {
	case visible && !was:
		if obj := w.current(ctx, name); obj != nil {
			w.seen[name] = true
			return w.send(ctx, watch.Event{Type: watch.Added, Object: obj})
		}
	case visible && modified:
		if obj := w.current(ctx, name); obj != nil {
			return w.send(ctx, watch.Event{Type: watch.Modified, Object: obj})
		}
	case !visible && was:
		delete(w.seen, name)
		last := deleted
		if last == nil {
			if u, err := w.d.User(ctx, name); err == nil {
				last = u
			} else {
				last = &iamv1alpha1.User{}
				last.Name = name
			}
		}
		return w.send(ctx, watch.Event{Type: watch.Deleted, Object: w.req.View(last)})
	}
	return true
}

func (w *watcher) current(ctx context.Context, name string) runtime.Object {
	u, err := w.d.User(ctx, name)
	if err != nil {
		return nil
	}
	return w.req.View(u)
}

func (w *watcher) send(ctx context.Context, e watch.Event) bool {
	select {
	case w.out <- e:
		return true
	case <-w.done:
		return false
	case <-ctx.Done():
		return false
	}
}

// statusOf renders an error as the Status object of a watch error event.
func statusOf(err error) *metav1.Status {
	if s, ok := err.(apierrors.APIStatus); ok {
		st := s.Status()
		return &st
	}
	return &apierrors.NewInternalError(err).ErrStatus
}
