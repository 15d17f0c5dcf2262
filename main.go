// Command roster runs Roster: `roster controllers` runs the controllers of the
// iam.roster.dev CRDs, `roster apiserver` the directory.roster.dev aggregated
// API server, and `roster local` a complete Roster on this machine (etcd,
// kube-apiserver, both of the above and sample data).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/spf13/pflag"
	genericapiserver "k8s.io/apiserver/pkg/server"

	iamv1alpha1 "github.com/roster-dev/roster/api/v1alpha1"
	"github.com/roster-dev/roster/apiserver/server"
	"github.com/roster-dev/roster/controllers"
	"github.com/roster-dev/roster/internal/local"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: roster controllers|apiserver|local [flags]")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "controllers":
		if err := runControllers(ctrl.SetupSignalHandler(), os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	case "local":
		if err := runLocal(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	case "apiserver":
		if err := runAPIServer(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	default:
		fmt.Fprintf(os.Stderr, "roster: unknown command %q\n", os.Args[1])
		os.Exit(2)
	}
}

func runControllers(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("controllers", flag.ExitOnError)
	metricsAddr := fs.String("metrics-bind-address", ":8080", "address the metrics endpoint binds to")
	probeAddr := fs.String("health-probe-bind-address", ":8081", "address the health probes bind to")
	leaderElect := fs.Bool("leader-elect", true, "elect a leader so that only one replica reconciles at a time")
	leaderNamespace := fs.String("leader-election-namespace", defaultNamespace(),
		"namespace of the leader election Lease (default: the pod's own namespace in a cluster, else roster-system)")
	leaderID := fs.String("leader-election-id", "controllers.iam.roster.dev", "name of the leader election Lease")
	zapOpts := zap.Options{}
	zapOpts.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))

	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(iamv1alpha1.AddToScheme(scheme))

	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{
		Scheme:                  scheme,
		Metrics:                 metricsserver.Options{BindAddress: *metricsAddr},
		HealthProbeBindAddress:  *probeAddr,
		LeaderElection:          *leaderElect,
		LeaderElectionID:        *leaderID,
		LeaderElectionNamespace: *leaderNamespace,
	})
	if err != nil {
		return fmt.Errorf("creating the manager: %w", err)
	}
	if err := controllers.SetupWithManager(mgr, controllers.Options{}); err != nil {
		return fmt.Errorf("setting up the controllers: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return err
	}
	return mgr.Start(ctx)
}

// defaultNamespace is the namespace the controllers run in: the pod's own
// in a cluster, else roster-system, where config/ deploys them.
func defaultNamespace() string {
	if b, err := os.ReadFile("/var/run/secrets/kubernetes.io/serviceaccount/namespace"); err == nil && len(b) > 0 {
		return string(b)
	}
	return "roster-system"
}

func runAPIServer(args []string) error {
	o := server.NewOptions()
	fs := pflag.NewFlagSet("apiserver", pflag.ExitOnError)
	o.AddFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	srv, err := o.NewServer()
	if err != nil {
		return err
	}
	return srv.Run(genericapiserver.SetupSignalContext())
}

func runLocal(args []string) error {
	o := local.Options{Out: os.Stdout}
	fs := flag.NewFlagSet("local", flag.ExitOnError)
	fs.StringVar(&o.DataDir, "data-dir", ".data", "where etcd's data and the kubeconfigs are kept across restarts")
	fs.BoolVar(&o.Reset, "reset", false, "delete the data directory first and start over")
	fs.IntVar(&o.Port, "port", 6443, "kube-apiserver's port on 127.0.0.1")
	fs.StringVar(&o.Assets, "assets", os.Getenv("KUBEBUILDER_ASSETS"), "directory of kube-apiserver, etcd and kubectl (hack/envtest.sh print-dir)")
	fs.StringVar(&o.CRDs, "crds", "config/crd/bases", "directory of the CRDs")
	fs.StringVar(&o.Samples, "samples", "config/samples", "directory of the sample manifests applied on first start")
	fs.StringVar(&o.Policy, "policy", "config/policy", "kustomization of the admission policy applied at every start (empty: none)")
	zapOpts := zap.Options{}
	zapOpts.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	if o.Assets == "" {
		return fmt.Errorf("--assets (or KUBEBUILDER_ASSETS) must name the directory hack/envtest.sh builds; `make run` sets it")
	}
	// Unlike ctrl.SetupSignalHandler, a second Ctrl-C does not exit at once:
	// etcd and kube-apiserver must be stopped, never orphaned.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return local.Run(ctx, o)
}
