package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	authenticationv1 "k8s.io/api/authentication/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	iamv1alpha1 "github.com/roster-dev/roster/api/v1alpha1"
	"github.com/roster-dev/roster/internal/version"

	"github.com/roster-dev/roster/internal/testenv"
)

// `roster controllers` outside a cluster, with its defaults, elects its leader
// in roster-system (hardening 11), and serves its metrics securely.
func TestControllersStartOutsideACluster(t *testing.T) {
	g := NewWithT(t)
	env := &envtest.Environment{CRDDirectoryPaths: []string{filepath.Join("config", "crd", "bases")}, ErrorIfCRDPathMissing: true}
	cfg, err := env.Start()
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = env.Stop() })
	c, err := client.New(cfg, client.Options{Scheme: testenv.Scheme})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(c.Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "roster-system"}})).To(Succeed())
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	g.Expect(testenv.WriteKubeconfig(cfg, kubeconfig)).To(Succeed())
	t.Setenv("KUBECONFIG", kubeconfig)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	g.Expect(err).NotTo(HaveOccurred())
	metricsAddr := ln.Addr().String()
	g.Expect(ln.Close()).To(Succeed())
	for _, name := range []string{"alice", "bob"} {
		g.Expect(c.Create(t.Context(), &iamv1alpha1.User{ObjectMeta: metav1.ObjectMeta{Name: name}})).To(Succeed())
	}

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- runControllers(ctx, []string{"--metrics-bind-address=" + metricsAddr, "--health-probe-bind-address=0"})
	}()
	g.Eventually(func(g Gomega) {
		select {
		case err := <-done:
			StopTrying(fmt.Sprintf("roster controllers stopped: %v", err)).Now()
		default:
		}
		lease := &coordinationv1.Lease{}
		g.Expect(c.Get(ctx, client.ObjectKey{Namespace: "roster-system", Name: "controllers.iam.roster.dev"}, lease)).To(Succeed())
		g.Expect(lease.Spec.HolderIdentity).NotTo(BeNil())
	}, time.Minute, 200*time.Millisecond).Should(Succeed())

	// The metrics are served as kubebuilder scaffolds them: HTTPS, and only
	// to a caller kube-apiserver authenticates and authorizes for /metrics.
	scrape := func(token string) (int, string) {
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, Timeout: 10 * time.Second}
		req, err := http.NewRequestWithContext(ctx, "GET", "https://"+metricsAddr+"/metrics", nil)
		g.Expect(err).NotTo(HaveOccurred())
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := hc.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	g.Eventually(func() int { code, _ := scrape(""); return code }, 30*time.Second, 200*time.Millisecond).Should(Equal(http.StatusUnauthorized))
	cs, err := kubernetes.NewForConfig(cfg)
	g.Expect(err).NotTo(HaveOccurred())
	// The scraper is bound to config/rbac's roster-metrics-reader; the
	// stranger is not. (The filter caches decisions, so each token is tried
	// only once its rights are final.)
	token := func(name string) string {
		g.Expect(c.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "roster-system", Name: name}})).To(Succeed())
		tr, err := cs.CoreV1().ServiceAccounts("roster-system").CreateToken(ctx, name, &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		return tr.Status.Token
	}
	scraper, stranger := token("scraper"), token("stranger")
	role := &rbacv1.ClusterRole{}
	b, err := os.ReadFile(filepath.Join("config", "rbac", "metrics_reader_role.yaml"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(yaml.UnmarshalStrict(b, role)).To(Succeed())
	g.Expect(c.Create(ctx, role)).To(Succeed())
	g.Expect(c.Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "scraper-metrics"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: "roster-system", Name: "scraper"}},
	})).To(Succeed())
	code, body := scrape(stranger)
	g.Expect(code).To(Equal(http.StatusForbidden), body)
	g.Eventually(func(g Gomega) {
		code, body := scrape(scraper)
		g.Expect(code).To(Equal(http.StatusOK), body)
		g.Expect(body).To(ContainSubstring(fmt.Sprintf(`roster_build_info{commit=%q,goversion=%q,version=%q} 1`,
			version.Commit, runtime.Version(), version.Version)), "the build info says what roster version says")
		total := 0
		for _, l := range strings.Split(body, "\n") {
			if strings.HasPrefix(l, "roster_users{") {
				n, err := strconv.Atoi(l[strings.LastIndex(l, " ")+1:])
				g.Expect(err).NotTo(HaveOccurred(), l)
				total += n
			}
		}
		g.Expect(total).To(Equal(2), "roster_users counts the two users")
	}, 30*time.Second, 200*time.Millisecond).Should(Succeed())
	cancel()
	g.Eventually(done, 30*time.Second).Should(Receive(BeNil()))
}
