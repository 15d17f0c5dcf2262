package server_test

import (
	"slices"
	"strconv"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	iamv1alpha1 "github.com/roster-dev/roster/api/v1alpha1"
	"github.com/roster-dev/roster/internal/testenv"
)

// The directory the specs read: the shared people and seats, and judy, a
// worker of acme.
var (
	people = append(slices.Clone(testenv.People), testenv.Person{Name: "judy", First: "Judy", Last: "García", ID: 11})
	seats  = append(slices.Clone(testenv.Seats), testenv.Seat{Org: "acme", User: "judy", Role: iamv1alpha1.RoleWorker})
)

// seat is a membership a spec makes of its own.
type seat struct {
	org, user string
	role      iamv1alpha1.MembershipRole
	pending   bool
}

var orgIDs = map[string]int64{"acme": 1, "globex": 2, "vacant": 3}

func seed() {
	By("seeding users, organizations and memberships")
	Expect(testenv.Seed(ctx, k8sClient, people, orgIDs, seats)).To(Succeed())
	Eventually(func(g Gomega) {
		r := do(as("admin"), "GET", base+"?page_size=50", nil)
		g.Expect(r.Code).To(Equal(200), string(r.Body))
		g.Expect(r.JSON()["count"]).To(BeNumerically("==", len(people)))
		r = do(as("admin"), "GET", base+"?org=acme", nil)
		g.Expect(r.Code).To(Equal(200), string(r.Body))
		g.Expect(r.JSON()["count"]).To(BeNumerically("==", 6))
	}, time.Minute, 250*time.Millisecond).Should(Succeed())
}

func createMembership(s seat) error {
	return testenv.CreateMembership(ctx, k8sClient, testenv.Seat{Org: s.org, User: s.user, Role: s.role, Pending: s.pending})
}

func deleteMembership(org, user string) error {
	return k8sClient.Delete(ctx, &iamv1alpha1.Membership{ObjectMeta: metav1.ObjectMeta{Name: iamv1alpha1.MembershipName(org, user)}})
}

// ids lists the numeric IDs of a list body's items, in order.
func ids(r response) []string {
	GinkgoHelper()
	var out []string
	for _, it := range r.JSON()["items"].([]any) {
		out = append(out, strconv.FormatFloat(it.(map[string]any)["id"].(float64), 'f', -1, 64))
	}
	return out
}
