// Command roster runs Roster: `roster controllers` runs the controllers of the
// iam.roster.dev CRDs, `roster apiserver` the directory.roster.dev aggregated
// API server.
package main

import (
	"flag"
	"fmt"
	"os"

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
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: roster controllers|apiserver [flags]")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "controllers":
		if err := runControllers(os.Args[2:]); err != nil {
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

func runControllers(args []string) error {
	fs := flag.NewFlagSet("controllers", flag.ExitOnError)
	metricsAddr := fs.String("metrics-bind-address", ":8080", "address the metrics endpoint binds to")
	probeAddr := fs.String("health-probe-bind-address", ":8081", "address the health probes bind to")
	leaderElect := fs.Bool("leader-elect", true, "elect a leader so that only one replica reconciles at a time")
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
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: *metricsAddr},
		HealthProbeBindAddress: *probeAddr,
		LeaderElection:         *leaderElect,
		LeaderElectionID:       "controllers.iam.roster.dev",
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
	return mgr.Start(ctrl.SetupSignalHandler())
}

func runAPIServer(args []string) error {
	o := server.NewOptions()
	fs := pflag.NewFlagSet("apiserver", pflag.ExitOnError)
	o.AddFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := o.Validate(); err != nil {
		return err
	}
	cfg, err := o.Config()
	if err != nil {
		return err
	}
	srv, err := cfg.Complete().New()
	if err != nil {
		return err
	}
	return srv.Run(genericapiserver.SetupSignalContext())
}
