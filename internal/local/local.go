package local

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	iamv1alpha1 "github.com/roster-dev/roster/api/v1alpha1"
	"github.com/roster-dev/roster/controllers"
	"github.com/roster-dev/roster/internal/testenv"
)

// Options configure a local Roster.
type Options struct {
	// DataDir keeps etcd's data and the kubeconfigs across restarts.
	DataDir string
	// Reset deletes DataDir first.
	Reset bool
	// Port is kube-apiserver's port on 127.0.0.1.
	Port int
	// Assets holds kube-apiserver, etcd and kubectl (hack/envtest.sh).
	Assets string
	// CRDs and Samples are the directories of config/crd/bases and config/samples.
	CRDs, Samples string
	// Policy is the kustomization of the admission policy, config/policy:
	// applied at every start, as a cluster deploy applies it.
	Policy string
	// MetricsPort is the controllers' metrics port on 127.0.0.1 (plain
	// HTTP, loopback only); 0 picks a free one.
	MetricsPort int
	// Out receives the guide once Roster is ready.
	Out io.Writer
}

// Demo identities: a kubeconfig is written for each. Their Kubernetes user
// names match sample Users.
var demoUsers = []struct{ name, about string }{
	{"alice", "owner of organization acme"},
	{"erin", "worker in acme"},
	{"trent", "in no organization"},
}

// Run starts a complete Roster on this machine: etcd and kube-apiserver with
// the aggregation layer, the CRDs, the controllers and the directory server
// registered through its APIService, plus the samples on first start. It
// prints a guide when ready and stops everything when ctx ends.
func Run(ctx context.Context, o Options) error {
	if err := o.validate(); err != nil {
		return err
	}
	dataDir, err := filepath.Abs(o.DataDir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return err
	}
	release, err := claim(dataDir, os.Stderr)
	if err != nil {
		return err
	}
	defer release()
	if o.Reset {
		if err := resetDir(dataDir); err != nil {
			return fmt.Errorf("resetting %s: %w", o.DataDir, err)
		}
	}
	for _, d := range []string{"etcd", "pki", "kubeconfigs"} {
		if err := os.MkdirAll(filepath.Join(dataDir, d), 0o700); err != nil {
			return err
		}
	}
	if o.Port != 0 {
		// envtest reports a taken port only as a kube-apiserver that did
		// not become ready; say what is wrong instead.
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(o.Port)))
		if err != nil {
			return fmt.Errorf("127.0.0.1:%d is in use; stop what listens there or choose another port with --port: %w", o.Port, err)
		}
		ln.Close()
	}
	started := time.Now()
	env := &envtest.Environment{
		BinaryAssetsDirectory: o.Assets,
		CRDDirectoryPaths:     []string{o.CRDs},
		ErrorIfCRDPathMissing: true,
	}
	env.ControlPlane.Etcd = &envtest.Etcd{DataDir: filepath.Join(dataDir, "etcd")}
	// The data must survive: envtest turns fsync off by default.
	env.ControlPlane.Etcd.Configure().Set("unsafe-no-fsync", "false")
	apiServer := env.ControlPlane.GetAPIServer()
	apiServer.SecureServing.ListenAddr.Address = "127.0.0.1"
	apiServer.SecureServing.ListenAddr.Port = strconv.Itoa(o.Port)

	stack := &testenv.Stack{Env: env, Dir: dataDir}
	if err := stack.Start(ctx); err != nil {
		return err
	}
	defer func() {
		if err := stack.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "roster: stopping the control plane: %v\n", err)
		}
	}()
	if err := forgetDiscovery(stack.Admin.Host); err != nil {
		return err
	}
	for _, u := range demoUsers {
		if _, _, err := stack.Identity(u.name); err != nil {
			return err
		}
	}

	// As `roster controllers` (ctrl.GetConfig): no client-side rate limit,
	// kube-apiserver's priority and fairness is the limit.
	mgrCfg := rest.CopyConfig(stack.Admin)
	mgrCfg.QPS = -1
	metricsPort := o.MetricsPort
	if metricsPort == 0 {
		if metricsPort, err = freePort(); err != nil {
			return err
		}
	}
	metricsAddr := fmt.Sprintf("127.0.0.1:%d", metricsPort)
	mgr, err := ctrl.NewManager(mgrCfg, ctrl.Options{
		Scheme:                 testenv.Scheme,
		Metrics:                metricsserver.Options{BindAddress: metricsAddr},
		HealthProbeBindAddress: "0",
	})
	if err != nil {
		return err
	}
	if err := controllers.SetupWithManager(mgr, controllers.Options{}); err != nil {
		return err
	}
	mgrCtx, stopManager := context.WithCancel(ctx)
	mgrDone := make(chan error, 1)
	go func() { mgrDone <- mgr.Start(mgrCtx) }()
	// The controllers stop before the stack (deferred earlier, run later).
	defer func() {
		stopManager()
		<-mgrDone
	}()

	kubeconfigs := filepath.Join(dataDir, "kubeconfigs")
	adminKubeconfig := filepath.Join(kubeconfigs, "admin.kubeconfig")
	kubectl := filepath.Join(o.Assets, "kubectl")
	apply := func(what string, args ...string) error {
		out, err := exec.CommandContext(ctx, kubectl, append([]string{"--kubeconfig", adminKubeconfig, "apply"}, args...)...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("applying %s: %w: %s", what, err, out)
		}
		return nil
	}
	if o.Policy != "" {
		if err := apply("the admission policy", "-k", o.Policy); err != nil {
			return err
		}
	}
	marker := filepath.Join(dataDir, "samples-applied")
	if _, err := os.Stat(marker); errors.Is(err, os.ErrNotExist) {
		files, err := sampleFiles(o.Samples)
		if err != nil {
			return err
		}
		// Users first, then organizations, then memberships, each once the
		// controllers have seen the kind before it: an organization never
		// waits for its owner, nor a membership for its user.
		for _, f := range files {
			if err := apply(f, "-f", f); err != nil {
				return err
			}
			if err := waitForIDs(ctx, stack); err != nil {
				return err
			}
		}
		if err := os.WriteFile(marker, []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o600); err != nil {
			return err
		}
	}
	if err := waitForIDs(ctx, stack); err != nil {
		return err
	}

	printGuide(o.Out, kubectl, kubeconfigs, dataDir, metricsAddr, time.Since(started))
	select {
	case <-ctx.Done():
		return nil
	case err := <-mgrDone:
		mgrDone <- err
		return fmt.Errorf("the controllers stopped: %w", err)
	case <-stack.Done():
		return errors.New("the directory server stopped")
	}
}

// validate names a bad option exactly, before anything starts.
func (o Options) validate() error {
	if o.Port < 1 || o.Port > 65535 {
		return fmt.Errorf("--port %d is out of range: a port is from 1 to 65535", o.Port)
	}
	if o.Assets == "" {
		return fmt.Errorf("--assets (or KUBEBUILDER_ASSETS) must name the directory hack/envtest.sh builds; `make run` sets it")
	}
	for _, bin := range []string{"kube-apiserver", "etcd", "kubectl"} {
		if _, err := os.Stat(filepath.Join(o.Assets, bin)); err != nil {
			return fmt.Errorf("--assets %s holds no %s: run `make envtest`, and pass the directory `hack/envtest.sh print-dir` prints", o.Assets, bin)
		}
	}
	return nil
}

// waitForIDs waits until the controllers have given every User and
// Organization its ID: they have seen them all.
func waitForIDs(ctx context.Context, stack *testenv.Stack) error {
	err := stack.Wait(ctx, 2*time.Minute, func() (bool, string) {
		var users iamv1alpha1.UserList
		if err := stack.Client.List(ctx, &users); err != nil {
			return false, err.Error()
		}
		for _, u := range users.Items {
			if u.Status.ID == 0 {
				return false, "user " + u.Name + " has no ID yet"
			}
		}
		var orgs iamv1alpha1.OrganizationList
		if err := stack.Client.List(ctx, &orgs); err != nil {
			return false, err.Error()
		}
		for _, o := range orgs.Items {
			if o.Status.ID == 0 {
				return false, "organization " + o.Name + " has no ID yet"
			}
		}
		return true, ""
	})
	if err != nil {
		return fmt.Errorf("waiting for the controllers: %w", err)
	}
	return nil
}

// sampleFiles lists the manifests of the samples directory in the order
// they apply: users, organizations, memberships, then anything else.
func sampleFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading the samples: %w", err)
	}
	rank := func(name string) int {
		for i, kind := range []string{"users", "organizations", "memberships"} {
			if strings.Contains(name, kind) {
				return i
			}
		}
		return 3
	}
	var files []string
	for _, e := range entries {
		if !e.IsDir() && (strings.HasSuffix(e.Name(), ".yaml") || strings.HasSuffix(e.Name(), ".yml")) {
			files = append(files, filepath.Join(dir, e.Name()))
		}
	}
	slices.SortStableFunc(files, func(a, b string) int {
		return cmp.Or(rank(filepath.Base(a))-rank(filepath.Base(b)), strings.Compare(a, b))
	})
	return files, nil
}

// forgetDiscovery removes kubectl's cached discovery for host. kubectl keeps
// it for six hours per host and port, and trusts it while it names the
// resource asked for: a cache an earlier kube-apiserver on the same port left,
// without the directory, makes a plain "users" mean users.iam.roster.dev. The
// kube-apiserver that just started owns the address now, so whatever is
// cached for it is stale. kubectl writes a fresh one on its next call.
func forgetDiscovery(host string) error {
	cacheDir := os.Getenv("KUBECACHEDIR")
	if cacheDir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil // no home, no cache
		}
		cacheDir = filepath.Join(home, ".kube", "cache")
	}
	// The directory name as kubectl computes it (cli-runtime's
	// computeDiscoverCacheDir).
	safeHost := unsafeFileChars.ReplaceAllString(strings.TrimPrefix(strings.TrimPrefix(host, "https://"), "http://"), "_")
	dir := filepath.Join(cacheDir, "discovery", safeHost)
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("removing kubectl's stale discovery cache %s: %w", dir, err)
	}
	return nil
}

var unsafeFileChars = regexp.MustCompile(`[^(\w/.)]`)

// resetDir empties dir but for the lock this process holds in it.
func resetDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Name() == lockName {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// ReadyLine is the line the guide starts with, for scripts that wait for it.
const ReadyLine = "Roster is ready"

// freePort returns a port of 127.0.0.1 that is free now.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// MetricsLine starts the guide's line with the controllers' metrics URL.
const MetricsLine = "The controllers' metrics (loopback only): "

func printGuide(out io.Writer, kubectl, kubeconfigs, dataDir, metricsAddr string, took time.Duration) {
	kc := func(name string) string { return filepath.Join(kubeconfigs, name+".kubeconfig") }
	var b strings.Builder
	fmt.Fprintf(&b, "\n%s (started in %s). Data: %s\n\n", ReadyLine, took.Round(100*time.Millisecond), dataDir)
	fmt.Fprintf(&b, "Kubeconfigs in %s:\n", kubeconfigs)
	fmt.Fprintf(&b, "  admin.kubeconfig    administrator (system:masters, sample superuser)\n")
	for _, u := range demoUsers {
		fmt.Fprintf(&b, "  %-19s %s\n", u.name+".kubeconfig", u.about)
	}
	// kubectl passes no flag placed before a plugin's name to the plugin (it
	// refuses them), so the plugin's lines put --kubeconfig after "roster".
	roster := func(name string) string { return fmt.Sprintf("%s roster --kubeconfig %s", kubectl, kc(name)) }
	fmt.Fprintf(&b, "\nTry (the `roster` lines run the kubectl plugin; `make install-plugin` puts kubectl-roster on your PATH):\n")
	cmds := []string{
		fmt.Sprintf("%s --kubeconfig %s get users", kubectl, kc("admin")),
		fmt.Sprintf("%s --kubeconfig %s get users", kubectl, kc("alice")),
		fmt.Sprintf("%s --kubeconfig %s get users", kubectl, kc("trent")),
		fmt.Sprintf("%s users --search ali", roster("alice")),
		fmt.Sprintf("%s whoami", roster("erin")),
		fmt.Sprintf("%s --kubeconfig %s get --raw '/apis/directory.roster.dev/v1alpha1/users?search=ali&sort=last_name&page=1&page_size=3'", kubectl, kc("admin")),
		fmt.Sprintf("%s --kubeconfig %s get users self -o yaml", kubectl, kc("erin")),
		fmt.Sprintf("%s --kubeconfig %s patch users self --type merge -p '{\"isSuperuser\":true}'", kubectl, kc("erin")),
		fmt.Sprintf("%s --kubeconfig %s get users -w", kubectl, kc("alice")),
	}
	for _, c := range cmds {
		fmt.Fprintf(&b, "  %s\n", c)
	}
	fmt.Fprintf(&b, "\nAn invitation: alice (owner of acme) invites trent as a worker, trent sees and accepts it,\nthen alice finds trent among acme's workers:\n")
	invite := `{"apiVersion":"directory.roster.dev/v1alpha1","kind":"Membership","organization":"acme","user":"trent","role":"worker"}`
	for _, c := range []string{
		fmt.Sprintf("echo '%s' | %s --kubeconfig %s create -f -", invite, kubectl, kc("alice")),
		fmt.Sprintf("%s --kubeconfig %s get memberships", kubectl, kc("trent")),
		fmt.Sprintf("%s --kubeconfig %s patch memberships acme.trent --type merge -p '{\"state\":\"active\"}'", kubectl, kc("trent")),
		fmt.Sprintf("%s --kubeconfig %s get --raw '/apis/directory.roster.dev/v1alpha1/users?org=acme&role=worker'", kubectl, kc("alice")),
	} {
		fmt.Fprintf(&b, "  %s\n", c)
	}
	fmt.Fprintf(&b, "\nThe same round with kubectl roster: trent leaves acme, alice invites him again, he accepts,\nand alice lists acme's workers:\n")
	for _, c := range []string{
		fmt.Sprintf("%s leave acme", roster("trent")),
		fmt.Sprintf("%s invite trent --org acme --role worker", roster("alice")),
		fmt.Sprintf("%s accept acme", roster("trent")),
		fmt.Sprintf("%s members acme --role worker", roster("alice")),
	} {
		fmt.Fprintf(&b, "  %s\n", c)
	}
	fmt.Fprintf(&b, "\n%shttp://%s/metrics (roster_users, roster_build_info, ...)\n", MetricsLine, metricsAddr)
	fmt.Fprintf(&b, "\nThe CRDs are there too: `get users.iam.roster.dev`, `get organizations`, `get memberships.iam.roster.dev`.\nPress Ctrl-C to stop; the data stays in %s (run with --reset to start over).\n", dataDir)
	fmt.Fprint(out, b.String())
}
