package directory

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	ctrlcache "sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/roster-dev/roster/api/v1alpha1"
	"github.com/roster-dev/roster/apiserver/query"
)

// Options configure a Directory.
type Options struct {
	// AdminGroups are the Kubernetes groups whose members are administrators
	// (docs/users-api.md section 3).
	AdminGroups []string
	// AllowSelfRegistration lets a caller with no User create one for itself.
	AllowSelfRegistration bool
	// DefaultPrivilege is the privilege group of a User with none in its
	// groups. Zero means PrivilegeUser.
	DefaultPrivilege Privilege
	// LastLoginInterval is the least time between two writes of one user's
	// status.lastLogin; 0 disables lastLogin tracking.
	LastLoginInterval time.Duration
	// WatchBuffer is the number of events a watcher may fall behind by
	// before it is closed.
	WatchBuffer int
	// History is the number of recent changes kept to resume watches from
	// a resourceVersion.
	History int
	// Page holds the page size settings of list requests.
	Page query.ParseOptions
}

// Directory is the aggregated server's view of the CRDs.
type Directory struct {
	opts   Options
	cache  ctrlcache.Cache
	client client.Client
	index  *query.Index
	hub    *hub
	// catalog keeps the memberships in name order for the memberships storage.
	catalog *catalog
	// ids maps Kubernetes user names to the Users they stand for.
	ids *identities
	// updateMu applies one cache event at a time to the index and the hub.
	updateMu sync.Mutex
	// started is set once the index holds the initial lists: changes are
	// published to watchers (with a snapshot each) from then on.
	started bool
	// pending holds the users of the informers' initial lists until they
	// are all there, to be loaded into the index at once; nil after.
	pending  map[string]query.User
	handlers []toolscache.ResourceEventHandlerRegistration

	mu      sync.Mutex
	changed *sync.Cond
	// seen is the newest resourceVersion the cache delivered, per kind.
	seen map[string]uint64
	// gen counts the events the cache delivered, to wake waiters.
	gen uint64

	logins *loginRecorder
}

// New builds a Directory that reads and writes the CRDs with cfg: the
// server's own credentials, never a caller's.
func New(cfg *rest.Config, scheme *runtime.Scheme, opts Options) (*Directory, error) {
	if opts.WatchBuffer <= 0 {
		opts.WatchBuffer = 1024
	}
	if opts.History <= 0 {
		opts.History = 4096
	}
	if opts.DefaultPrivilege == PrivilegeNone {
		opts.DefaultPrivilege = PrivilegeUser
	}
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating the HTTP client: %w", err)
	}
	c, err := ctrlcache.New(cfg, ctrlcache.Options{
		Scheme: scheme, HTTPClient: hc,
		// managedFields are most of a cached object's memory and never
		// served. listWatch skips them as it reads; the transform drops
		// them from a kind it does not know.
		DefaultTransform: ctrlcache.TransformStripManagedFields(),
		NewInformer: func(lw toolscache.ListerWatcher, obj runtime.Object, resync time.Duration, indexers toolscache.Indexers) toolscache.SharedIndexInformer {
			if own := newListWatch(cfg, hc, obj); own != nil {
				lw = own
				// The kinds are cluster-scoped: an index by namespace
				// would hold every object under "".
				delete(indexers, toolscache.NamespaceIndex)
			}
			return toolscache.NewSharedIndexInformer(lw, obj, resync, indexers)
		},
	})
	if err != nil {
		return nil, fmt.Errorf("creating the informer cache: %w", err)
	}
	cl, err := client.New(cfg, client.Options{Scheme: scheme, Cache: &client.CacheOptions{Reader: c}})
	if err != nil {
		return nil, fmt.Errorf("creating the client: %w", err)
	}
	d := &Directory{
		opts:    opts,
		cache:   c,
		client:  cl,
		index:   query.NewIndex(),
		catalog: newCatalog(),
		ids:     newIdentities(),
		pending: map[string]query.User{},
		hub:     newHub(opts.History),
		seen:    map[string]uint64{},
	}
	d.changed = sync.NewCond(&d.mu)
	d.logins = newLoginRecorder(cl, opts.LastLoginInterval)
	return d, nil
}

// Start registers the indexes and event handlers and runs the cache until ctx
// ends. Call WaitForCacheSync to know when it is ready.
func (d *Directory) Start(ctx context.Context) error {
	if err := d.setupHandlers(ctx); err != nil {
		return err
	}
	go func() {
		<-ctx.Done()
		d.hub.closeAll()
	}()
	return d.cache.Start(ctx)
}

// WaitForCacheSync blocks until the cache holds every object. Watches can
// resume only from resourceVersions after that point.
func (d *Directory) WaitForCacheSync(ctx context.Context) bool {
	if !d.cache.WaitForCacheSync(ctx) {
		return false
	}
	// The informers have synced when they have handed out their initial
	// lists; the index holds them once the handlers have applied them.
	if !toolscache.WaitForCacheSync(ctx.Done(), d.handlersSynced) {
		return false
	}
	// The informers' list resourceVersions are where history starts, even
	// when the lists were empty.
	for kind, obj := range map[string]client.Object{
		kindUser: &iamv1alpha1.User{}, kindMembership: &iamv1alpha1.Membership{}, kindOrganization: &iamv1alpha1.Organization{},
	} {
		inf, err := d.cache.GetInformer(ctx, obj)
		if err != nil {
			continue
		}
		if v, ok := inf.(interface{ LastSyncResourceVersion() string }); ok {
			d.observe(kind, v.LastSyncResourceVersion())
		}
	}
	d.updateMu.Lock()
	if d.pending != nil {
		d.index.Load(slices.Collect(maps.Values(d.pending)))
		d.pending = nil
	}
	d.hub.startAt(d.ResourceVersion(), d.index.Snapshot())
	d.started = true
	d.observeIndex()
	d.updateMu.Unlock()
	return true
}

// Ready reports whether the index holds every object of the informers'
// initial lists: before that, lists would be short.
func (d *Directory) Ready() bool {
	d.updateMu.Lock()
	defer d.updateMu.Unlock()
	return d.started
}

// handlersSynced reports whether the index holds every object of the
// informers' initial lists.
func (d *Directory) handlersSynced() bool {
	for _, h := range d.handlers {
		if !h.HasSynced() {
			return false
		}
	}
	return len(d.handlers) > 0
}

func (d *Directory) setupHandlers(ctx context.Context) error {
	kinds := []struct {
		obj    client.Object
		upsert func(old, obj any)
		remove func(obj any)
	}{
		{&iamv1alpha1.User{}, d.upsertUser, d.deleteUser},
		{&iamv1alpha1.Membership{}, d.upsertMembership, d.deleteMembership},
		{&iamv1alpha1.Organization{}, d.upsertOrganization, d.deleteOrganization},
	}
	for _, k := range kinds {
		inf, err := d.cache.GetInformer(ctx, k.obj)
		if err != nil {
			return fmt.Errorf("getting the informer for %T: %w", k.obj, err)
		}
		upsert, remove := k.upsert, k.remove
		reg, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { upsert(nil, obj) },
			UpdateFunc: upsert,
			DeleteFunc: func(obj any) {
				if t, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
					obj = t.Obj
				}
				remove(obj)
			},
		})
		if err != nil {
			return fmt.Errorf("watching %T: %w", k.obj, err)
		}
		d.handlers = append(d.handlers, reg)
	}
	return nil
}

// Record converts a User to the query engine's record.
func Record(u *iamv1alpha1.User) query.User {
	return query.User{
		Name:      u.Name,
		ID:        u.Status.ID,
		Username:  u.EffectiveUsername(),
		FirstName: u.Spec.FirstName,
		LastName:  u.Spec.LastName,
		IsActive:  u.Active(),
	}
}

// update applies one cache event to the index and publishes it to the
// watchers with the index right after it. Events of the three informers
// are applied one at a time, so each change's index is the one it made.
func (d *Directory) update(c change, write func(ix *query.Index)) {
	d.updateMu.Lock()
	defer d.updateMu.Unlock()
	write(d.index)
	if !d.started {
		return
	}
	d.observeIndex()
	c.apply = write
	d.hub.publish(c, d.index.Snapshot)
}

func (d *Directory) upsertUser(old, obj any) {
	u, ok := obj.(*iamv1alpha1.User)
	if !ok {
		return
	}
	prev, _ := old.(*iamv1alpha1.User)
	rec := Record(u)
	d.ids.set(u.Name, prev, u)
	if d.hold(u.ResourceVersion, func(p map[string]query.User) { p[u.Name] = rec }) {
		return
	}
	d.update(change{kind: kindUser, user: u.Name, obj: u, old: prev, rv: d.observe(kindUser, u.ResourceVersion)},
		func(ix *query.Index) { ix.UpsertUser(rec) })
}

// hold applies fn to the users pending before the initial lists are
// loaded, and reports whether it did; after, it does nothing.
func (d *Directory) hold(rv string, fn func(map[string]query.User)) bool {
	d.updateMu.Lock()
	defer d.updateMu.Unlock()
	if d.pending == nil {
		return false
	}
	fn(d.pending)
	d.observe(kindUser, rv)
	return true
}

func (d *Directory) deleteUser(obj any) {
	u, ok := obj.(*iamv1alpha1.User)
	if !ok {
		return
	}
	d.ids.set(u.Name, u, nil)
	if d.hold(u.ResourceVersion, func(p map[string]query.User) { delete(p, u.Name) }) {
		return
	}
	d.update(change{kind: kindUser, user: u.Name, old: u, rv: d.observe(kindUser, u.ResourceVersion)},
		func(ix *query.Index) { ix.DeleteUser(u.Name) })
}

func membershipRecord(m *iamv1alpha1.Membership) query.Membership {
	return query.Membership{
		Name:         m.Name,
		Organization: m.Spec.Organization,
		User:         m.Spec.User,
		Role:         query.Role(m.Spec.Role),
		Active:       m.Active(),
	}
}

func (d *Directory) upsertMembership(_, obj any) {
	m, ok := obj.(*iamv1alpha1.Membership)
	if !ok {
		return
	}
	d.update(change{kind: kindMembership, user: m.Spec.User, org: m.Spec.Organization, membership: m.Name, rv: d.observe(kindMembership, m.ResourceVersion)},
		func(ix *query.Index) { ix.UpsertMembership(membershipRecord(m)) })
	d.catalog.put(m)
}

func (d *Directory) deleteMembership(obj any) {
	m, ok := obj.(*iamv1alpha1.Membership)
	if !ok {
		return
	}
	d.update(change{kind: kindMembership, user: m.Spec.User, org: m.Spec.Organization, membership: m.Name, lastMembership: m,
		rv: d.observe(kindMembership, m.ResourceVersion)},
		func(ix *query.Index) { ix.DeleteMembership(m.Name) })
	d.catalog.remove(m.Name)
}

// An organization that appears or goes makes its members visible to one
// another or no longer.
func (d *Directory) upsertOrganization(_, obj any) {
	o, ok := obj.(*iamv1alpha1.Organization)
	if !ok {
		return
	}
	d.update(change{kind: kindOrganization, org: o.Name, rv: d.observe(kindOrganization, o.ResourceVersion)},
		func(ix *query.Index) { ix.UpsertOrganization(query.Organization{Slug: o.Name, ID: o.Status.ID}) })
}

func (d *Directory) deleteOrganization(obj any) {
	o, ok := obj.(*iamv1alpha1.Organization)
	if !ok {
		return
	}
	d.update(change{kind: kindOrganization, org: o.Name, rv: d.observe(kindOrganization, o.ResourceVersion)},
		func(ix *query.Index) { ix.DeleteOrganization(o.Name) })
}

// observe records that the cache delivered resourceVersion rv of a kind and
// wakes the writers waiting to read their own writes.
func (d *Directory) observe(kind string, rv string) uint64 {
	n, err := strconv.ParseUint(rv, 10, 64)
	if err != nil {
		return 0
	}
	d.mu.Lock()
	if n > d.seen[kind] {
		d.seen[kind] = n
	}
	d.gen++
	d.mu.Unlock()
	d.changed.Broadcast()
	return n
}

// ResourceVersion is the newest resourceVersion the cache has delivered, of
// any kind: the list's metadata.resourceVersion.
func (d *Directory) ResourceVersion() uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	var rv uint64
	for _, n := range d.seen {
		rv = max(rv, n)
	}
	return rv
}

// waitFor blocks until the cache has delivered resourceVersion rv of kind,
// or timeout passes, so that a caller reads its own write.
func (d *Directory) waitFor(ctx context.Context, kind string, rv string, timeout time.Duration) {
	n, err := strconv.ParseUint(rv, 10, 64)
	if err != nil {
		return
	}
	d.waitUntil(ctx, timeout, func() bool {
		d.mu.Lock()
		defer d.mu.Unlock()
		return d.seen[kind] >= n
	})
}

// waitUntil blocks until done holds, re-checking it after every event the
// cache delivers, or until timeout passes.
func (d *Directory) waitUntil(ctx context.Context, timeout time.Duration, done func() bool) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	stop := context.AfterFunc(ctx, func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		d.changed.Broadcast()
	})
	defer stop()
	for {
		d.mu.Lock()
		gen := d.gen
		d.mu.Unlock()
		if done() || ctx.Err() != nil {
			return
		}
		d.mu.Lock()
		for d.gen == gen && ctx.Err() == nil {
			d.changed.Wait()
		}
		d.mu.Unlock()
	}
}

// Snapshot is a consistent view of the index for one request.
func (d *Directory) Snapshot() *query.Snapshot { return d.index.Snapshot() }

// User returns the cached User named name.
func (d *Directory) User(ctx context.Context, name string) (*iamv1alpha1.User, error) {
	u := &iamv1alpha1.User{}
	if err := d.cache.Get(ctx, client.ObjectKey{Name: name}, u); err != nil {
		return nil, err
	}
	return u, nil
}

// MembershipsOf returns copies of the cached memberships of the User named
// user, in any state and of any organization, existing or not.
func (d *Directory) MembershipsOf(_ context.Context, user string) ([]iamv1alpha1.Membership, error) {
	names := d.Snapshot().MembershipNamesOf(user)
	out := make([]iamv1alpha1.Membership, 0, len(names))
	for _, name := range names {
		if m := d.catalog.get(name); m != nil {
			out = append(out, *m.DeepCopy())
		}
	}
	return out, nil
}

// Membership returns the cached Membership named name. The object is the
// cache's own: read it, never change it.
func (d *Directory) Membership(ctx context.Context, name string) (*iamv1alpha1.Membership, error) {
	m := &iamv1alpha1.Membership{}
	if err := d.cache.Get(ctx, client.ObjectKey{Name: name}, m, client.UnsafeDisableDeepCopy); err != nil {
		return nil, err
	}
	return m, nil
}

// usersByIdentity returns the users that a Kubernetes user name maps to,
// oldest first.
func (d *Directory) usersByIdentity(ctx context.Context, name string) ([]iamv1alpha1.User, error) {
	var list iamv1alpha1.UserList
	for _, user := range d.ids.users(name) {
		u, err := d.User(ctx, user)
		if apierrors.IsNotFound(err) {
			// Deleted since: the identities catch up with the cache.
			continue
		}
		if err != nil {
			return nil, err
		}
		if claims(u, name) {
			list.Items = append(list.Items, *u)
		}
	}
	slices.SortFunc(list.Items, func(a, b iamv1alpha1.User) int {
		if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
			return c
		}
		return compareStrings(a.Name, b.Name)
	})
	return list.Items, nil
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Client is the client that writes with the server's own credentials.
func (d *Directory) Client() client.Client { return d.client }

// Options returns the directory's settings.
func (d *Directory) Options() Options { return d.opts }

// UsernameTakenBy returns the name of the User that holds username against
// the User named except ("" for a new user): the oldest claimant (by creation
// time, then name) keeps a username, as the controllers decide, so a User
// older than every other claimant is never blocked by a later one. It
// returns "" when username is free for except, and an error when the cache
// cannot tell.
func (d *Directory) UsernameTakenBy(ctx context.Context, username, except string) (string, error) {
	users, err := d.usersByIdentity(ctx, username)
	if err != nil {
		return "", fmt.Errorf("looking up the users named %q: %w", username, err)
	}
	for _, u := range users {
		if u.Name == except {
			return "", nil
		}
		if u.EffectiveUsername() == username {
			return u.Name, nil
		}
	}
	return "", nil
}

// WaitForUser blocks until the cache shows the User write that returned
// resourceVersion rv, or timeout passes: a caller then reads its own write.
func (d *Directory) WaitForUser(ctx context.Context, rv string, timeout time.Duration) {
	d.waitFor(ctx, kindUser, rv, timeout)
}

// WaitForMembership blocks until the cache shows the Membership write that
// returned resourceVersion rv, or timeout passes.
func (d *Directory) WaitForMembership(ctx context.Context, rv string, timeout time.Duration) {
	d.waitFor(ctx, kindMembership, rv, timeout)
}

// WaitForMembershipGone blocks until the cache no longer holds the
// Membership named name, or timeout passes.
func (d *Directory) WaitForMembershipGone(ctx context.Context, name string, timeout time.Duration) {
	d.waitUntil(ctx, timeout, func() bool {
		_, err := d.Membership(ctx, name)
		return err != nil
	})
}

// WaitForUserGone blocks until the cache no longer shows the User named name
// as live (it is gone or being deleted), or timeout passes.
func (d *Directory) WaitForUserGone(ctx context.Context, name string, timeout time.Duration) {
	d.waitUntil(ctx, timeout, func() bool {
		u, err := d.User(ctx, name)
		return err != nil || u.DeletionTimestamp != nil
	})
}
