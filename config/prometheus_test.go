package config_test

import (
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"
)

// documents splits a rendered kustomization into its objects, decoded into
// fresh values by kind.
func documents(rendered string) map[string][]string {
	byKind := map[string][]string{}
	for _, doc := range strings.Split(rendered, "\n---\n") {
		var meta struct{ Kind string }
		Expect(yaml.Unmarshal([]byte(doc), &meta)).To(Succeed(), doc)
		byKind[meta.Kind] = append(byKind[meta.Kind], doc)
	}
	return byKind
}

var _ = Describe("config/prometheus", func() {
	It("has a metrics Service for the controllers' pods and ServiceMonitors the Prometheus Operator's types accept", func() {
		rendered, err := kubectl("kustomize", "prometheus")
		Expect(err).NotTo(HaveOccurred(), rendered)
		objects := documents(rendered)
		Expect(objects["Service"]).To(HaveLen(1))
		Expect(objects["ServiceMonitor"]).To(HaveLen(2))

		var svc corev1.Service
		Expect(yaml.UnmarshalStrict([]byte(objects["Service"][0]), &svc)).To(Succeed())

		By("the Service selects the controllers' pods and their metrics port")
		var deploy appsv1.Deployment
		manager, err := os.ReadFile(filepath.Join("manager", "manager.yaml"))
		Expect(err).NotTo(HaveOccurred())
		for _, doc := range strings.Split(string(manager), "\n---\n") {
			if strings.Contains(doc, "kind: Deployment") {
				Expect(yaml.UnmarshalStrict([]byte(doc), &deploy)).To(Succeed())
			}
		}
		pod := deploy.Spec.Template
		Expect(labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(pod.Labels))).To(BeTrue(), "the Service selects %v", pod.Labels)
		var ports []string
		for _, p := range pod.Spec.Containers[0].Ports {
			ports = append(ports, p.Name)
		}
		Expect(ports).To(ContainElement(svc.Spec.Ports[0].TargetPort.StrVal))
		Expect(pod.Spec.Containers[0].Args).To(ContainElement("--metrics-bind-address=:8443"))

		By("each ServiceMonitor decodes strictly and selects its Service's port")
		apiserverService, err := os.ReadFile(filepath.Join("apiserver", "service.yaml"))
		Expect(err).NotTo(HaveOccurred())
		var directory corev1.Service
		Expect(yaml.UnmarshalStrict(apiserverService, &directory)).To(Succeed())
		services := map[string]corev1.Service{"roster-controllers": svc, "roster-directory": directory}
		for _, doc := range objects["ServiceMonitor"] {
			var sm monitoringv1.ServiceMonitor
			Expect(yaml.UnmarshalStrict([]byte(doc), &sm)).To(Succeed(), doc)
			target, ok := services[sm.Name]
			Expect(ok).To(BeTrue(), "a ServiceMonitor for %s", sm.Name)
			selector := labels.SelectorFromSet(sm.Spec.Selector.MatchLabels)
			Expect(selector.Matches(labels.Set(target.Labels))).To(BeTrue(), "%s selects %s", sm.Name, target.Name)
			Expect(sm.Spec.Endpoints).To(HaveLen(1))
			Expect(sm.Spec.Endpoints[0].Port).To(Equal(target.Spec.Ports[0].Name))
			Expect(sm.Namespace).To(Equal(target.Namespace))
		}

		By("kube-apiserver accepts the Service in a server-side dry run")
		// In a namespace of this spec's own: another spec creates and
		// deletes roster-system.
		own := strings.ReplaceAll(objects["Service"][0], "namespace: roster-system", "namespace: roster-prometheus-test")
		serverDryRun("roster-prometheus-test", own)
	})
})
