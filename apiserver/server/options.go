package server

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/spf13/pflag"
	apimachineryversion "k8s.io/apimachinery/pkg/version"
	openapinamer "k8s.io/apiserver/pkg/endpoints/openapi"
	genericapiserver "k8s.io/apiserver/pkg/server"
	genericoptions "k8s.io/apiserver/pkg/server/options"
	utilcompatibility "k8s.io/apiserver/pkg/util/compatibility"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	basecompatibility "k8s.io/component-base/compatibility"

	"github.com/roster-dev/roster/apiserver/directory"
	generatedopenapi "github.com/roster-dev/roster/apiserver/generated/openapi"
	"github.com/roster-dev/roster/apiserver/query"
	"github.com/roster-dev/roster/internal/version"
)

// Options are the directory server's flags.
type Options struct {
	SecureServing  *genericoptions.SecureServingOptionsWithLoopback
	Authentication *genericoptions.DelegatingAuthenticationOptions
	Authorization  *genericoptions.DelegatingAuthorizationOptions
	Audit          *genericoptions.AuditOptions

	// Kubeconfig reaches kube-apiserver with the server's own credentials;
	// empty means in-cluster.
	Kubeconfig string
	// AdminGroups are the Kubernetes groups whose members are administrators.
	AdminGroups []string
	// AllowSelfRegistration lets a caller with no User create its own.
	AllowSelfRegistration bool
	// MaxPageSize caps page_size.
	MaxPageSize int
	// LastLoginInterval is the least time between two lastLogin writes per user.
	LastLoginInterval time.Duration
	// DefaultPrivilege is the privilege group of a User with none.
	DefaultPrivilege string
}

// NewOptions returns the defaults.
func NewOptions() *Options {
	o := &Options{
		SecureServing:     genericoptions.NewSecureServingOptions().WithLoopback(),
		Authentication:    genericoptions.NewDelegatingAuthenticationOptions(),
		Authorization:     genericoptions.NewDelegatingAuthorizationOptions(),
		Audit:             genericoptions.NewAuditOptions(),
		AdminGroups:       []string{"system:masters"},
		MaxPageSize:       1000,
		LastLoginInterval: time.Minute,
		DefaultPrivilege:  "user",
	}
	o.SecureServing.BindPort = 8443
	// kube-apiserver proxies requests to the directory with headers of its
	// own added. Over HTTP/2 a request just under kube-apiserver's header
	// limit then exceeds the directory's (the same 1 MiB), and the proxy
	// fails it with a 503; over HTTP/1.1 the directory answers it with a 431.
	// docs/security.md.
	o.SecureServing.DisableHTTP2Serving = true
	o.SecureServing.ServerCert.CertDirectory = ""
	o.SecureServing.ServerCert.PairName = "apiserver"
	return o
}

// AddFlags registers the flags.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	o.SecureServing.AddFlags(fs)
	o.Authentication.AddFlags(fs)
	o.Authorization.AddFlags(fs)
	o.Audit.AddFlags(fs)
	fs.StringVar(&o.Kubeconfig, "kubeconfig", o.Kubeconfig, "kubeconfig with the server's own credentials (default: in-cluster)")
	fs.StringSliceVar(&o.AdminGroups, "admin-groups", o.AdminGroups, "Kubernetes groups whose members are directory administrators")
	fs.BoolVar(&o.AllowSelfRegistration, "allow-self-registration", o.AllowSelfRegistration, "let a caller with no User create its own")
	fs.IntVar(&o.MaxPageSize, "max-page-size", o.MaxPageSize, "the largest page_size a list request may ask for")
	fs.DurationVar(&o.LastLoginInterval, "last-login-interval", o.LastLoginInterval, "least time between two lastLogin updates of a user (0 disables them)")
	fs.StringVar(&o.DefaultPrivilege, "default-privilege", o.DefaultPrivilege, "privilege group of a User with none of admin, business, user, worker in its groups")
}

// Validate checks the options.
func (o *Options) Validate() error {
	var errs []error
	errs = append(errs, o.SecureServing.Validate()...)
	errs = append(errs, o.Authentication.Validate()...)
	errs = append(errs, o.Authorization.Validate()...)
	errs = append(errs, o.Audit.Validate()...)
	if o.MaxPageSize < 1 {
		errs = append(errs, fmt.Errorf("--max-page-size must be at least 1"))
	}
	if _, err := directory.ParsePrivilege(o.DefaultPrivilege); err != nil {
		errs = append(errs, fmt.Errorf("--default-privilege: %w", err))
	}
	return errors.Join(errs...)
}

// Config builds the server's configuration.
func (o *Options) Config() (*Config, error) {
	if err := o.SecureServing.MaybeDefaultWithSelfSignedCerts("localhost", nil, []net.IP{net.ParseIP("127.0.0.1")}); err != nil {
		return nil, fmt.Errorf("creating self-signed certificates: %w", err)
	}
	restConfig, err := o.restConfig()
	if err != nil {
		return nil, err
	}
	if o.Kubeconfig != "" {
		o.Authentication.RemoteKubeConfigFile = o.Kubeconfig
		o.Authorization.RemoteKubeConfigFile = o.Kubeconfig
	}

	defaultPrivilege, err := directory.ParsePrivilege(o.DefaultPrivilege)
	if err != nil {
		return nil, fmt.Errorf("--default-privilege: %w", err)
	}
	generic := genericapiserver.NewConfig(Codecs)
	generic.EffectiveVersion = rosterVersion{utilcompatibility.DefaultBuildEffectiveVersion()}
	generic.OpenAPIConfig = genericapiserver.DefaultOpenAPIConfig(generatedopenapi.GetOpenAPIDefinitions, openapinamer.NewDefinitionNamer(Scheme))
	generic.OpenAPIConfig.Info.Title = "Roster directory"
	generic.OpenAPIConfig.Info.Version = "v1alpha1"
	generic.OpenAPIV3Config = genericapiserver.DefaultOpenAPIV3Config(generatedopenapi.GetOpenAPIDefinitions, openapinamer.NewDefinitionNamer(Scheme))
	generic.OpenAPIV3Config.Info.Title = "Roster directory"
	generic.OpenAPIV3Config.Info.Version = "v1alpha1"
	// The server answers from memory; priority and fairness would need a
	// clientset of its own and buys nothing here.
	generic.FlowControl = nil

	if err := o.SecureServing.ApplyTo(&generic.SecureServing, &generic.LoopbackClientConfig); err != nil {
		return nil, err
	}
	if err := o.Authentication.ApplyTo(&generic.Authentication, generic.SecureServing, generic.OpenAPIConfig); err != nil {
		return nil, err
	}
	if err := o.Authorization.ApplyTo(&generic.Authorization); err != nil {
		return nil, err
	}
	if err := o.Audit.ApplyTo(generic); err != nil {
		return nil, err
	}
	return &Config{
		Generic: generic,
		Rest:    restConfig,
		Directory: directory.Options{
			AdminGroups:           o.AdminGroups,
			AllowSelfRegistration: o.AllowSelfRegistration,
			LastLoginInterval:     o.LastLoginInterval,
			DefaultPrivilege:      defaultPrivilege,
			Page:                  query.ParseOptions{DefaultPageSize: 10, MaxPageSize: o.MaxPageSize},
		},
	}, nil
}

func (o *Options) restConfig() (*rest.Config, error) {
	var cfg *rest.Config
	var err error
	if o.Kubeconfig != "" {
		cfg, err = clientcmd.BuildConfigFromFlags("", o.Kubeconfig)
	} else {
		cfg, err = rest.InClusterConfig()
	}
	if err != nil {
		return nil, fmt.Errorf("loading the server's kubeconfig: %w", err)
	}
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = 50, 100
	cfg.UserAgent = "roster-directory"
	return cfg, nil
}

// NewServer validates the options and builds the server from them.
func (o *Options) NewServer() (*Server, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	cfg, err := o.Config()
	if err != nil {
		return nil, err
	}
	return cfg.Complete().New()
}

// rosterVersion is the generic server's effective version (which decides the
// Kubernetes APIs and features it emulates) with /version telling Roster's
// own build, as `roster version` prints it.
type rosterVersion struct {
	basecompatibility.EffectiveVersion
}

func (v rosterVersion) Info() *apimachineryversion.Info {
	info := v.EffectiveVersion.Info()
	if info == nil {
		info = &apimachineryversion.Info{}
	}
	out := *info
	out.GitVersion, out.GitCommit = version.Version, version.Commit
	out.GitTreeState = ""
	if strings.HasSuffix(version.Version, "-dirty") {
		out.GitTreeState = "dirty"
	}
	return &out
}
