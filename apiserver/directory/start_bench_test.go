package directory

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/roster-dev/roster/api/v1alpha1"
)

// BenchmarkInitialLists measures a starting directory's work on its initial
// lists of n users, each with one membership in one of 100 organizations,
// in two parts: what it does while the lists are read (read-ms: each
// object's record, each user readied for the index, the organizations' and
// the memberships' lists applied, as they end first), and what is left
// once the users' list has been read to its last byte, which nothing
// overlaps (tail-ms: the users' store applies its list, the index is
// loaded). The objects are built, not decoded: the decoding is
// kube-apiserver's pace.
//
//	go test ./apiserver/directory/ -run '^$' -bench BenchmarkInitialLists -benchtime 5x
func BenchmarkInitialLists(b *testing.B) {
	for _, n := range []int{10000, 100000} {
		b.Run(fmt.Sprintf("users=%d", n), func(b *testing.B) {
			var read, tail time.Duration
			for b.Loop() {
				b.StopTimer()
				d, err := New(&rest.Config{Host: "https://127.0.0.1:1"}, runtime.NewScheme(), Options{})
				if err != nil {
					b.Fatal(err)
				}
				orgs, users, memberships := initialObjects(n)
				b.StartTimer()

				// The organizations' and the memberships' lists are the
				// smaller: they end, and are applied, while the users'
				// list is still read.
				began := time.Now()
				if err := d.organizations.Replace(prepareAll(d.organizations, orgs), "1"); err != nil {
					b.Fatal(err)
				}
				if err := d.memberships.Replace(prepareAll(d.memberships, memberships), "1"); err != nil {
					b.Fatal(err)
				}
				userItems := prepareAll(d.users, users)
				read += time.Since(began)

				began = time.Now()
				if err := d.users.Replace(userItems, "1"); err != nil {
					b.Fatal(err)
				}
				if !d.WaitForCacheSync(b.Context()) {
					b.Fatal("not synced")
				}
				tail += time.Since(began)
				if got := d.index.Users(); got != n {
					b.Fatalf("the index holds %d users, want %d", got, n)
				}
			}
			b.ReportMetric(float64(read.Milliseconds())/float64(b.N), "read-ms")
			b.ReportMetric(float64(tail.Milliseconds())/float64(b.N), "tail-ms")
		})
	}
}

// prepareAll is what the list-watch does with each item as it reads it.
func prepareAll[T client.Object, R record](s *kindStore[T, R], objs []T) []any {
	items := make([]any, len(objs))
	for i, o := range objs {
		items[i] = s.prepare(o)
	}
	return items
}

// initialObjects are 100 organizations, n users and a membership of each
// user, as the controllers leave them.
func initialObjects(n int) ([]*iamv1alpha1.Organization, []*iamv1alpha1.User, []*iamv1alpha1.Membership) {
	meta := func(name string, rv int) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, ResourceVersion: strconv.Itoa(rv), Generation: 1,
			UID: "0b5e2a3c-1d4e-4f60-8a7b-9c0d1e2f3a4b", CreationTimestamp: metav1.Unix(1796000000, 0)}
	}
	orgs := make([]*iamv1alpha1.Organization, 100)
	for i := range orgs {
		orgs[i] = &iamv1alpha1.Organization{ObjectMeta: meta(fmt.Sprintf("org-%03d", i), i+1)}
		orgs[i].Status.ID = int64(i + 1)
	}
	first := []string{"Alice", "Bob", "Carol", "Dan", "Erin", "Frank", "Grace", "Heidi"}
	last := []string{"Smith", "Jones", "Brown", "Taylor", "Wilson", "Davies", "Evans"}
	users := make([]*iamv1alpha1.User, n)
	memberships := make([]*iamv1alpha1.Membership, n)
	for i := range users {
		name, org := fmt.Sprintf("user-%06d", i), orgs[i%len(orgs)].Name
		users[i] = &iamv1alpha1.User{ObjectMeta: meta(name, 1000+2*i),
			Spec: iamv1alpha1.UserSpec{FirstName: first[i%len(first)], LastName: last[(i/len(first))%len(last)],
				Email: name + "@example.com", IsActive: ptr.To(i%50 != 0)},
			Status: iamv1alpha1.UserStatus{ID: int64(i + 1)}}
		role := iamv1alpha1.RoleWorker
		if i < len(orgs) {
			role = iamv1alpha1.RoleOwner
		}
		memberships[i] = &iamv1alpha1.Membership{ObjectMeta: meta(iamv1alpha1.MembershipName(org, name), 1001+2*i),
			Spec: iamv1alpha1.MembershipSpec{Organization: org, User: name, Role: role, State: iamv1alpha1.MembershipActive}}
	}
	return orgs, users, memberships
}
