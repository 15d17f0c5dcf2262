package server_test

import (
	"bytes"
	"net/http"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"k8s.io/client-go/rest"

	"github.com/roster-dev/roster/internal/version"
)

// scrape reads the directory server's own /metrics (kube-apiserver does not
// proxy it): the value of metric with the given labels, or -1 when absent.
// Histograms give their sample count.
func scrape(metric string, labels ...string) float64 {
	GinkgoHelper()
	r := do(stack.Direct, "GET", "/metrics", nil)
	Expect(r.Code).To(Equal(200), string(r.Body))
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(r.Body))
	Expect(err).NotTo(HaveOccurred())
	f, ok := families[metric]
	if !ok {
		return -1
	}
next:
	for _, m := range f.GetMetric() {
		for i := 0; i+1 < len(labels); i += 2 {
			if label(m, labels[i]) != labels[i+1] {
				continue next
			}
		}
		switch {
		case m.Gauge != nil:
			return m.GetGauge().GetValue()
		case m.Counter != nil:
			return m.GetCounter().GetValue()
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount())
		}
	}
	return -1
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// countOf is the count of an administrator's list at path.
func countOf(path string) float64 {
	GinkgoHelper()
	r := do(as("admin"), "GET", path, nil)
	Expect(r.Code).To(Equal(200), string(r.Body))
	return r.JSON()["count"].(float64)
}

var _ = Describe("The directory's /version and /metrics", func() {
	It("tells Roster's version and commit on /version, as roster version does", func() {
		r := do(stack.Direct, "GET", "/version", nil)
		Expect(r.Code).To(Equal(200), string(r.Body))
		Expect(r.JSON()).To(HaveKeyWithValue("gitVersion", version.Version))
		Expect(r.JSON()).To(HaveKeyWithValue("gitCommit", version.Commit))
		Expect(string(r.Body)).NotTo(ContainSubstring("$Format"))
	})

	It("counts the users and memberships the index holds", func() {
		Eventually(func(g Gomega) {
			g.Expect(scrape("roster_directory_index_objects", "kind", "users")).To(Equal(countOf(base + "?page_size=1")))
			g.Expect(scrape("roster_directory_index_objects", "kind", "memberships")).To(Equal(countOf(memberships + "?page_size=1")))
		}).Should(Succeed())
		Expect(scrape("roster_directory_index_objects", "kind", "users")).To(BeNumerically(">=", len(people)))
		Expect(scrape("roster_directory_snapshot_age_seconds")).To(BeNumerically(">=", 0))
	})

	It("counts each request by kind", func() {
		for _, k := range []struct{ kind, path string }{
			{"page", base + "?page=1"},
			{"search", base + "?search=ali"},
			{"org", base + "?org=acme"},
			{"jsonlogic", base + `?filter={"==":[{"var":"is_active"},true]}`},
			{"get", base + "/alice"},
			{"memberships", memberships + "?org=acme"},
		} {
			before := max(scrape("roster_directory_request_duration_seconds", "kind", k.kind), 0)
			r := do(as("admin"), "GET", k.path, nil)
			Expect(r.Code).To(Equal(200), string(r.Body))
			Expect(scrape("roster_directory_request_duration_seconds", "kind", k.kind)).To(Equal(before+1), k.kind)
		}
		before := max(scrape("roster_directory_request_duration_seconds", "kind", "write"), 0)
		r := do(as("alice"), "PATCH", base+"/self?dryRun=All", []byte(`{"firstName":"Alicia"}`))
		Expect(r.Code).To(Equal(200), string(r.Body))
		Expect(scrape("roster_directory_request_duration_seconds", "kind", "write")).To(Equal(before + 1))
	})

	It("counts open watches", func() {
		watchers := func() float64 { return max(scrape("roster_directory_watchers", "resource", "users"), 0) }
		// Watches of earlier specs end when the server notices their client
		// left: wait until the gauge holds still.
		var before float64
		Eventually(func(g Gomega) {
			before = watchers()
			g.Consistently(watchers, time.Second, 100*time.Millisecond).Should(Equal(before))
		}).Should(Succeed())
		wctx, stop := ctxWithCancel()
		cfg := rest.CopyConfig(as("alice"))
		cfg.Timeout = 0
		hc, err := rest.HTTPClientFor(cfg)
		Expect(err).NotTo(HaveOccurred())
		req, err := http.NewRequestWithContext(wctx, "GET", strings.TrimSuffix(cfg.Host, "/")+base+"?watch=true", nil)
		Expect(err).NotTo(HaveOccurred())
		resp, err := hc.Do(req)
		Expect(err).NotTo(HaveOccurred())
		Expect(resp.StatusCode).To(Equal(200))
		Eventually(watchers).Should(Equal(before + 1))
		stop()
		_ = resp.Body.Close()
		Eventually(watchers).Should(Equal(before))
	})
})
