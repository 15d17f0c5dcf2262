package directory

import (
	"context"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	iamv1alpha1 "github.com/roster-dev/roster/api/v1alpha1"
)

// MembershipWatchRequest is a caller's watch of the memberships it may see.
type MembershipWatchRequest struct {
	// Caller is who watches; the watch keeps it up to date as the caller's
	// own User changes.
	Caller *Caller
	// Match reports whether the caller may see m now and m passes the
	// request's filters.
	Match func(m *iamv1alpha1.Membership) bool
	// Initial lists what the caller may see now, the request's filters
	// applied.
	Initial func(ctx context.Context) ([]*iamv1alpha1.Membership, error)
	// View renders a Membership.
	View func(*iamv1alpha1.Membership) runtime.Object
	// ResourceVersion is where to resume; "" or "0" sends the current state
	// first as ADDED events. A watch of memberships resumes only from the
	// directory's current resourceVersion: from an older one it is a 410,
	// and the client lists again.
	ResourceVersion string
	// SendInitialEvents and Bookmark are the watch-list protocol's, as for users.
	SendInitialEvents bool
	Bookmark          func(rv string) runtime.Object
}

// WatchMemberships streams the memberships the caller may see: ADDED when one
// becomes visible (created, or the caller's own standing in its organization
// changed), MODIFIED when a visible one changes, DELETED when one is deleted
// or leaves the caller's view.
func (d *Directory) WatchMemberships(ctx context.Context, req MembershipWatchRequest) (watch.Interface, error) {
	initial := req.ResourceVersion == "" || req.SendInitialEvents
	if !initial {
		n, err := strconv.ParseUint(req.ResourceVersion, 10, 64)
		if err != nil {
			return nil, apierrors.NewBadRequest("resourceVersion: " + strconv.Quote(req.ResourceVersion) + " is not a valid resource version")
		}
		if n != d.ResourceVersion() {
			return nil, apierrors.NewResourceExpired("too old resource version: " + req.ResourceVersion)
		}
	}
	start, err := req.Initial(ctx)
	if err != nil {
		return nil, err
	}
	w := &membershipWatcher{
		d: d, req: req,
		stream: newStream(16, "memberships"),
		in:     make(chan change, d.opts.WatchBuffer),
		seen:   map[string]bool{},
	}
	d.hub.mu.Lock()
	d.hub.members[w] = struct{}{}
	d.hub.mu.Unlock()
	go w.run(ctx, start, initial)
	return w, nil
}

type membershipWatcher struct {
	stream
	d   *Directory
	req MembershipWatchRequest
	in  chan change

	seen map[string]bool
}

func (w *membershipWatcher) deliver(c change) bool {
	select {
	case w.in <- c:
		return true
	default:
		w.overflow()
		return false
	}
}

func (w *membershipWatcher) run(ctx context.Context, start []*iamv1alpha1.Membership, initial bool) {
	w.begin()
	defer w.finish()
	defer func() {
		w.d.hub.mu.Lock()
		delete(w.d.hub.members, w)
		w.d.hub.mu.Unlock()
	}()
	defer w.sendGone(ctx)
	for _, m := range start {
		w.seen[m.Name] = true
		if initial && !w.send(ctx, watch.Event{Type: watch.Added, Object: w.req.View(m)}) {
			return
		}
	}
	if w.req.SendInitialEvents && w.req.Bookmark != nil {
		if !w.send(ctx, watch.Event{Type: watch.Bookmark, Object: w.req.Bookmark(strconv.FormatUint(w.d.ResourceVersion(), 10))}) {
			return
		}
	}
	for {
		select {
		case c := <-w.in:
			if !w.apply(ctx, c) {
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

// apply turns one change into the events this watcher must see.
func (w *membershipWatcher) apply(ctx context.Context, c change) bool {
	caller := w.req.Caller
	var names []string
	switch c.kind {
	case kindUser:
		if caller.User == nil || (caller.User.Name != c.user && !claimsAny(caller, c)) {
			return true
		}
		next, err := w.d.resolveCaller(ctx, caller.Identity)
		if err != nil {
			w.send(ctx, watch.Event{Type: watch.Error, Object: statusOf(err)})
			return false
		}
		admin := caller.Admin
		*caller = *next
		if admin == next.Admin {
			return true
		}
		for _, m := range w.d.SortedMemberships() {
			names = append(names, m.Name)
		}
		for name := range w.seen {
			names = append(names, name)
		}
	case kindMembership:
		names = append(names, c.membership)
		if caller.User != nil && caller.User.Name == c.user {
			// The caller's own standing in the organization changed.
			names = append(names, w.orgMemberships(c.org)...)
		}
	case kindOrganization:
		names = append(names, w.orgMemberships(c.org)...)
	}
	done := make(map[string]bool, len(names))
	for _, name := range names {
		if done[name] {
			continue
		}
		done[name] = true
		if !w.evaluate(ctx, name, c) {
			return false
		}
	}
	return true
}

func claimsAny(c *Caller, ch change) bool {
	for _, u := range []*iamv1alpha1.User{ch.obj, ch.old} {
		if u != nil && claims(u, c.Identity.GetName()) {
			return true
		}
	}
	return false
}

// orgMemberships names the memberships of org, and those of it the watcher
// was told about (deleted ones included): a membership's name is
// <organization>.<user>.
func (w *membershipWatcher) orgMemberships(org string) []string {
	var names []string
	for _, m := range w.d.OrganizationMemberships(org) {
		if m.Spec.Organization == org {
			names = append(names, m.Name)
		}
	}
	for name := range w.seen {
		if strings.HasPrefix(name, org+".") {
			names = append(names, name)
		}
	}
	return names
}

// evaluate sends what changed about one membership.
func (w *membershipWatcher) evaluate(ctx context.Context, name string, c change) bool {
	m, err := w.d.Membership(ctx, name)
	if err != nil {
		m = nil
	}
	visible := m != nil && w.req.Match(m)
	was := w.seen[name]
	switch {
	case visible && !was:
		w.seen[name] = true
		return w.send(ctx, watch.Event{Type: watch.Added, Object: w.req.View(m)})
	case visible && c.kind == kindMembership && c.membership == name:
		return w.send(ctx, watch.Event{Type: watch.Modified, Object: w.req.View(m)})
	case !visible && was:
		delete(w.seen, name)
		last := m
		if last == nil && c.membership == name {
			last = c.lastMembership
		}
		if last == nil {
			last = &iamv1alpha1.Membership{}
			last.Name = name
		}
		return w.send(ctx, watch.Event{Type: watch.Deleted, Object: w.req.View(last)})
	}
	return true
}
