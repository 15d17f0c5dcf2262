package server_test

import (
	"strconv"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/roster-dev/roster/api/v1alpha1"
)

// The directory the specs read. IDs are set by hand so that expectations are
// exact; the controllers that normally allocate them are tested on their own.
type person struct {
	name, first, last string
	id                int64
	inactive, super   bool
}

var people = []person{
	{"admin", "Ada", "Lindqvist", 1, false, true},
	{"alice", "Alice", "Nguyen", 2, false, false},
	{"bob", "Bob", "Okafor", 3, false, false},
	{"carol", "Carol", "Müller", 4, false, false},
	{"dave", "Dave", "Alimov", 5, false, false},
	{"erin", "Erin", "O'Brien", 6, false, false},
	{"frank", "Frank", "Zhang", 7, false, false},
	{"grace", "Grace", "Ali", 8, false, false},
	{"heidi", "Heidi", "Johansson", 9, false, false},
	{"ivan", "Ivan", "Petrov", 10, true, false},
	{"judy", "Judy", "García", 11, false, false},
}

type seat struct {
	org, user string
	role      iamv1alpha1.MembershipRole
	pending   bool
}

var seats = []seat{
	{"acme", "alice", iamv1alpha1.RoleOwner, false},
	{"acme", "bob", iamv1alpha1.RoleMaintainer, false},
	{"acme", "carol", iamv1alpha1.RoleSupervisor, false},
	{"acme", "dave", iamv1alpha1.RoleWorker, false},
	{"acme", "judy", iamv1alpha1.RoleWorker, false},
	{"acme", "grace", iamv1alpha1.RoleWorker, true},
	{"globex", "erin", iamv1alpha1.RoleOwner, false},
	{"globex", "dave", iamv1alpha1.RoleWorker, false},
	{"globex", "frank", iamv1alpha1.RoleWorker, false},
}

var orgIDs = map[string]int64{"acme": 1, "globex": 2, "vacant": 3}

func seed() {
	By("seeding users, organizations and memberships")
	for _, p := range people {
		u := &iamv1alpha1.User{
			ObjectMeta: metav1.ObjectMeta{Name: p.name},
			Spec: iamv1alpha1.UserSpec{
				FirstName: p.first, LastName: p.last, Email: p.name + "@example.com",
				IsActive: ptr.To(!p.inactive), IsSuperuser: p.super, IsStaff: p.super,
			},
		}
		Expect(k8sClient.Create(ctx, u)).To(Succeed())
		u.Status.ID = p.id
		Expect(k8sClient.Status().Update(ctx, u)).To(Succeed())
	}
	for slug, id := range orgIDs {
		o := &iamv1alpha1.Organization{ObjectMeta: metav1.ObjectMeta{Name: slug}}
		Expect(k8sClient.Create(ctx, o)).To(Succeed())
		o.Status.ID = id
		Expect(k8sClient.Status().Update(ctx, o)).To(Succeed())
	}
	for _, s := range seats {
		Expect(createMembership(s)).To(Succeed())
	}
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
	state := iamv1alpha1.MembershipActive
	if s.pending {
		state = iamv1alpha1.MembershipPending
	}
	return k8sClient.Create(ctx, &iamv1alpha1.Membership{
		ObjectMeta: metav1.ObjectMeta{Name: iamv1alpha1.MembershipName(s.org, s.user)},
		Spec:       iamv1alpha1.MembershipSpec{Organization: s.org, User: s.user, Role: s.role, State: state},
	})
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

var _ client.Object = &iamv1alpha1.User{}
