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
	client client.Client
	// users, memberships and organizations hold the objects the
	// reflectors list and watch.
	users         *kindStore[*iamv1alpha1.User, *userRecord]
	memberships   *kindStore[*iamv1alpha1.Membership, *MembershipRecord]
	organizations *kindStore[*iamv1alpha1.Organization, *iamv1alpha1.Organization]
	reflectors    []*toolscache.Reflector
	index         *query.Index
	hub           *hub
	// catalog keeps the memberships in name order for the memberships
	// storage.
	catalog *catalog
	// ids maps Kubernetes user names to the Users they stand for.
	ids *identities
	// updateMu applies one cache event at a time to the index and the hub.
	updateMu sync.Mutex
	// started is set once the index holds the initial lists: changes are
	// published to watchers (with a snapshot each) from then on.
	started bool
	// pending holds the users of the initial lists until they
	// are all there, to be loaded into the index at once; nil after.
	pending map[string]*query.Prepared
	// early holds the users of the initial list prepared for the index
	// as the list was read, by name, until the store applies the list.
	earlyMu sync.Mutex
	early   map[string]earlyUser

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
	cl, err := client.New(cfg, client.Options{Scheme: scheme, HTTPClient: hc})
	if err != nil {
		return nil, fmt.Errorf("creating the client: %w", err)
	}
	d := &Directory{
		opts:    opts,
		client:  cl,
		index:   query.NewIndex(),
		ids:     newIdentities(),
		pending: map[string]*query.Prepared{},
		early:   map[string]earlyUser{},
		hub:     newHub(opts.History),
		seen:    map[string]uint64{},
	}
	d.changed = sync.NewCond(&d.mu)
	d.users = newKindStore(d, kindUser, "users", keepUser, readUser, d.upsertUser, d.deleteUser)
	d.users.early = d.prepareEarly
	d.memberships = newKindStore(d, kindMembership, "memberships", keepMembership, readMembership, d.upsertMembership, d.deleteMembership)
	d.organizations = newKindStore(d, kindOrganization, "organizations",
		same[*iamv1alpha1.Organization], itself[*iamv1alpha1.Organization], d.upsertOrganization, d.deleteOrganization)
	d.catalog = newCatalog(d.memberships.list)
	lists, err := ListClient(cfg)
	if err != nil {
		return nil, err
	}
	d.reflectors = []*toolscache.Reflector{
		d.users.reflector(cfg, lists, &iamv1alpha1.User{}),
		d.memberships.reflector(cfg, lists, &iamv1alpha1.Membership{}),
		d.organizations.reflector(cfg, lists, &iamv1alpha1.Organization{}),
	}
	d.logins = newLoginRecorder(cl, opts.LastLoginInterval)
	return d, nil
}

// Start lists and watches the kinds until ctx ends. Call WaitForCacheSync
// to know when the directory is ready.
func (d *Directory) Start(ctx context.Context) error {
	go func() {
		<-ctx.Done()
		d.hub.closeAll()
	}()
	var wg sync.WaitGroup
	for _, r := range d.reflectors {
		wg.Go(func() { r.RunWithContext(ctx) })
	}
	wg.Wait()
	return nil
}

// WaitForCacheSync blocks until the cache holds every object. Watches can
// resume only from resourceVersions after that point.
func (d *Directory) WaitForCacheSync(ctx context.Context) bool {
	// A store has synced once it has applied its first list, and the
	// index holds it then, but for the users held to be loaded at once.
	if !d.users.waitSynced(ctx) || !d.memberships.waitSynced(ctx) || !d.organizations.waitSynced(ctx) {
		return false
	}
	d.updateMu.Lock()
	if d.pending != nil {
		d.index.LoadPrepared(slices.Collect(maps.Values(d.pending)))
		d.pending = nil
		d.earlyMu.Lock()
		d.early = nil
		d.earlyMu.Unlock()
	}
	d.hub.startAt(d.ResourceVersion(), d.index.Snapshot())
	d.started = true
	d.observeIndex()
	d.updateMu.Unlock()
	return true
}

// Ready reports whether the index holds every object of the initial
// lists: before that, lists would be short.
func (d *Directory) Ready() bool {
	d.updateMu.Lock()
	defer d.updateMu.Unlock()
	return d.started
}

// Record converts a User to the query engine's record.
func Record(u *iamv1alpha1.User) query.User {
	username := u.EffectiveUsername()
	if username == u.Name {
		// The store's record shares one string for both; so does the index.
		username = u.Name
	}
	return query.User{
		Name:      u.Name,
		ID:        u.Status.ID,
		Username:  username,
		FirstName: u.Spec.FirstName,
		LastName:  u.Spec.LastName,
		IsActive:  u.Active(),
	}
}

// update applies one cache event to the index and publishes it to the
// watchers with the index right after it. Events of the three stores are
// applied one at a time, so each change's index is the one it made.
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
	d.ids.set(u.Name, prev, u)
	if d.hold(u.ResourceVersion, func(p map[string]*query.Prepared) { p[u.Name] = d.prepared(u) }) {
		return
	}
	rec := Record(u)
	d.update(change{kind: kindUser, user: u.Name, obj: u, old: prev, rv: d.observe(kindUser, u.ResourceVersion)},
		func(ix *query.Index) { ix.UpsertUser(rec) })
}

// prepareEarly readies a user of an initial list for the index as the list
// is read, while kube-apiserver is still sending the rest of it; once the
// index is loaded it does nothing.
func (d *Directory) prepareEarly(u *iamv1alpha1.User) {
	d.earlyMu.Lock()
	loading := d.early != nil
	d.earlyMu.Unlock()
	if !loading {
		return
	}
	p := query.Prepare(Record(u))
	d.earlyMu.Lock()
	if d.early != nil {
		d.early[u.Name] = earlyUser{obj: u, prepared: p}
	}
	d.earlyMu.Unlock()
}

// earlyUser is a listed User and what the index will load of it.
type earlyUser struct {
	obj      *iamv1alpha1.User
	prepared *query.Prepared
}

// prepared is u readied for the index: as its list was read if that was
// this very object, now otherwise.
func (d *Directory) prepared(u *iamv1alpha1.User) *query.Prepared {
	d.earlyMu.Lock()
	e, ok := d.early[u.Name]
	if ok {
		delete(d.early, u.Name)
	}
	d.earlyMu.Unlock()
	if ok && e.obj == u {
		return e.prepared
	}
	return query.Prepare(Record(u))
}

// hold applies fn to the users pending before the initial lists are
// loaded, and reports whether it did; after, it does nothing.
func (d *Directory) hold(rv string, fn func(map[string]*query.Prepared)) bool {
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
	if d.hold(u.ResourceVersion, func(p map[string]*query.Prepared) { delete(p, u.Name) }) {
		return
	}
	d.update(change{kind: kindUser, user: u.Name, old: u, rv: d.observe(kindUser, u.ResourceVersion)},
		func(ix *query.Index) { ix.DeleteUser(u.Name) })
}

// indexMembership is what the index keeps of the membership named name.
func indexMembership(name string, spec *iamv1alpha1.MembershipSpec) query.Membership {
	return query.Membership{
		Name:         name,
		Organization: spec.Organization,
		User:         spec.User,
		Role:         query.Role(spec.Role),
		Active:       spec.Active(),
	}
}

// upsertMembership indexes a new or changed membership. Its user is the
// one it had: the API server refuses to change a membership's user, and a
// membership's name is its organization's and its user's.
func (d *Directory) upsertMembership(_, obj any) {
	m, ok := obj.(*iamv1alpha1.Membership)
	if !ok {
		return
	}
	// The store holds m's record by now: the index and the catalog share
	// its strings.
	rec, err := d.memberships.get(m.Name)
	if err != nil {
		return
	}
	d.update(change{kind: kindMembership, user: m.Spec.User, org: rec.Spec.Organization, membership: m.Name, rv: d.observe(kindMembership, m.ResourceVersion)},
		func(ix *query.Index) { ix.UpsertMembership(indexMembership(rec.Name, &rec.Spec)) })
	d.catalog.put(rec)
}

func (d *Directory) deleteMembership(obj any) {
	m, ok := obj.(*iamv1alpha1.Membership)
	if !ok {
		return
	}
	d.update(change{kind: kindMembership, user: m.Spec.User, org: m.Spec.Organization, membership: m.Name, lastMembership: m,
		rv: d.observe(kindMembership, m.ResourceVersion)},
		func(ix *query.Index) { ix.DeleteMembership(indexMembership(m.Name, &m.Spec)) })
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
	r, err := d.users.get(name)
	if err != nil {
		return nil, err
	}
	return r.user(name), nil
}

// MembershipsOf returns copies of the cached memberships of the User named
// user, in any state and of any organization, existing or not.
func (d *Directory) MembershipsOf(_ context.Context, user string) ([]iamv1alpha1.Membership, error) {
	names := d.Snapshot().MembershipNamesOf(user)
	out := make([]iamv1alpha1.Membership, 0, len(names))
	for _, name := range names {
		if m, err := d.memberships.get(name); err == nil {
			out = append(out, *m.Object())
		}
	}
	return out, nil
}

// Membership returns the cached Membership named name.
func (d *Directory) Membership(ctx context.Context, name string) (*iamv1alpha1.Membership, error) {
	m, err := d.memberships.get(name)
	if err != nil {
		return nil, err
	}
	return m.Object(), nil
}

// usersByIdentity returns the users that a Kubernetes user name maps to,
// oldest first.
func (d *Directory) usersByIdentity(ctx context.Context, name string) ([]iamv1alpha1.User, error) {
	var list iamv1alpha1.UserList
	// The User named name is not in the map: it is looked up as one more.
	for _, user := range append(d.ids.users(name), name) {
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
