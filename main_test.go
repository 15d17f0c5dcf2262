package main

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/roster-dev/roster/internal/testenv"
)

// `roster controllers` outside a cluster, with its defaults, elects its leader
// in roster-system (hardening 11).
func TestControllersStartOutsideACluster(t *testing.T) {
	g := NewWithT(t)
	env := &envtest.Environment{CRDDirectoryPaths: []string{filepath.Join("config", "crd", "bases")}, ErrorIfCRDPathMissing: true}
	cfg, err := env.Start()
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = env.Stop() })
	c, err := client.New(cfg, client.Options{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(c.Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "roster-system"}})).To(Succeed())
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	g.Expect(testenv.WriteKubeconfig(cfg, kubeconfig)).To(Succeed())
	t.Setenv("KUBECONFIG", kubeconfig)

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- runControllers(ctx, []string{"--metrics-bind-address=0", "--health-probe-bind-address=0"})
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
	cancel()
	g.Eventually(done, 30*time.Second).Should(Receive(BeNil()))
}
