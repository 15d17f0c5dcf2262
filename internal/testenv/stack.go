package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	iamv1alpha1 "github.com/roster-dev/roster/api/v1alpha1"
	"github.com/roster-dev/roster/apiserver/server"
)

// Scheme holds the types the local stack reads and writes.
var Scheme = runtime.NewScheme()

func init() {
	utilruntime.Must(clientgoscheme.AddToScheme(Scheme))
	utilruntime.Must(iamv1alpha1.AddToScheme(Scheme))
}

// Stack is a kube-apiserver with the aggregation layer and the directory
// server registered with it: what `roster local`, the end-to-end tests and
// the benchmarks run.
type Stack struct {
	// Env is the control plane; set its fields before Start.
	Env *envtest.Environment
	// Dir holds the certificates and kubeconfigs.
	Dir string
	// Tune adjusts the directory server's options before it starts.
	Tune func(*server.Options)

	// Admin reaches kube-apiserver as a member of system:masters.
	Admin *rest.Config
	// Client is a client of kube-apiserver with Admin's credentials.
	Client client.Client
	// Direct reaches the directory server itself, not through kube-apiserver,
	// with Admin's client certificate: for what kube-apiserver does not
	// proxy, such as the directory's /metrics and /version.
	Direct *rest.Config

	agg *Aggregation
	// port and kubeconfig are the directory server's, kept for a restart.
	port       int
	kubeconfig string
	started    bool
	cancel     context.CancelFunc
	done       chan struct{}
	err        error
}

// Start starts the control plane, the directory server on a free port of
// 127.0.0.1 with credentials of its own, and registers it; it returns when
// kube-apiserver reports the APIService Available and its discovery resolves
// "users" to the directory. On an error it stops what
// it started.
func (s *Stack) Start(ctx context.Context) error {
	if err := s.start(ctx); err != nil {
		return errors.Join(err, s.Stop())
	}
	return nil
}

func (s *Stack) start(ctx context.Context) error {
	var err error
	if s.agg, err = NewAggregation(filepath.Join(s.Dir, "pki")); err != nil {
		return err
	}
	args := s.Env.ControlPlane.GetAPIServer().Configure()
	for k, v := range s.agg.APIServerFlags() {
		args.Set(k, v)
	}
	// Set first: Env.Start can fail after it started etcd and kube-apiserver
	// (installing the CRDs, say), and Stop must stop them then too.
	s.started = true
	if _, err := s.Env.Start(); err != nil {
		return fmt.Errorf("starting etcd and kube-apiserver: %w", err)
	}
	if s.Admin, _, err = s.Identity("admin", "system:masters"); err != nil {
		return err
	}
	if s.Client, err = client.New(s.Admin, client.Options{Scheme: Scheme}); err != nil {
		return err
	}
	_, kubeconfig, err := s.Identity("roster-directory", "system:masters")
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	s.port, s.kubeconfig = portOf(ln.Addr()), kubeconfig
	port := s.port
	s.Direct = rest.CopyConfig(s.Admin)
	s.Direct.Host = fmt.Sprintf("https://127.0.0.1:%d", port)
	s.Direct.TLSClientConfig.CAData, s.Direct.TLSClientConfig.CAFile = s.agg.ServingCA, ""
	if err := s.serve(ctx, ln); err != nil {
		return err
	}

	if err := Register(ctx, s.Client, port, s.agg.ServingCA); err != nil {
		return err
	}
	if err := s.Wait(ctx, 2*time.Minute, func() (bool, string) {
		ok, msg, err := Available(ctx, s.Client)
		if err != nil {
			return false, err.Error()
		}
		return ok, msg
	}); err != nil {
		return err
	}
	// Available is not enough: kube-apiserver builds its discovery document
	// apart from the availability check, and retries a failed fetch with a
	// backoff of up to a minute. Until it lists the directory's users, kubectl
	// resolves "users" to the CRD.
	return s.Wait(ctx, 2*time.Minute, func() (bool, string) {
		return Discovered(s.Admin)
	})
}

// serve starts the directory server on ln.
func (s *Stack) serve(ctx context.Context, ln net.Listener) error {
	o := server.NewOptions()
	o.SecureServing.Listener = ln
	o.SecureServing.BindAddress = net.ParseIP("127.0.0.1")
	o.SecureServing.BindPort = s.port
	o.SecureServing.ServerCert.CertKey.CertFile = s.agg.ServingCertFile
	o.SecureServing.ServerCert.CertKey.KeyFile = s.agg.ServingKeyFile
	o.Kubeconfig = s.kubeconfig
	if s.Tune != nil {
		s.Tune(o)
	}
	srv, err := o.NewServer()
	if err != nil {
		_ = ln.Close()
		return err
	}
	var serveCtx context.Context
	serveCtx, s.cancel = context.WithCancel(ctx)
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		s.err = srv.Run(serveCtx)
	}()
	return nil
}

// RestartDirectory stops the directory server and starts a new one on the
// same port, as a rolling update of its Deployment would: kube-apiserver
// keeps sending it requests. It returns once the new server listens.
func (s *Stack) RestartDirectory(ctx context.Context) error {
	s.cancel()
	select {
	case <-s.done:
	case <-time.After(time.Minute):
		return errors.New("the directory server did not stop within a minute")
	}
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", s.port))
	if err != nil {
		return fmt.Errorf("listening again on the directory's port: %w", err)
	}
	return s.serve(ctx, ln)
}

// Identity provisions a Kubernetes user with a client certificate and writes
// its kubeconfig to <Dir>/kubeconfigs/<name>.kubeconfig.
func (s *Stack) Identity(name string, groups ...string) (*rest.Config, string, error) {
	u, err := s.Env.AddUser(envtest.User{Name: name, Groups: groups}, nil)
	if err != nil {
		return nil, "", err
	}
	path := filepath.Join(s.Dir, "kubeconfigs", name+".kubeconfig")
	return u.Config(), path, WriteKubeconfig(u.Config(), path)
}

// Done is closed when the directory server has stopped.
func (s *Stack) Done() <-chan struct{} { return s.done }

// Wait polls done every 250ms until it holds, the directory server stops, or
// timeout passes.
func (s *Stack) Wait(ctx context.Context, timeout time.Duration, done func() (bool, string)) error {
	deadline := time.After(timeout)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, last := done()
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.done:
			return errors.Join(errors.New("the directory server stopped"), s.err)
		case <-deadline:
			return fmt.Errorf("timed out: %s", last)
		case <-tick.C:
		}
	}
}

// Stop stops the directory server first (its watches would hold
// kube-apiserver's shutdown), then kube-apiserver and etcd.
func (s *Stack) Stop() error {
	if s.cancel != nil {
		s.cancel()
		select {
		case <-s.done:
		case <-time.After(time.Minute):
		}
	}
	if !s.started {
		return nil
	}
	return s.Env.Stop()
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
