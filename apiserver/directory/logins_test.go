package directory

import (
	"context"
	"errors"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/component-base/metrics/testutil"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	iamv1alpha1 "github.com/roster-dev/roster/api/v1alpha1"
)

// A lastLogin write that fails is counted (and logged), never silent, and
// the request it came with goes on.
func TestLoginRecorderCountsFailures(t *testing.T) {
	g := NewWithT(t)
	scheme := runtime.NewScheme()
	g.Expect(iamv1alpha1.AddToScheme(scheme)).To(Succeed())
	u := &iamv1alpha1.User{ObjectMeta: metav1.ObjectMeta{Name: "ann", UID: "u-ann"}}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(u).WithInterceptorFuncs(interceptor.Funcs{
		SubResourcePatch: func(context.Context, client.Client, string, client.Object, client.Patch, ...client.SubResourcePatchOption) error {
			return errors.New("the API server is away")
		},
	}).Build()
	failures := func() float64 {
		v, err := testutil.GetCounterMetricValue(lastLoginWrites.WithLabelValues("failure"))
		g.Expect(err).NotTo(HaveOccurred())
		return v
	}
	before := failures()
	r := newLoginRecorder(c, time.Minute)
	r.record(t.Context(), &Directory{}, u)
	g.Expect(failures()).To(Equal(before + 1))
	g.Expect(u.Status.LastLogin).To(BeNil(), "the caller's record is left as it was")
}
