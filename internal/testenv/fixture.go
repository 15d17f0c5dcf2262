package testenv

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/roster-dev/roster/api/v1alpha1"
)

// Person is a User of an end-to-end suite's directory. IDs are set by hand,
// so that expectations are exact: the controllers that normally allocate
// them are tested on their own.
type Person struct {
	Name, First, Last string
	ID                int64
	Inactive, Super   bool
	// Groups are the privilege groups (spec.groups).
	Groups []string
}

// Seat is a Membership of an end-to-end suite's directory.
type Seat struct {
	Org, User string
	Role      iamv1alpha1.MembershipRole
	Pending   bool
}

// People are the users the end-to-end suites share; each suite adds its own.
var People = []Person{
	{Name: "admin", First: "Ada", Last: "Lindqvist", ID: 1, Super: true},
	{Name: "alice", First: "Alice", Last: "Nguyen", ID: 2},
	{Name: "bob", First: "Bob", Last: "Okafor", ID: 3},
	{Name: "carol", First: "Carol", Last: "Müller", ID: 4},
	{Name: "dave", First: "Dave", Last: "Alimov", ID: 5},
	{Name: "erin", First: "Erin", Last: "O'Brien", ID: 6},
	{Name: "frank", First: "Frank", Last: "Zhang", ID: 7},
	{Name: "grace", First: "Grace", Last: "Ali", ID: 8},
	{Name: "heidi", First: "Heidi", Last: "Johansson", ID: 9},
	{Name: "ivan", First: "Ivan", Last: "Petrov", ID: 10, Inactive: true},
}

// Seats are the memberships the end-to-end suites share: acme (alice owns
// it, grace is invited) and globex (erin owns it).
var Seats = []Seat{
	{"acme", "alice", iamv1alpha1.RoleOwner, false},
	{"acme", "bob", iamv1alpha1.RoleMaintainer, false},
	{"acme", "carol", iamv1alpha1.RoleSupervisor, false},
	{"acme", "dave", iamv1alpha1.RoleWorker, false},
	{"acme", "grace", iamv1alpha1.RoleWorker, true},
	{"globex", "erin", iamv1alpha1.RoleOwner, false},
	{"globex", "dave", iamv1alpha1.RoleWorker, false},
	{"globex", "frank", iamv1alpha1.RoleWorker, false},
}

// Seed creates the people with their IDs, the organizations (slug to ID)
// and the seats.
func Seed(ctx context.Context, c client.Client, people []Person, orgs map[string]int64, seats []Seat) error {
	for _, p := range people {
		u := &iamv1alpha1.User{
			ObjectMeta: metav1.ObjectMeta{Name: p.Name},
			Spec: iamv1alpha1.UserSpec{
				FirstName: p.First, LastName: p.Last, Email: p.Name + "@example.com",
				IsActive: ptr.To(!p.Inactive), IsSuperuser: p.Super, IsStaff: p.Super, Groups: p.Groups,
			},
		}
		if err := c.Create(ctx, u); err != nil {
			return fmt.Errorf("creating user %s: %w", p.Name, err)
		}
		u.Status.ID = p.ID
		if err := c.Status().Update(ctx, u); err != nil {
			return fmt.Errorf("setting the ID of %s: %w", p.Name, err)
		}
	}
	for slug, id := range orgs {
		o := &iamv1alpha1.Organization{ObjectMeta: metav1.ObjectMeta{Name: slug}}
		if err := c.Create(ctx, o); err != nil {
			return fmt.Errorf("creating organization %s: %w", slug, err)
		}
		o.Status.ID = id
		if err := c.Status().Update(ctx, o); err != nil {
			return fmt.Errorf("setting the ID of %s: %w", slug, err)
		}
	}
	for _, s := range seats {
		if err := CreateMembership(ctx, c, s); err != nil {
			return err
		}
	}
	return nil
}

// CreateMembership creates the Membership of a seat.
func CreateMembership(ctx context.Context, c client.Client, s Seat) error {
	state := iamv1alpha1.MembershipActive
	if s.Pending {
		state = iamv1alpha1.MembershipPending
	}
	if err := c.Create(ctx, &iamv1alpha1.Membership{
		ObjectMeta: metav1.ObjectMeta{Name: iamv1alpha1.MembershipName(s.Org, s.User)},
		Spec:       iamv1alpha1.MembershipSpec{Organization: s.Org, User: s.User, Role: s.Role, State: state},
	}); err != nil {
		return fmt.Errorf("creating membership %s.%s: %w", s.Org, s.User, err)
	}
	return nil
}
