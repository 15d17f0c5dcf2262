package controllers

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	iamv1alpha1 "github.com/roster-dev/roster/api/v1alpha1"
)

const (
	benchOrganizations = 100
	benchClients       = 8
)

// BenchmarkBulkApply applies N users, 100 organizations and two memberships
// per user with 8 concurrent clients, on a fresh envtest control plane, and
// reports:
//   - create-s: how long the creates take with no controller running;
//   - ready-s: how long, with the controllers running, from the first create
//     until every object is Ready for its current generation;
//   - ready/create: the ratio of the two;
//   - settled-s: until every object also holds its final status
//     (organizations' member counts, users' organizations), which the
//     debounced member counts delay by about 2 coalescing delays;
//   - writes/object: the API writes (non-GET requests) the controllers made
//     per applied object until settled, counted on the controllers' client
//     side; ready-writes/object: the same until ready.
func BenchmarkBulkApply(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("users=%d", n), func(b *testing.B) {
			for range b.N {
				benchBulkApply(b, n)
			}
		})
	}
}

// benchSet is the applied objects, in apply order: the organizations, then
// each user followed by its memberships, as a GitOps tool applies them.
type benchSet struct {
	objects []client.Object
	users   map[string]int // user name -> active organizations
	orgs    map[string]int32
}

func newBenchSet(n int) benchSet {
	s := benchSet{users: map[string]int{}, orgs: map[string]int32{}}
	for i := range benchOrganizations {
		name := fmt.Sprintf("org-%d", i)
		s.objects = append(s.objects, newOrg(name, fmt.Sprintf("user-%d", i)))
		s.orgs[name] = 0
	}
	roles := []iamv1alpha1.MembershipRole{iamv1alpha1.RoleMaintainer, iamv1alpha1.RoleSupervisor, iamv1alpha1.RoleWorker}
	for i := range n {
		user := fmt.Sprintf("user-%d", i)
		first := fmt.Sprintf("org-%d", i%benchOrganizations)
		second := fmt.Sprintf("org-%d", (i+37)%benchOrganizations)
		role := roles[i%len(roles)]
		if i < benchOrganizations {
			role = iamv1alpha1.RoleOwner // user-i owns org-i
		}
		state := iamv1alpha1.MembershipActive
		if i%5 == 0 {
			state = iamv1alpha1.MembershipPending
		}
		s.objects = append(s.objects, newUser(user),
			newMembership(first, user, role, iamv1alpha1.MembershipActive),
			newMembership(second, user, iamv1alpha1.RoleWorker, state))
		s.users[user] = 1
		if state == iamv1alpha1.MembershipActive {
			s.users[user] = 2
		}
		s.orgs[first]++
		s.orgs[second]++
	}
	return s
}

// apply creates the objects with benchClients concurrent clients, in order.
func (s benchSet) apply(ctx context.Context, b *testing.B, c client.Client) {
	work := make(chan client.Object, 1024)
	var wg sync.WaitGroup
	for range benchClients {
		wg.Go(func() {
			for obj := range work {
				if err := c.Create(ctx, obj.DeepCopyObject().(client.Object)); err != nil {
					b.Errorf("creating %s: %v", obj.GetName(), err)
				}
			}
		})
	}
	for _, obj := range s.objects {
		work <- obj
	}
	close(work)
	wg.Wait()
}

// settled reports whether every object is Ready (Ready=True for the current
// generation) and, when final is set, also holds its final status: users their
// organizations, organizations their member counts.
func (s benchSet) settled(ctx context.Context, r client.Reader, final bool) (bool, string) {
	var users iamv1alpha1.UserList
	var orgs iamv1alpha1.OrganizationList
	var memberships iamv1alpha1.MembershipList
	for _, l := range []client.ObjectList{&users, &orgs, &memberships} {
		if err := r.List(ctx, l, client.UnsafeDisableDeepCopy); err != nil {
			return false, err.Error()
		}
	}
	ready := func(conds []metav1.Condition, generation, observed int64) bool {
		return meta.IsStatusConditionTrue(conds, iamv1alpha1.ConditionReady) && observed == generation
	}
	if len(users.Items) != len(s.users) || len(orgs.Items) != len(s.orgs) || len(memberships.Items) != 2*len(s.users) {
		return false, "objects still being created"
	}
	notReady := 0
	for _, u := range users.Items {
		if !ready(u.Status.Conditions, u.Generation, u.Status.ObservedGeneration) || (final && len(u.Status.Organizations) != s.users[u.Name]) {
			notReady++
		}
	}
	for _, o := range orgs.Items {
		if !ready(o.Status.Conditions, o.Generation, o.Status.ObservedGeneration) ||
			(final && o.Status.Members.Active.Total+o.Status.Members.Pending.Total != s.orgs[o.Name]) {
			notReady++
		}
	}
	for _, m := range memberships.Items {
		if !ready(m.Status.Conditions, m.Generation, m.Status.ObservedGeneration) {
			notReady++
		}
	}
	return notReady == 0, fmt.Sprintf("%d objects not settled", notReady)
}

// writeCounter counts the requests that are not GETs (watches and lists are GETs).
type writeCounter struct {
	next   http.RoundTripper
	writes *atomic.Int64
	mu     *sync.Mutex
	byKind map[string]int
}

func (w writeCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method != http.MethodGet {
		w.writes.Add(1)
		w.mu.Lock()
		w.byKind[r.Method+" "+writeTarget(r.URL.Path)]++
		w.mu.Unlock()
	}
	return w.next.RoundTrip(r)
}

// writeTarget is the resource (and subresource) of an API path, without names.
func writeTarget(path string) string {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	for i, p := range parts {
		switch p {
		case "users", "organizations", "memberships", "configmaps", "events":
			if i+2 < len(parts) {
				return p + "/" + parts[i+2]
			}
			return p
		}
	}
	return path
}

func benchBulkApply(b *testing.B, n int) {
	b.StopTimer()
	logf.SetLogger(logr.Discard())
	ctx := context.Background()
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	restCfg, err := env.Start()
	if err != nil {
		b.Fatalf("starting envtest: %v", err)
	}
	defer func() {
		if err := env.Stop(); err != nil {
			b.Errorf("stopping envtest: %v", err)
		}
	}()
	restCfg.QPS, restCfg.Burst = -1, 10000
	c, err := client.New(restCfg, client.Options{Scheme: scheme})
	if err != nil {
		b.Fatal(err)
	}
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: testNamespace}}); err != nil {
		b.Fatal(err)
	}
	set := newBenchSet(n)

	// Phase 1: the creates alone.
	start := time.Now()
	set.apply(ctx, b, c)
	createTime := time.Since(start)
	for _, obj := range []client.Object{&iamv1alpha1.Membership{}, &iamv1alpha1.User{}, &iamv1alpha1.Organization{}} {
		if err := c.DeleteAllOf(ctx, obj); err != nil {
			b.Fatalf("deleting %T: %v", obj, err)
		}
	}
	if err := waitFor(ctx, time.Minute, func() (bool, string) {
		var users iamv1alpha1.UserList
		var orgs iamv1alpha1.OrganizationList
		var memberships iamv1alpha1.MembershipList
		for _, l := range []client.ObjectList{&users, &orgs, &memberships} {
			if err := c.List(ctx, l); err != nil {
				return false, err.Error()
			}
		}
		return len(users.Items)+len(orgs.Items)+len(memberships.Items) == 0, "objects left"
	}); err != nil {
		b.Fatal(err)
	}

	// Phase 2: the same creates with the controllers running.
	var writes atomic.Int64
	var writesMu sync.Mutex
	byKind := map[string]int{}
	mgrCfg := rest.CopyConfig(restCfg)
	mgrCfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return writeCounter{next: rt, writes: &writes, mu: &writesMu, byKind: byKind}
	})
	mgr, err := ctrl.NewManager(mgrCfg, ctrl.Options{
		Scheme:  scheme,
		Metrics: metricsserver.Options{BindAddress: "0"},
		// Each size starts its own manager in this process.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := SetupWithManager(mgr, Options{Namespace: testNamespace}); err != nil {
		b.Fatal(err)
	}
	mgrCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- mgr.Start(mgrCtx) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			b.Errorf("manager: %v", err)
		}
	}()
	watcher, err := cache.New(restCfg, cache.Options{Scheme: scheme})
	if err != nil {
		b.Fatal(err)
	}
	for _, obj := range []client.Object{&iamv1alpha1.User{}, &iamv1alpha1.Organization{}, &iamv1alpha1.Membership{}} {
		if _, err := watcher.GetInformer(ctx, obj); err != nil {
			b.Fatal(err)
		}
	}
	go func() { _ = watcher.Start(mgrCtx) }()
	if !watcher.WaitForCacheSync(ctx) || !mgr.GetCache().WaitForCacheSync(ctx) {
		b.Fatal("caches did not sync")
	}
	writes.Store(0)
	writesMu.Lock()
	clear(byKind)
	writesMu.Unlock()

	b.StartTimer()
	start = time.Now()
	set.apply(ctx, b, c)
	if err := waitFor(ctx, 20*time.Minute, func() (bool, string) { return set.settled(ctx, watcher, false) }); err != nil {
		b.Fatal(err)
	}
	readyTime := time.Since(start)
	readyWrites := writes.Load()
	if err := waitFor(ctx, 20*time.Minute, func() (bool, string) { return set.settled(ctx, watcher, true) }); err != nil {
		b.Fatal(err)
	}
	settledTime := time.Since(start)
	b.StopTimer()

	writesMu.Lock()
	b.Logf("controller writes by request: %v", byKind)
	writesMu.Unlock()
	objects := float64(len(set.objects))
	b.ReportMetric(createTime.Seconds(), "create-s")
	b.ReportMetric(readyTime.Seconds(), "ready-s")
	b.ReportMetric(readyTime.Seconds()/createTime.Seconds(), "ready/create")
	b.ReportMetric(settledTime.Seconds(), "settled-s")
	b.ReportMetric(float64(readyWrites)/objects, "ready-writes/object")
	b.ReportMetric(float64(writes.Load())/objects, "writes/object")
	b.ReportMetric(0, "ns/op")
}

// waitFor polls check until it reports true or timeout passes.
func waitFor(ctx context.Context, timeout time.Duration, check func() (bool, string)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, why := check()
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s: %s", timeout, why)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
