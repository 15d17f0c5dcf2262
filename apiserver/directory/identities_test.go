package directory

import (
	"testing"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	iamv1alpha1 "github.com/roster-dev/roster/api/v1alpha1"
)

func identityUser(name, username string, identities ...string) *iamv1alpha1.User {
	return &iamv1alpha1.User{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: iamv1alpha1.UserSpec{Username: username, Identities: identities}}
}

func TestIdentitiesFollowTheUsers(t *testing.T) {
	g := NewWithT(t)
	ids := newIdentities()
	ada := identityUser("ada", "", "ada@corp", "ada@corp")
	ids.set("ada", nil, ada)
	g.Expect(ids.users("ada")).To(BeEmpty(), "a User's own name is looked up in the store, not mapped")
	g.Expect(ids.users("ada@corp")).To(Equal([]string{"ada"}))
	g.Expect(ids.users("nobody")).To(BeEmpty())

	// A second claimant of a name, then the first lets it go.
	grace := identityUser("grace", "", "ada@corp")
	ids.set("grace", nil, grace)
	g.Expect(ids.users("ada@corp")).To(ConsistOf("ada", "grace"))
	held := ids.users("ada@corp")
	ada2 := identityUser("ada", "lovelace")
	ids.set("ada", ada, ada2)
	g.Expect(held).To(ConsistOf("ada", "grace"), "an answer given is not changed later")
	g.Expect(ids.users("ada@corp")).To(Equal([]string{"grace"}))
	g.Expect(ids.users("ada")).To(BeEmpty())
	g.Expect(ids.users("lovelace")).To(Equal([]string{"ada"}))
	// A User that takes another username keeps no entry for its name.
	bob := identityUser("bob", "")
	ids.set("bob", nil, bob)
	g.Expect(ids.one).NotTo(HaveKey("bob"))
	ids.set("bob", bob, identityUser("bob", "robert"))
	g.Expect(ids.users("robert")).To(Equal([]string{"bob"}))
	ids.set("bob", identityUser("bob", "robert"), identityUser("bob", ""))
	g.Expect(ids.users("robert")).To(BeEmpty())
	ids.set("bob", bob, nil)

	// A user's name is its username until it sets one.
	ids.set("grace", grace, nil)
	g.Expect(ids.users("ada@corp")).To(BeEmpty())
	g.Expect(ids.users("grace")).To(BeEmpty())
	g.Expect(ids.one).To(HaveLen(1))
	g.Expect(ids.more).To(BeEmpty())
}
