package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	iamv1alpha1 "github.com/roster-dev/roster/api/v1alpha1"
	"github.com/roster-dev/roster/apiserver/server"
	"github.com/roster-dev/roster/controllers"
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
	if o.Reset {
		if err := os.RemoveAll(o.DataDir); err != nil {
			return fmt.Errorf("resetting %s: %w", o.DataDir, err)
		}
	}
	dataDir, err := filepath.Abs(o.DataDir)
	if err != nil {
		return err
	}
	for _, d := range []string{"etcd", "pki", "kubeconfigs", "apiserver"} {
		if err := os.MkdirAll(filepath.Join(dataDir, d), 0o700); err != nil {
			return err
		}
	}
	started := time.Now()
	agg, err := NewAggregation(filepath.Join(dataDir, "pki"))
	if err != nil {
		return err
	}

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
	args := apiServer.Configure()
	for k, v := range agg.APIServerFlags() {
		args.Set(k, v)
	}
	cfg, err := env.Start()
	if err != nil {
		return fmt.Errorf("starting etcd and kube-apiserver: %w", err)
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "roster: stopping the control plane: %v\n", err)
		}
	}()

	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(iamv1alpha1.AddToScheme(scheme))
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}

	kubeconfigs := filepath.Join(dataDir, "kubeconfigs")
	identity := func(name string, groups ...string) (*rest.Config, string, error) {
		u, err := env.AddUser(envtest.User{Name: name, Groups: groups}, nil)
		if err != nil {
			return nil, "", err
		}
		path := filepath.Join(kubeconfigs, name+".kubeconfig")
		return u.Config(), path, WriteKubeconfig(u.Config(), path)
	}
	adminCfg, adminKubeconfig, err := identity("admin", "system:masters")
	if err != nil {
		return err
	}
	for _, u := range demoUsers {
		if _, _, err := identity(u.name); err != nil {
			return err
		}
	}
	_, directoryKubeconfig, err := identity("roster-directory", "system:masters")
	if err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, 2)

	mgr, err := ctrl.NewManager(rest.CopyConfig(adminCfg), ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
	})
	if err != nil {
		return err
	}
	if err := controllers.SetupWithManager(mgr, controllers.Options{}); err != nil {
		return err
	}
	go func() { errs <- mgr.Start(ctx) }()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	port := PortOf(ln.Addr())
	so := server.NewOptions()
	so.SecureServing.Listener = ln
	so.SecureServing.BindAddress = net.ParseIP("127.0.0.1")
	so.SecureServing.BindPort = port
	so.SecureServing.ServerCert.CertKey.CertFile = agg.ServingCertFile
	so.SecureServing.ServerCert.CertKey.KeyFile = agg.ServingKeyFile
	so.Kubeconfig = directoryKubeconfig
	if err := so.Validate(); err != nil {
		return err
	}
	scfg, err := so.Config()
	if err != nil {
		return err
	}
	srv, err := scfg.Complete().New()
	if err != nil {
		return err
	}
	serverDone := make(chan struct{})
	go func() {
		defer close(serverDone)
		if err := srv.Run(ctx); err != nil {
			errs <- err
		}
	}()
	// Stop the directory before the control plane: its watches would hold
	// kube-apiserver's shutdown.
	defer func() {
		cancel()
		<-serverDone
	}()

	if err := Register(ctx, c, port, agg.ServingCA); err != nil {
		return err
	}
	if err := waitFor(ctx, errs, 2*time.Minute, func() (bool, string) {
		ok, msg, err := Available(ctx, c)
		if err != nil {
			return false, err.Error()
		}
		return ok, msg
	}); err != nil {
		return fmt.Errorf("waiting for the directory's APIService: %w", err)
	}

	kubectl := filepath.Join(o.Assets, "kubectl")
	marker := filepath.Join(dataDir, "samples-applied")
	if _, err := os.Stat(marker); errors.Is(err, os.ErrNotExist) {
		out, err := exec.CommandContext(ctx, kubectl, "--kubeconfig", adminKubeconfig, "apply", "-k", o.Samples).CombinedOutput()
		if err != nil {
			return fmt.Errorf("applying the samples: %w: %s", err, out)
		}
		if err := os.WriteFile(marker, []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o600); err != nil {
			return err
		}
	}
	if err := waitFor(ctx, errs, 2*time.Minute, func() (bool, string) {
		var users iamv1alpha1.UserList
		if err := c.List(ctx, &users); err != nil {
			return false, err.Error()
		}
		for _, u := range users.Items {
			if u.Status.ID == 0 {
				return false, "user " + u.Name + " has no ID yet"
			}
		}
		return true, ""
	}); err != nil {
		return fmt.Errorf("waiting for the controllers: %w", err)
	}

	printGuide(o.Out, kubectl, kubeconfigs, dataDir, time.Since(started))
	select {
	case <-ctx.Done():
		return nil
	case err := <-errs:
		return err
	}
}

// waitFor polls done every 250ms until it holds, a component fails, or
// timeout passes.
func waitFor(ctx context.Context, errs <-chan error, timeout time.Duration, done func() (bool, string)) error {
	deadline := time.After(timeout)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	last := ""
	for {
		ok, msg := done()
		if ok {
			return nil
		}
		last = msg
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-errs:
			return err
		case <-deadline:
			return fmt.Errorf("timed out: %s", last)
		case <-tick.C:
		}
	}
}

// WriteKubeconfig saves a client-certificate configuration (and its
// impersonation, if any) as a kubeconfig file.
func WriteKubeconfig(cfg *rest.Config, path string) error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["roster"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["user"] = &clientcmdapi.AuthInfo{
		ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData,
		Impersonate: cfg.Impersonate.UserName, ImpersonateGroups: cfg.Impersonate.Groups,
	}
	kc.Contexts["roster"] = &clientcmdapi.Context{Cluster: "roster", AuthInfo: "user"}
	kc.CurrentContext = "roster"
	return clientcmd.WriteToFile(*kc, path)
}

// ReadyLine is the line the guide starts with, for scripts that wait for it.
const ReadyLine = "Roster is ready"

func printGuide(out io.Writer, kubectl, kubeconfigs, dataDir string, took time.Duration) {
	kc := func(name string) string { return filepath.Join(kubeconfigs, name+".kubeconfig") }
	var b strings.Builder
	fmt.Fprintf(&b, "\n%s (started in %s). Data: %s\n\n", ReadyLine, took.Round(100*time.Millisecond), dataDir)
	fmt.Fprintf(&b, "Kubeconfigs in %s:\n", kubeconfigs)
	fmt.Fprintf(&b, "  admin.kubeconfig    administrator (system:masters, sample superuser)\n")
	for _, u := range demoUsers {
		fmt.Fprintf(&b, "  %-19s %s\n", u.name+".kubeconfig", u.about)
	}
	fmt.Fprintf(&b, "\nTry:\n")
	cmds := []string{
		fmt.Sprintf("%s --kubeconfig %s get users", kubectl, kc("admin")),
		fmt.Sprintf("%s --kubeconfig %s get users", kubectl, kc("alice")),
		fmt.Sprintf("%s --kubeconfig %s get users", kubectl, kc("trent")),
		fmt.Sprintf("%s --kubeconfig %s get --raw '/apis/directory.roster.dev/v1alpha1/users?search=ali&sort=last_name&page=1&page_size=3'", kubectl, kc("admin")),
		fmt.Sprintf("%s --kubeconfig %s get users self -o yaml", kubectl, kc("erin")),
		fmt.Sprintf("%s --kubeconfig %s patch users self --type merge -p '{\"isSuperuser\":true}'", kubectl, kc("erin")),
		fmt.Sprintf("%s --kubeconfig %s get users -w", kubectl, kc("alice")),
	}
	for _, c := range cmds {
		fmt.Fprintf(&b, "  %s\n", c)
	}
	fmt.Fprintf(&b, "\nThe CRDs are there too: `get users.iam.roster.dev`, `get organizations`, `get memberships`.\nPress Ctrl-C to stop; the data stays in %s (run with --reset to start over).\n", dataDir)
	fmt.Fprint(out, b.String())
}
