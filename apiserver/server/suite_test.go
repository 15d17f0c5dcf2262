package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/roster-dev/roster/apiserver/server"
	"github.com/roster-dev/roster/internal/testenv"
	"github.com/roster-dev/roster/internal/version"
)

// The suite runs one kube-apiserver with the aggregation layer configured and
// one directory server in this process on 127.0.0.1, registered through an
// ExternalName Service and an APIService, and reaches it only through
// kube-apiserver, as a user would.
var (
	ctx       context.Context
	cancel    context.CancelFunc
	stack     *testenv.Stack
	k8sClient client.Client
	adminCfg  *rest.Config
	workDir   string
)

func TestServer(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Directory Server Suite")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	// Caches and controllers are asynchronous; a loaded CI machine needs more
	// than Gomega's one-second default.
	SetDefaultEventuallyTimeout(30 * time.Second)
	SetDefaultEventuallyPollingInterval(100 * time.Millisecond)
	ctx, cancel = context.WithCancel(context.Background())
	var err error
	workDir, err = os.MkdirTemp("", "roster-directory-test-")
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { _ = os.RemoveAll(workDir) })

	// What the Makefile stamps with -ldflags: /version must tell it.
	version.Version, version.Commit = "v1.2.3-test", "0123abc"
	By("starting kube-apiserver and the directory server, registered through an APIService")
	stack = &testenv.Stack{
		Env: &envtest.Environment{
			CRDDirectoryPaths:     []string{filepath.Join("..", "..", "config", "crd", "bases")},
			ErrorIfCRDPathMissing: true,
		},
		Dir: workDir,
		Tune: func(o *server.Options) {
			o.MaxPageSize = 50
			o.AllowSelfRegistration = true
		},
	}
	Expect(stack.Start(ctx)).To(Succeed())
	k8sClient, adminCfg = stack.Client, stack.Admin
	seed()
})

var _ = AfterSuite(func() {
	cancel()
	if stack != nil {
		Expect(stack.Stop()).To(Succeed())
	}
})

// ctxWithCancel returns a child of the suite's context.
func ctxWithCancel() (context.Context, context.CancelFunc) {
	return context.WithCancel(ctx)
}

// writeKubeconfig saves cfg as a kubeconfig in the suite's directory.
func writeKubeconfig(cfg *rest.Config, name string) string {
	path := filepath.Join(workDir, name)
	Expect(testenv.WriteKubeconfig(cfg, path)).To(Succeed())
	return path
}

// as returns a client configuration that impersonates a Kubernetes user
// through kube-apiserver.
func as(user string, groups ...string) *rest.Config {
	cfg := rest.CopyConfig(adminCfg)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: append([]string{"system:authenticated"}, groups...)}
	return cfg
}

// response is what a request through kube-apiserver returned.
type response struct {
	Code int
	Body []byte
}

// JSON decodes the body.
func (r response) JSON() map[string]any {
	GinkgoHelper()
	var m map[string]any
	Expect(json.Unmarshal(r.Body, &m)).To(Succeed(), string(r.Body))
	return m
}

// Message is the message of a Status body.
func (r response) Message() string {
	GinkgoHelper()
	return r.JSON()["message"].(string)
}

// Names lists metadata.name of the items of a list body.
func (r response) Names() []string {
	GinkgoHelper()
	var names []string
	for _, it := range r.JSON()["items"].([]any) {
		names = append(names, it.(map[string]any)["metadata"].(map[string]any)["name"].(string))
	}
	return names
}

const base = "/apis/directory.roster.dev/v1alpha1/users"

// do sends one request through kube-apiserver.
func do(cfg *rest.Config, method, path string, body []byte, header ...string) response {
	GinkgoHelper()
	hc, err := rest.HTTPClientFor(cfg)
	Expect(err).NotTo(HaveOccurred())
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(cfg.Host, "/")+path, bytes.NewReader(body))
	Expect(err).NotTo(HaveOccurred())
	req.Header.Set("Accept", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	if body != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/merge-patch+json")
	}
	resp, err := hc.Do(req)
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	Expect(err).NotTo(HaveOccurred())
	return response{Code: resp.StatusCode, Body: b}
}

// kubectl runs the real kubectl with a kubeconfig for cfg.
func kubectl(cfg *rest.Config, args ...string) (string, error) {
	return kubectlIn(cfg, "", args...)
}

// kubectlIn runs kubectl with stdin as its standard input.
func kubectlIn(cfg *rest.Config, stdin string, args ...string) (string, error) {
	cmd := kubectlCmd(ctx, cfg, args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// kubectlCmd prepares the real kubectl with a kubeconfig for cfg.
//
// kubectl caches discovery per host and port for six hours, so each suite
// keeps its own cache: an entry an earlier run left for the same port, from a
// kube-apiserver without the directory, once made kubectl resolve "users" to
// users.iam.roster.dev here. (Stack.Start has waited until kube-apiserver's
// own discovery resolves "users" to the directory.)
func kubectlCmd(ctx context.Context, cfg *rest.Config, args ...string) *exec.Cmd {
	GinkgoHelper()
	path := writeKubeconfig(cfg, "kubectl-"+cfg.Impersonate.UserName+".kubeconfig")
	cmd := exec.CommandContext(ctx, filepath.Join(os.Getenv("KUBEBUILDER_ASSETS"), "kubectl"),
		append([]string{"--kubeconfig", path}, args...)...)
	cmd.Env = append(os.Environ(), "KUBECACHEDIR="+filepath.Join(workDir, "kube-cache"))
	return cmd
}
