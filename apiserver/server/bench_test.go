package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	iamv1alpha1 "github.com/roster-dev/roster/api/v1alpha1"
	"github.com/roster-dev/roster/apiserver/directory"
	"github.com/roster-dev/roster/apiserver/query"
	"github.com/roster-dev/roster/internal/testenv"
)

// BenchmarkDirectory times, through kube-apiserver on the envtest control
// plane, directory pages beside two floors (the directory's discovery
// document and users/self: what any request to the aggregated server costs)
// and plain lists of the User CRD, and measures what the directory keeps in
// memory. It starts its own control plane and directory server (the Ginkgo
// suite's BeforeSuite runs only under TestServer). Every kind of request is
// timed at least 200 times (more with a larger -benchtime):
//
//	go test ./apiserver/server/ -run '^$' -bench BenchmarkDirectory -benchtime 200x -timeout 30m
//
// or `make bench BENCH=BenchmarkDirectory`. Each directory page reports its
// p50 and p99, its own work (own-ms: p50 minus the users/self p50) and its
// ratios to the floor and to the CRD lists; directory-heap reports the live
// heap a directory keeps for the objects (a second directory started over
// the same kube-apiserver, measured around its initial sync).
//
// ROSTER_BENCH_USERS changes the directory size (default 10000).
// ROSTER_BENCH_REAL_100K=1 then creates users up to 100k (without IDs or
// memberships) and measures directory-heap again.
func BenchmarkDirectory(b *testing.B) {
	env, users := startPopulated(b)

	member := env.user(b, benchName(42)) // an active worker of bench-org-042
	crdPath := "/apis/iam.roster.dev/v1alpha1/users"
	// Floors and CRD lists first: the directory pages report ratios to them.
	kinds := []struct {
		name string
		cfg  *rest.Config
		path string
		want int
	}{
		{"floor-discovery", member, "/apis/directory.roster.dev/v1alpha1", 0},
		{"floor-self", member, base + "/self", 0},
		{"crd-list-limit-10", env.admin, crdPath + "?limit=10", 10},
		{"crd-list-full", env.admin, crdPath, users},
		{"directory-first-page", env.admin, base + "?page=1&page_size=10", 10},
		{"directory-search-page", env.admin, base + "?search=ander&page_size=10", 10},
		{"directory-org-page", member, base + "?org=" + benchOrg(42) + "&page_size=10", 10},
		{"directory-memberships-page", env.admin, memberships + "?page=1&page_size=10", 10},
		{"directory-org-memberships-page", member, memberships + "?org=" + benchOrg(42) + "&page_size=10", 10},
	}
	p50 := map[string]float64{}
	for _, k := range kinds {
		b.Run(k.name, func(b *testing.B) {
			hc, err := rest.HTTPClientFor(k.cfg)
			if err != nil {
				b.Fatal(err)
			}
			url := strings.TrimSuffix(k.cfg.Host, "/") + k.path
			// One request outside the timings warms connections and caches.
			if n := benchGet(b, hc, url); n < k.want {
				b.Fatalf("%s: %d items, want at least %d", k.path, n, k.want)
			}
			// Percentiles need samples: below benchSamples iterations (make
			// bench runs 1x), the missing ones are taken outside the timer.
			durations := make([]time.Duration, 0, max(b.N, benchSamples))
			sample := func() {
				t := time.Now()
				benchBody(b, hc, url)
				durations = append(durations, time.Since(t))
			}
			b.StopTimer()
			for range benchSamples - b.N {
				sample()
			}
			b.StartTimer()
			for range b.N {
				sample()
			}
			b.StopTimer()
			slices.Sort(durations)
			ms := func(q float64) float64 {
				return float64(durations[min(len(durations)-1, int(q*float64(len(durations))))]) / float64(time.Millisecond)
			}
			p50[k.name] = ms(0.5)
			b.ReportMetric(ms(0.5), "p50-ms")
			b.ReportMetric(ms(0.99), "p99-ms")
			if !strings.HasPrefix(k.name, "directory-") {
				return
			}
			self := p50["floor-self"]
			b.ReportMetric(ms(0.5)-self, "own-ms")
			b.ReportMetric(ms(0.5)/self, "x-self")
			// <= 1: no dearer than a limit=10 CRD list; the full list is
			// what a client without the directory would fetch.
			b.ReportMetric(ms(0.5)/p50["crd-list-limit-10"], "x-crd-limit-10")
			b.ReportMetric(p50["crd-list-full"]/ms(0.5), "crd-full/x")
		})
	}

	env.measureHeap(b, fmt.Sprintf("directory-heap-%dk", users/1000), users)

	const big = 100000
	if os.Getenv("ROSTER_BENCH_REAL_100K") == "1" && users < big {
		start := time.Now()
		env.populate(b, users, big, false)
		env.waitForCount(b, big)
		b.Logf("created %d more users in %s", big-users, time.Since(start).Round(time.Second))
		env.measureHeap(b, "directory-heap-100k", big)
	}
}

// startPopulated starts a control plane with the directory and creates
// ROSTER_BENCH_USERS users (default 10000), each with an ID and one
// membership, in benchOrgs organizations.
func startPopulated(b *testing.B) (*benchEnv, int) {
	b.Helper()
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		b.Skip("KUBEBUILDER_ASSETS is not set")
	}
	users := 10000
	if v := os.Getenv("ROSTER_BENCH_USERS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 200 {
			b.Fatalf("ROSTER_BENCH_USERS=%q: want a number of at least 200", v)
		}
		users = n
	}
	env := startBenchEnv(b)
	b.Cleanup(env.stop)
	start := time.Now()
	env.populate(b, 0, users, true)
	env.waitForCount(b, users)
	b.Logf("created %d users, %d organizations and %d memberships in %s", users, benchOrgs, users, time.Since(start).Round(time.Second))
	return env, users
}

// measureHeap starts a second directory over the benchmark's kube-apiserver
// and reports the live heap it keeps once its index holds every object
// (heap-MiB, heap-B/user) and how long that took (sync-s). Sub-benchmarks run
// more than once (b.N = 1 first): the measurement is made once.
func (e *benchEnv) measureHeap(b *testing.B, name string, users int) {
	b.Helper()
	var once sync.Once
	var heap uint64
	var took time.Duration
	b.Run(name, func(b *testing.B) {
		once.Do(func() {
			if os.Getenv("ROSTER_BENCH_HEAPPROFILE") != "" {
				// Every allocation of the directory is recorded, not a sample.
				runtime.MemProfileRate = 1
			}
			before := heapAlloc()
			ctx, cancel := context.WithCancel(e.ctx)
			defer cancel()
			// ROSTER_BENCH_CPUPROFILE profiles the sync alone.
			if f := profileFile(b, "ROSTER_BENCH_CPUPROFILE"); f != nil {
				if err := pprof.StartCPUProfile(f); err != nil {
					b.Fatal(err)
				}
			}
			started := time.Now()
			d, err := directory.New(e.admin, testenv.Scheme, directory.Options{})
			if err != nil {
				b.Fatal(err)
			}
			go func() { _ = d.Start(ctx) }()
			if !d.WaitForCacheSync(ctx) {
				b.Fatal("the directory's cache did not sync")
			}
			took = time.Since(started)
			pprof.StopCPUProfile()
			res, err := d.Snapshot().List(query.Caller{Admin: true}, &query.ListRequest{Paged: true, PageSize: 1})
			if err != nil || res.Count < users {
				b.Fatalf("the directory holds %v users (%v), want %d", res, err, users)
			}
			heap = heapAlloc() - before
			// ROSTER_BENCH_HEAPPROFILE writes what the directory keeps.
			if f := profileFile(b, "ROSTER_BENCH_HEAPPROFILE"); f != nil {
				if err := pprof.WriteHeapProfile(f); err != nil {
					b.Fatal(err)
				}
			}
			runtime.KeepAlive(d)
		})
		b.ReportMetric(float64(heap)/(1<<20), "heap-MiB")
		b.ReportMetric(float64(heap)/float64(users), "heap-B/user")
		b.ReportMetric(took.Seconds(), "sync-s")
	})
}

// profileFile creates the file the environment variable env names, closed
// when the benchmark ends; nil when env is unset.
func profileFile(b *testing.B, env string) *os.File {
	b.Helper()
	path := os.Getenv(env)
	if path == "" {
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = f.Close() })
	return f
}

const (
	benchOrgs = 100
	// benchSamples is the least number of requests of each kind timed.
	benchSamples = 200
)

func benchName(i int) string { return fmt.Sprintf("bench-%06d", i) }
func benchOrg(i int) string  { return fmt.Sprintf("bench-org-%03d", i%benchOrgs) }

var (
	benchFirst = []string{"Ada", "Alan", "Anna", "Boris", "Chen", "Dana", "Elif", "Femi", "Grete", "Hiro",
		"Ines", "Jonas", "Kira", "Lars", "Maya", "Nikos", "Olga", "Pavel", "Quinn", "Rosa"}
	benchLast = []string{"Anderson", "Brown", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Hansen",
		"Ivanova", "Jensen", "Kowalski", "Larsen", "Moreau", "Novak", "Olsen", "Petrov", "Quist", "Rossi",
		"Schmidt", "Tanaka", "Ueda", "Vogel", "Weber", "Xu", "Yilmaz", "Zimmermann", "Sanderson", "Lopez",
		"Silva", "Kim", "Meyer", "Nagy", "Horvat", "Popescu", "Dimitrov", "Kovac", "Berg", "Lund",
		"Holm", "Falk", "Strand", "Dahl", "Lie", "Moen", "Bakke", "Haug", "Aas", "Vik", "Ruud", "Sund"}
)

// benchEnv is a control plane with the directory registered in it.
type benchEnv struct {
	ctx    context.Context
	cancel context.CancelFunc
	stack  *testenv.Stack
	env    *envtest.Environment
	dir    string
	client client.Client
	// admin is a cluster administrator (system:masters): a directory
	// administrator too, with the same credentials for both API groups.
	admin *rest.Config
	// lists is the administrator's client as the directory's reflectors
	// read: over HTTP/1.1, a connection each.
	lists *http.Client
}

func startBenchEnv(b *testing.B) *benchEnv {
	b.Helper()
	logf.SetLogger(zap.New(zap.WriteTo(io.Discard)))
	e := &benchEnv{}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	var err error
	if e.dir, err = os.MkdirTemp("", "roster-directory-bench-"); err != nil {
		b.Fatal(err)
	}
	e.env = &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	args := e.env.ControlPlane.GetAPIServer().Configure()
	// The default rate limits of kube-apiserver would be the bottleneck of
	// the set-up, not of the measured requests (which are sequential).
	args.Set("max-requests-inflight", "1000")
	args.Set("max-mutating-requests-inflight", "1000")
	e.stack = &testenv.Stack{Env: e.env, Dir: e.dir}
	if err := e.stack.Start(e.ctx); err != nil {
		b.Fatal(err)
	}
	e.admin = e.stack.Admin
	if e.lists, err = directory.ListClient(e.admin); err != nil {
		b.Fatal(err)
	}
	cfg := rest.CopyConfig(e.admin)
	cfg.QPS, cfg.Burst = 5000, 10000
	if e.client, err = client.New(cfg, client.Options{Scheme: testenv.Scheme}); err != nil {
		b.Fatal(err)
	}
	return e
}

func (e *benchEnv) stop() {
	e.cancel()
	_ = e.stack.Stop()
	_ = os.RemoveAll(e.dir)
}

func (e *benchEnv) user(b *testing.B, name string) *rest.Config {
	b.Helper()
	u, err := e.env.AddUser(envtest.User{Name: name}, nil)
	if err != nil {
		b.Fatal(err)
	}
	return u.Config()
}

// populate creates users from..to-1 with 8 concurrent clients; with full,
// also their IDs, the organizations and one membership per user (the first
// member of each organization is its owner, the others are workers).
func (e *benchEnv) populate(b *testing.B, from, to int, full bool) {
	b.Helper()
	if full && from == 0 {
		for i := range benchOrgs {
			o := &iamv1alpha1.Organization{ObjectMeta: metav1.ObjectMeta{Name: benchOrg(i)}}
			if err := e.client.Create(e.ctx, o); err != nil {
				b.Fatal(err)
			}
			o.Status.ID = int64(i + 1)
			if err := e.client.Status().Update(e.ctx, o); err != nil {
				b.Fatal(err)
			}
		}
	}
	var next atomic.Int64
	next.Store(int64(from))
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= to {
					return
				}
				if err := e.createUser(i, full); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}

func (e *benchEnv) createUser(i int, full bool) error {
	name := benchName(i)
	u := &iamv1alpha1.User{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: iamv1alpha1.UserSpec{
			FirstName: benchFirst[i%len(benchFirst)],
			LastName:  benchLast[(i/len(benchFirst))%len(benchLast)],
			Email:     name + "@example.com",
			IsActive:  ptr.To(i%50 != 0),
		},
	}
	if err := e.client.Create(e.ctx, u); err != nil {
		return fmt.Errorf("creating user %s: %w", name, err)
	}
	if !full {
		return nil
	}
	u.Status.ID = int64(i + 1)
	if err := e.client.Status().Update(e.ctx, u); err != nil {
		return fmt.Errorf("setting the ID of %s: %w", name, err)
	}
	role := iamv1alpha1.RoleWorker
	if i < benchOrgs {
		role = iamv1alpha1.RoleOwner
	}
	m := &iamv1alpha1.Membership{
		ObjectMeta: metav1.ObjectMeta{Name: iamv1alpha1.MembershipName(benchOrg(i), name)},
		Spec: iamv1alpha1.MembershipSpec{Organization: benchOrg(i), User: name, Role: role,
			State: iamv1alpha1.MembershipActive},
	}
	if err := e.client.Create(e.ctx, m); err != nil {
		return fmt.Errorf("creating membership %s: %w", m.Name, err)
	}
	return nil
}

// waitForCount waits until the directory lists n users to an administrator.
func (e *benchEnv) waitForCount(b *testing.B, n int) {
	b.Helper()
	hc, err := rest.HTTPClientFor(e.admin)
	if err != nil {
		b.Fatal(err)
	}
	url := strings.TrimSuffix(e.admin.Host, "/") + base + "?page_size=1"
	err = wait.PollUntilContextTimeout(e.ctx, 200*time.Millisecond, 10*time.Minute, true, func(context.Context) (bool, error) {
		var l struct{ Count int }
		body := benchBody(b, hc, url)
		return json.Unmarshal(body, &l) == nil && l.Count >= n, nil
	})
	if err != nil {
		b.Fatalf("the directory did not reach %d users: %v", n, err)
	}
}

// heapAlloc is the live heap after a full collection.
func heapAlloc() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func benchBody(b *testing.B, hc *http.Client, url string) []byte {
	b.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.Fatal(err)
	}
	if resp.StatusCode != 200 {
		b.Fatalf("GET %s: %d %s", url, resp.StatusCode, body)
	}
	return body
}

// benchGet sends one request and returns the number of items listed.
func benchGet(b *testing.B, hc *http.Client, url string) int {
	b.Helper()
	var l struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(benchBody(b, hc, url), &l); err != nil {
		b.Fatal(err)
	}
	return len(l.Items)
}

// BenchmarkDirectoryRestart restarts the directory server over a cluster of
// real objects, as a rolling update would, and reports how long until an
// administrator's counted list through kube-apiserver is complete again
// (restart-s), that time over kube-apiserver's own time to send the lists,
// measured right before each restart (x-floor, median), the garbage
// collections kube-apiserver ran per restart (kube-gc/restart) and the median
// restart among those during which it ran none (restart-nogc-s), and the
// live heap a directory keeps for the objects (heap-B/user). ROSTER_BENCH_USERS sets the users (default 10000; the goal
// is stated at 100000), each with an ID and one membership;
// ROSTER_BENCH_CPUPROFILE=file profiles the second directory's sync, and
// ROSTER_BENCH_KUBEPROFILE=file kube-apiserver during the first restart:
//
//	ROSTER_BENCH_USERS=100000 go test ./apiserver/server/ -run '^$' -bench BenchmarkDirectoryRestart -benchtime 3x -timeout 60m
func BenchmarkDirectoryRestart(b *testing.B) {
	env, users := startPopulated(b)

	hc, err := rest.HTTPClientFor(env.admin)
	if err != nil {
		b.Fatal(err)
	}
	url := strings.TrimSuffix(env.admin.Host, "/") + base + "?page_size=1"
	var restarts, readies, calm []time.Duration
	var ratios []float64
	collections := 0
	floor, listFloor := env.streamFloor(b, false), env.streamFloor(b, true)
	b.Run("restart", func(b *testing.B) {
		for range b.N {
			// kube-apiserver's time to send the lists varies from minute to
			// minute on a shared machine: each restart is read against the
			// floor measured right before it.
			floorNow := env.streamFloor(b, true)
			kubeBefore, ownBefore := env.kubeStats(b, hc), processCPU()
			var profiled sync.WaitGroup
			var profileErr error
			if len(restarts) == 0 {
				if f := profileFile(b, "ROSTER_BENCH_KUBEPROFILE"); f != nil {
					// Twice kube-apiserver's time to send the lists covers
					// the first restart.
					url := fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", strings.TrimSuffix(env.admin.Host, "/"), int(2*floorNow.Seconds())+1)
					profiled.Go(func() { profileErr = saveProfile(hc, url, f) })
				}
			}
			began := time.Now()
			if err := env.stack.RestartDirectory(env.ctx); err != nil {
				b.Fatal(err)
			}
			listening := time.Since(began)
			ready := listening + env.waitReady(b)
			readies = append(readies, ready)
			err := wait.PollUntilContextTimeout(env.ctx, 20*time.Millisecond, 5*time.Minute, true, func(context.Context) (bool, error) {
				n, ok := countOnce(hc, url)
				if ok && n != users {
					return false, fmt.Errorf("a 200 with count %d of %d", n, users)
				}
				return ok, nil
			})
			if err != nil {
				b.Fatalf("the restarted directory: %v", err)
			}
			restarts = append(restarts, time.Since(began))
			profiled.Wait()
			if profileErr != nil {
				b.Fatalf("profiling kube-apiserver: %v", profileErr)
			}
			ratios = append(ratios, restarts[len(restarts)-1].Seconds()/floorNow.Seconds())
			kube, own := env.kubeStats(b, hc).since(kubeBefore), processCPU()-ownBefore
			collections += kube.gcs
			if kube.gcs == 0 {
				calm = append(calm, restarts[len(restarts)-1])
			}
			b.Logf("restart: listening after %s, ready after %s, a complete page through kube-apiserver after %s; "+
				"kube-apiserver meanwhile: %.1f s of CPU, %d garbage collections, %d MiB allocated, %d MiB of heap in use after; "+
				"the directory's process: %.1f s of CPU",
				listening.Round(time.Millisecond), ready.Round(time.Millisecond), restarts[len(restarts)-1].Round(time.Millisecond),
				kube.cpu, kube.gcs, kube.alloc>>20, kube.heap>>20, own.Seconds())
		}
		slices.Sort(restarts)
		slices.Sort(readies)
		slices.Sort(ratios)
		slices.Sort(calm)
		b.ReportMetric(ratios[len(ratios)/2], "x-floor")
		// kube-apiserver's garbage collections decide most of a restart's
		// time: each marks its whole watch cache.
		b.ReportMetric(float64(collections)/float64(len(restarts)), "kube-gc/restart")
		if len(calm) > 0 {
			b.ReportMetric(calm[len(calm)/2].Seconds(), "restart-nogc-s")
		}
		b.ReportMetric(restarts[len(restarts)/2].Seconds(), "restart-s")
		b.ReportMetric(readies[len(readies)/2].Seconds(), "ready-s")
		b.ReportMetric(floor.Seconds(), "floor-stream-s")
		b.ReportMetric(listFloor.Seconds(), "floor-list-s")
	})
	env.measureHeap(b, fmt.Sprintf("directory-heap-%dk", users/1000), users)
}

// streamFloor reads the watch-list streams of users and of memberships
// that a starting directory reads, at once and without decoding them, and
// returns how long kube-apiserver took to send them: no restart can be
// faster. With list, it reads one uncompressed list of each instead, from
// kube-apiserver's cache (resourceVersion 0). Both are read as the
// directory's reflectors read, over HTTP/1.1, a connection each.
func (e *benchEnv) streamFloor(b *testing.B, list bool) time.Duration {
	b.Helper()
	hc := e.lists
	kubeBefore := e.kubeStats(b, hc)
	began := time.Now()
	var g errgroup.Group
	var sizes [2]int64
	for i, resource := range []string{"users", "memberships"} {
		g.Go(func() error {
			url := strings.TrimSuffix(e.admin.Host, "/") + "/apis/iam.roster.dev/v1alpha1/" + resource
			if list {
				url += "?resourceVersion=0"
			} else {
				url += "?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true"
			}
			req, err := http.NewRequest(http.MethodGet, url, nil)
			if err != nil {
				return err
			}
			req.Header.Set("Accept-Encoding", "identity")
			resp, err := hc.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if list {
				sizes[i], err = io.Copy(io.Discard, resp.Body)
				return err
			}
			r := bufio.NewReaderSize(resp.Body, 1<<20)
			for {
				line, err := r.ReadSlice('\n')
				sizes[i] += int64(len(line))
				if err == bufio.ErrBufferFull {
					continue
				}
				if err != nil {
					return fmt.Errorf("reading the %s stream: %w", resource, err)
				}
				if bytes.Contains(line, []byte(metav1.InitialEventsAnnotationKey)) {
					return nil
				}
			}
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}
	took := time.Since(began)
	kube := e.kubeStats(b, hc).since(kubeBefore)
	b.Logf("kube-apiserver sent users (%d MiB) and memberships (%d MiB) in %s (list %v), with %.1f s of CPU, %d garbage collections and %d MiB allocated",
		sizes[0]>>20, sizes[1]>>20, took.Round(time.Millisecond), list, kube.cpu, kube.gcs, kube.alloc>>20)
	return took
}

// kubeStats is what kube-apiserver's metrics say of its process: the CPU
// seconds it used, the garbage collections it ran, its heap in use, the
// bytes it allocated.
type kubeStats struct {
	cpu   float64
	gcs   int
	heap  uint64
	alloc uint64
}

// since is the CPU, collections and allocations between before and s,
// with s's heap.
func (s kubeStats) since(before kubeStats) kubeStats {
	return kubeStats{cpu: s.cpu - before.cpu, gcs: s.gcs - before.gcs, heap: s.heap, alloc: s.alloc - before.alloc}
}

// kubeStats reads kube-apiserver's /metrics. Its list time varies with its
// garbage collections: a collection marks the whole watch cache.
// hc is an administrator's client.
func (e *benchEnv) kubeStats(b *testing.B, hc *http.Client) kubeStats {
	b.Helper()
	body := benchBody(b, hc, strings.TrimSuffix(e.admin.Host, "/")+"/metrics")
	var st kubeStats
	for line := range strings.Lines(string(body)) {
		name, value, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			continue
		}
		switch name {
		case "process_cpu_seconds_total":
			st.cpu = v
		case "go_gc_duration_seconds_count":
			st.gcs = int(v)
		case "go_memstats_heap_inuse_bytes":
			st.heap = uint64(v)
		case "go_memstats_alloc_bytes_total":
			st.alloc = uint64(v)
		}
	}
	return st
}

// saveProfile writes what url answers, a profile, to f.
func saveProfile(hc *http.Client, url string, f *os.File) error {
	resp, err := hc.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	_, err = io.Copy(f, resp.Body)
	return err
}

// processCPU is the CPU time this process (the benchmark and the
// directory server it runs) has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// waitReady polls the restarted directory's own /readyz and returns the
// time until it said ready.
func (e *benchEnv) waitReady(b *testing.B) time.Duration {
	b.Helper()
	hc, err := rest.HTTPClientFor(e.stack.Direct)
	if err != nil {
		b.Fatal(err)
	}
	began := time.Now()
	url := strings.TrimSuffix(e.stack.Direct.Host, "/") + "/readyz"
	err = wait.PollUntilContextTimeout(e.ctx, 20*time.Millisecond, 5*time.Minute, true, func(context.Context) (bool, error) {
		resp, err := hc.Get(url)
		if err != nil {
			return false, nil
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
	if err != nil {
		b.Fatalf("the restarted directory's /readyz: %v", err)
	}
	return time.Since(began)
}

// countOnce lists once: the count of a 200, ok false for any other answer.
func countOnce(hc *http.Client, url string) (int, bool) {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return 0, false
	}
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		_, _ = io.Copy(io.Discard, resp.Body)
		return 0, false
	}
	var l struct{ Count int }
	if json.NewDecoder(resp.Body).Decode(&l) != nil {
		return 0, false
	}
	return l.Count, true
}
