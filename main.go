// Command roster runs Roster: `roster controllers` runs the controllers of the
// iam.roster.dev CRDs, `roster apiserver` the directory.roster.dev aggregated
// API server, and `roster local` a complete Roster on this machine (etcd,
// kube-apiserver, both of the above and sample data). Installed as
// kubectl-roster, the same binary is the kubectl plugin `kubectl roster`.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	logsapi "k8s.io/component-base/logs/api/v1"
	_ "k8s.io/component-base/logs/json/register" // --logging-format=json
	"k8s.io/klog/v2"

	iamv1alpha1 "github.com/roster-dev/roster/api/v1alpha1"
	"github.com/roster-dev/roster/apiserver/server"
	"github.com/roster-dev/roster/controllers"
	"github.com/roster-dev/roster/internal/local"
	"github.com/roster-dev/roster/internal/plugin"
	"github.com/roster-dev/roster/internal/version"
)

func main() {
	if isPlugin(os.Args[0]) {
		os.Exit(plugin.Run(os.Args[1:], genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}))
	}
	if err := newRootCommand().Execute(); err != nil {
		os.Exit(1)
	}
}

// isPlugin reports whether the binary runs as the kubectl plugin: installed
// as kubectl-roster (kubectl-roster.exe on Windows), it is `kubectl roster`.
func isPlugin(arg0 string) bool {
	name := filepath.Base(arg0)
	return strings.TrimSuffix(name, filepath.Ext(name)) == "kubectl-roster"
}

// newRootCommand is `roster` and its commands.
func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "roster",
		Short:         "Roster: users and organizations for Kubernetes",
		Long:          "Roster runs the controllers of the iam.roster.dev CRDs (roster controllers), the directory.roster.dev\naggregated API server (roster apiserver), or a complete Roster on this machine (roster local).",
		Version:       version.String(),
		SilenceUsage:  true,
		SilenceErrors: false,
	}
	root.SetVersionTemplate("roster {{.Version}}\n")
	root.AddCommand(controllersCommand(), apiserverCommand(), localCommand(), &cobra.Command{
		Use:   "version",
		Short: "Print roster's version and commit",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), "roster "+version.String())
		},
	})
	return root
}

func controllersCommand() *cobra.Command {
	o := &controllerOptions{}
	cmd := &cobra.Command{
		Use:   "controllers",
		Short: "Run the controllers of the iam.roster.dev CRDs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(ctrl.SetupSignalHandler())
		},
	}
	o.addFlags(cmd.Flags())
	return cmd
}

func apiserverCommand() *cobra.Command {
	o := server.NewOptions()
	logOpts := logsapi.NewLoggingConfiguration()
	cmd := &cobra.Command{
		Use:   "apiserver",
		Short: "Run the directory.roster.dev aggregated API server",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := applyLogging(logOpts); err != nil {
				return err
			}
			srv, err := o.NewServer()
			if err != nil {
				return err
			}
			return srv.Run(genericapiserver.SetupSignalContext())
		},
	}
	o.AddFlags(cmd.Flags())
	logsapi.AddFlags(logOpts, cmd.Flags())
	return cmd
}

func localCommand() *cobra.Command {
	o := local.Options{Out: os.Stdout}
	logOpts := logsapi.NewLoggingConfiguration()
	cmd := &cobra.Command{
		Use:   "local",
		Short: "Run a complete Roster on this machine: etcd, kube-apiserver, the controllers, the directory and samples",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := applyLogging(logOpts); err != nil {
				return err
			}
			// Unlike ctrl.SetupSignalHandler, a second Ctrl-C does not exit at once:
			// etcd and kube-apiserver must be stopped, never orphaned.
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return local.Run(ctx, o)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.DataDir, "data-dir", ".data", "where etcd's data and the kubeconfigs are kept across restarts")
	fs.BoolVar(&o.Reset, "reset", false, "delete the data directory first and start over")
	fs.IntVar(&o.Port, "port", 6443, "kube-apiserver's port on 127.0.0.1 (1 to 65535)")
	fs.StringVar(&o.Assets, "assets", os.Getenv("KUBEBUILDER_ASSETS"), "directory of kube-apiserver, etcd and kubectl (hack/envtest.sh print-dir)")
	fs.StringVar(&o.CRDs, "crds", "config/crd/bases", "directory of the CRDs")
	fs.StringVar(&o.Samples, "samples", "config/samples", "directory of the sample manifests applied on first start")
	fs.StringVar(&o.Policy, "policy", "config/policy", "kustomization of the admission policies applied at every start (empty: none)")
	fs.IntVar(&o.MetricsPort, "metrics-port", 0, "the controllers' metrics port on 127.0.0.1 (0: a free one, printed in the guide)")
	logsapi.AddFlags(logOpts, fs)
	return cmd
}

// controllerOptions are the flags of `roster controllers`.
type controllerOptions struct {
	metricsAddr, probeAddr    string
	metricsSecure             bool
	leaderElect               bool
	leaderNamespace, leaderID string
	logging                   *logsapi.LoggingConfiguration
}

func (o *controllerOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.metricsAddr, "metrics-bind-address", ":8443", "address the metrics endpoint binds to (0: no metrics)")
	fs.BoolVar(&o.metricsSecure, "metrics-secure", true,
		"serve metrics over HTTPS, to callers kube-apiserver authenticates (TokenReview) and authorizes for get on /metrics (SubjectAccessReview)")
	fs.StringVar(&o.probeAddr, "health-probe-bind-address", ":8081", "address the health probes bind to")
	fs.BoolVar(&o.leaderElect, "leader-elect", true, "elect a leader so that only one replica reconciles at a time")
	fs.StringVar(&o.leaderNamespace, "leader-election-namespace", defaultNamespace(),
		"namespace of the leader election Lease (default: the pod's own namespace in a cluster, else roster-system)")
	fs.StringVar(&o.leaderID, "leader-election-id", "controllers.iam.roster.dev", "name of the leader election Lease")
	o.logging = logsapi.NewLoggingConfiguration()
	logsapi.AddFlags(o.logging, fs)
}

// runControllers parses args as `roster controllers` does and runs the
// controllers until ctx ends.
func runControllers(ctx context.Context, args []string) error {
	o := &controllerOptions{}
	fs := pflag.NewFlagSet("controllers", pflag.ContinueOnError)
	o.addFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("roster controllers takes no arguments, got %q", fs.Args())
	}
	return o.run(ctx)
}

func (o *controllerOptions) run(ctx context.Context) error {
	if err := applyLogging(o.logging); err != nil {
		return err
	}
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(iamv1alpha1.AddToScheme(scheme))

	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{
		Scheme:                  scheme,
		Metrics:                 o.metricsOptions(),
		HealthProbeBindAddress:  o.probeAddr,
		LeaderElection:          o.leaderElect,
		LeaderElectionID:        o.leaderID,
		LeaderElectionNamespace: o.leaderNamespace,
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

// metricsOptions serve the metrics as kubebuilder scaffolds them: over
// HTTPS (a self-signed certificate unless one is mounted) behind
// controller-runtime's authentication and authorization filter.
func (o *controllerOptions) metricsOptions() metricsserver.Options {
	m := metricsserver.Options{BindAddress: o.metricsAddr, SecureServing: o.metricsSecure}
	if o.metricsSecure {
		m.FilterProvider = filters.WithAuthenticationAndAuthorization
	}
	return m
}

// applyLogging applies the logging flags (--logging-format text or json, -v)
// to klog, and routes controller-runtime's logs through klog too: both
// components write one format with the same keys.
func applyLogging(c *logsapi.LoggingConfiguration) error {
	if err := logsapi.ValidateAndApply(c, nil); err != nil {
		return fmt.Errorf("logging flags: %w", err)
	}
	ctrl.SetLogger(klog.NewKlogr())
	return nil
}

// defaultNamespace is the namespace the controllers run in: the pod's own
// in a cluster, else roster-system, where config/ deploys them.
func defaultNamespace() string {
	if b, err := os.ReadFile("/var/run/secrets/kubernetes.io/serviceaccount/namespace"); err == nil && len(b) > 0 {
		return string(b)
	}
	return "roster-system"
}
