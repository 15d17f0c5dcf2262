package directory

import (
	"context"
	"sort"
	"strconv"
	"sync"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	iamv1alpha1 "github.com/roster-dev/roster/api/v1alpha1"
	directoryv1alpha1 "github.com/roster-dev/roster/apiserver/apis/directory/v1alpha1"
	"github.com/roster-dev/roster/apiserver/query"
)

const (
	kindUser         = "User"
	kindMembership   = "Membership"
	kindOrganization = "Organization"
)

// change is one event of the cache that may change what a watcher sees,
// with the index as it stood right after it: a watch resumed from a
// resourceVersion replays changes against the index of their time, and so
// sends exactly the events a live watch sent.
type change struct {
	kind string
	// user is the user the change is about: the User changed, or the user of
	// the membership changed.
	user string
	// org is the organization of a membership or organization change: its
	// members' visibility may change too.
	org string
	// obj and old are a User change's new and previous state; obj is nil
	// when the User was deleted, old when it was added.
	obj, old *iamv1alpha1.User
	// membership and lastMembership are a Membership change's name and, when
	// it was deleted, its last state.
	membership     string
	lastMembership *iamv1alpha1.Membership
	// apply makes the change to an index: a resumed watch replays it on a
	// fork of an older snapshot.
	apply func(*query.Index)
	// snap is the index right after the change. History keeps it only every
	// checkpointEvery changes, so that it holds a few snapshots rather than
	// one per change.
	snap *query.Snapshot
	rv   uint64
}

// checkpointEvery is how often history keeps the index of a change: a
// resumed watch starts from the checkpoint before its resourceVersion and
// replays the changes since on a fork of it.
const checkpointEvery = 128

// hub fans changes out to watchers and keeps a short history to resume
// watches from a resourceVersion.
type hub struct {
	mu       sync.Mutex
	watchers map[*watcher]struct{}
	// members are the watchers of memberships: they follow live changes only.
	members map[*membershipWatcher]struct{}
	history []change
	size    int
	// oldest is the resourceVersion before which history is incomplete, and
	// base the index at that resourceVersion.
	oldest uint64
	base   *query.Snapshot
	// basePending are the changes dropped from history since base: the
	// index at oldest is base with them applied.
	basePending []change
	// published counts changes, to place checkpoints.
	published uint64
}

func newHub(size int) *hub {
	return &hub{watchers: map[*watcher]struct{}{}, members: map[*membershipWatcher]struct{}{}, size: size}
}

// publish records c and hands it to every watcher without waiting for any.
// snapshot returns the index right after c (the caller holds the index
// still): it is taken only when a watcher of users will evaluate c against
// it or history keeps a checkpoint, since a snapshot makes the next write
// of the index copy what it changes.
func (h *hub) publish(c change, snapshot func() *query.Snapshot) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.history) == h.size {
		// The oldest change goes. The base moves to it: to its checkpoint when
		// it has one, else it joins the changes a resumed watch replays on
		// the base first (subscribe folds them in, off the hot path).
		dropped := h.history[0]
		h.history[0] = change{}
		h.history = h.history[1:]
		if dropped.snap != nil {
			h.base, h.basePending = dropped.snap, nil
		} else {
			h.basePending = append(h.basePending, dropped)
		}
		h.oldest = dropped.rv
	}
	h.published++
	checkpoint := h.published%checkpointEvery == 0
	if checkpoint || len(h.watchers) > 0 {
		c.snap = snapshot()
	}
	kept := c
	if !checkpoint {
		kept.snap = nil
	}
	h.history = append(h.history, kept)
	for w := range h.watchers {
		select {
		case w.in <- c:
		default:
			// A slow watcher is closed, never waited for: it will list again.
			delete(h.watchers, w)
			w.overflow()
		}
	}
	for w := range h.members {
		if !w.deliver(c) {
			delete(h.members, w)
		}
	}
}

// subscribe registers w and returns what a resumed watch replays: the newest
// checkpoint at or before rv (the base when there is none), the changes from
// it up to rv (prefix), and those newer than rv (replay). ok is false when
// history no longer reaches back to rv. rv 0 subscribes to what comes next
// only.
func (h *hub) subscribe(w *watcher, rv uint64) (base *query.Snapshot, prefix, replay []change, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if rv > 0 && rv < h.oldest {
		return nil, nil, nil, false
	}
	h.watchers[w] = struct{}{}
	if rv == 0 {
		return nil, nil, nil, true
	}
	if len(h.basePending) > 0 {
		fork := h.base.Fork()
		for _, c := range h.basePending {
			c.apply(fork)
		}
		h.base, h.basePending = fork.Snapshot(), nil
	}
	base = h.base
	for _, c := range h.history {
		switch {
		case c.rv > rv:
			replay = append(replay, c)
		case c.snap != nil:
			base, prefix = c.snap, nil
		default:
			prefix = append(prefix, c)
		}
	}
	return base, prefix, replay, true
}

func (h *hub) unsubscribe(w *watcher) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.watchers, w)
}

// startAt marks rv as the oldest resourceVersion a watch can resume from,
// with snap the index at that point: what the cache listed before it had no
// history of changes.
func (h *hub) startAt(rv uint64, snap *query.Snapshot) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.oldest, h.base, h.basePending = rv, snap, nil
	h.history = h.history[:0]
}

func (h *hub) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for w := range h.watchers {
		delete(h.watchers, w)
		w.stop()
	}
	for w := range h.members {
		delete(h.members, w)
		w.stop()
	}
}

// WatchRequest is a caller's watch of the users it may see.
type WatchRequest struct {
	// Caller is who watches. The watch keeps it up to date as the caller's
	// own User changes (the Request's selectors read it too).
	Caller  *Caller
	Request *query.ListRequest
	// ResourceVersion is where to resume; "" or "0" sends the current state
	// first as ADDED events.
	ResourceVersion string
	// SendInitialEvents sends the current state first and then a bookmark
	// that marks its end, as the watch-list protocol asks.
	SendInitialEvents bool
	// View renders a User as the caller may see it.
	View func(*iamv1alpha1.User, *Caller) runtime.Object
	// Bookmark renders a bookmark at a resourceVersion, annotated as the end
	// of the initial events.
	Bookmark func(rv string) runtime.Object
}

// Watch streams the changes of the users the caller may see, including a
// user becoming visible (ADDED) or invisible (DELETED) because a membership
// changed. A watcher that falls behind by more than the watch buffer gets a
// 410 error event and is closed.
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
		d:      d,
		req:    req,
		caller: req.Caller,
		stream: newStream(16, "users"),
		in:     make(chan change, d.opts.WatchBuffer),
		seen:   map[string]bool{},
	}
	base, prefix, replay, ok := d.hub.subscribe(w, from)
	if !ok {
		return nil, apierrors.NewResourceExpired("too old resource version: " + req.ResourceVersion)
	}
	go w.run(ctx, base, prefix, replay)
	return w, nil
}

type watcher struct {
	stream
	d      *Directory
	req    WatchRequest
	caller *Caller
	in     chan change

	// seen holds the users the watcher has been told about and may still see.
	seen map[string]bool
	// replay is the history being replayed, and later the positions of its
	// User changes by name: the state of a user at a point of the replay is
	// the state before its next change.
	replay      []change
	userChanges map[string][]int
}

func (w *watcher) run(ctx context.Context, base *query.Snapshot, prefix, replay []change) {
	w.begin()
	defer w.finish()
	defer w.d.hub.unsubscribe(w)
	defer w.sendGone(ctx)

	initial := base == nil
	var at *query.Snapshot
	var fork *query.Index
	if initial {
		at = w.d.Snapshot()
	} else {
		// The index as it stood at the resourceVersion: the checkpoint before
		// it, and the changes since replayed on a fork of it.
		fork = base.Fork()
		for _, c := range prefix {
			c.apply(fork)
		}
		at = fork.Snapshot()
	}
	r := w.listRequest()
	res, err := at.List(w.caller.Caller, &r)
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
	w.replay = replay
	w.userChanges = map[string][]int{}
	for i, c := range replay {
		if c.kind == kindUser {
			w.userChanges[c.user] = append(w.userChanges[c.user], i)
		}
	}
	for i, c := range replay {
		c.apply(fork)
		c.snap = fork.Snapshot()
		if !w.apply(ctx, c, i) {
			return
		}
	}
	w.replay, w.userChanges = nil, nil
	for {
		select {
		case c := <-w.in:
			if !w.apply(ctx, c, -1) {
				return
			}
		case <-w.lagging:
			return
		case <-w.done:
			return
		case <-ctx.Done():
			return
		}
	}
}

// listRequest is the watch's request without paging: a watch follows
// the whole result.
func (w *watcher) listRequest() query.ListRequest {
	r := *w.req.Request
	r.Paged, r.Window = false, query.Window{}
	return r
}

// apply turns one change into the events this watcher must see. pos is the
// change's position in the replay, or -1 for a live change.
func (w *watcher) apply(ctx context.Context, c change, pos int) bool {
	if c.kind == kindUser {
		if w.concernsCaller(c) {
			return w.recheckCaller(ctx, c, pos)
		}
		return w.evaluate(ctx, c.snap, c.user, c.obj, c.old, pos)
	}
	names := c.snap.MembersOf(c.org)
	if c.user != "" {
		names = append(names, c.user)
	}
	for _, name := range names {
		if !w.evaluate(ctx, c.snap, name, nil, nil, pos) {
			return false
		}
	}
	return true
}

// evaluate sends what changed about one user: ADDED when it became visible,
// DELETED when it stopped being visible, MODIFIED when a visible user
// changed in a way the caller's view shows. obj and old are the user's new
// and previous state when the change is the user's own.
func (w *watcher) evaluate(ctx context.Context, snap *query.Snapshot, name string, obj, old *iamv1alpha1.User, pos int) bool {
	r := w.listRequest()
	ok, err := snap.Matches(w.caller.Caller, &r, name)
	visible := ok && err == nil
	was := w.seen[name]
	switch {
	case visible && !was:
		if obj == nil {
			obj = w.stateAt(ctx, name, pos)
		}
		if obj != nil {
			w.seen[name] = true
			return w.send(ctx, watch.Event{Type: watch.Added, Object: w.req.View(obj, w.caller)})
		}
	case visible && obj != nil:
		next := w.req.View(obj, w.caller)
		if old != nil && sameView(w.req.View(old, w.caller), next) {
			return true
		}
		return w.send(ctx, watch.Event{Type: watch.Modified, Object: next})
	case !visible && was:
		delete(w.seen, name)
		last := obj
		if last == nil {
			last = old
		}
		if last == nil {
			last = w.stateAt(ctx, name, pos)
		}
		if last == nil {
			last = &iamv1alpha1.User{}
			last.Name = name
		}
		return w.send(ctx, watch.Event{Type: watch.Deleted, Object: w.req.View(last, w.caller)})
	}
	return true
}

// sameView reports whether two renderings of a user differ in nothing but
// their resourceVersion: a change the caller cannot see sends nothing.
func sameView(a, b runtime.Object) bool {
	ua, ok1 := a.(*directoryv1alpha1.User)
	ub, ok2 := b.(*directoryv1alpha1.User)
	if !ok1 || !ok2 {
		return false
	}
	ua, ub = ua.DeepCopy(), ub.DeepCopy()
	ua.ResourceVersion, ub.ResourceVersion = "", ""
	ua.Generation, ub.Generation = 0, 0
	return equality.Semantic.DeepEqual(ua, ub)
}

// stateAt is the User named name as it stood at position pos of the replay:
// the state before its next change in the replay, or the cached one when it
// has not changed since (and for live changes).
func (w *watcher) stateAt(ctx context.Context, name string, pos int) *iamv1alpha1.User {
	if pos >= 0 {
		positions := w.userChanges[name]
		i := sort.SearchInts(positions, pos+1)
		if i < len(positions) {
			return w.replay[positions[i]].old
		}
	}
	u, err := w.d.User(ctx, name)
	if err != nil {
		return nil
	}
	return u
}

func (w *watcher) current(ctx context.Context, name string) runtime.Object {
	u, err := w.d.User(ctx, name)
	if err != nil {
		return nil
	}
	return w.req.View(u, w.caller)
}

// concernsCaller reports whether a User change may change who the caller is:
// the caller's own User, or a User that claims the caller's name.
func (w *watcher) concernsCaller(c change) bool {
	if w.caller.User != nil && w.caller.User.Name == c.user {
		return true
	}
	name := w.caller.Identity.GetName()
	for _, u := range []*iamv1alpha1.User{c.obj, c.old} {
		if u != nil && claims(u, name) {
			return true
		}
	}
	return false
}

// recheckCaller maps the caller again after a change of their own User: an
// open watch has the rights of its caller now, not those it started with.
// An inactive caller's watch ends with a 403; a caller whose rights changed
// gets the events that move their view from the old rights to the new.
func (w *watcher) recheckCaller(ctx context.Context, c change, pos int) bool {
	next, err := w.d.resolveCaller(ctx, w.caller.Identity)
	if err != nil {
		w.send(ctx, watch.Event{Type: watch.Error, Object: statusOf(err)})
		return false
	}
	before := *w.caller
	*w.caller = *next
	if before.Admin == next.Admin && before.Caller.User == next.Caller.User {
		return w.evaluate(ctx, c.snap, c.user, c.obj, c.old, pos)
	}
	r := w.listRequest()
	res, err := c.snap.List(w.caller.Caller, &r)
	if err != nil {
		w.send(ctx, watch.Event{Type: watch.Error, Object: statusOf(err)})
		return false
	}
	now := make(map[string]bool, len(res.Users))
	for _, u := range res.Users {
		now[u.Name] = true
	}
	for name := range w.seen {
		if !now[name] {
			if !w.evaluate(ctx, c.snap, name, nil, nil, pos) {
				return false
			}
		}
	}
	for _, u := range res.Users {
		obj := w.stateAt(ctx, u.Name, pos)
		if u.Name == c.user {
			obj = c.obj
		}
		if obj == nil {
			continue
		}
		// The view of every user the caller still sees may have changed
		// between basic and full.
		if w.seen[u.Name] {
			if !w.send(ctx, watch.Event{Type: watch.Modified, Object: w.req.View(obj, w.caller)}) {
				return false
			}
			continue
		}
		w.seen[u.Name] = true
		if !w.send(ctx, watch.Event{Type: watch.Added, Object: w.req.View(obj, w.caller)}) {
			return false
		}
	}
	return true
}

// statusOf renders an error as the Status object of a watch error event.
func statusOf(err error) *metav1.Status {
	if s, ok := err.(apierrors.APIStatus); ok {
		st := s.Status()
		return &st
	}
	return &apierrors.NewInternalError(err).ErrStatus
}
