package directory

import (
	"context"
	"sync"
	"testing"

	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	iamv1alpha1 "github.com/roster-dev/roster/api/v1alpha1"
)

// A store hands the directory each change once, with the state before it:
// a first list adds everything; a later list (the watch could not resume)
// changes only what moved and deletes what is gone; watch events change
// one object each. Reads see the records of the objects applied.
func TestKindStoreAppliesListsAndEvents(t *testing.T) {
	g := NewWithT(t)
	d := &Directory{seen: map[string]uint64{}}
	d.changed = sync.NewCond(&d.mu)
	type event struct{ op, name, oldRV, rv string }
	var events []event
	s := newKindStore(d, kindUser, "users", keepUser, readUser,
		func(old, obj any) {
			o := obj.(*iamv1alpha1.User)
			e := event{op: "upsert", name: o.Name, rv: o.ResourceVersion}
			if old != nil {
				e.oldRV = old.(*iamv1alpha1.User).ResourceVersion
			}
			events = append(events, e)
		},
		func(obj any) {
			o := obj.(*iamv1alpha1.User)
			events = append(events, event{op: "remove", name: o.Name, oldRV: o.ResourceVersion})
		})
	user := func(name, rv string) *iamv1alpha1.User {
		return &iamv1alpha1.User{ObjectMeta: metav1.ObjectMeta{Name: name, ResourceVersion: rv}, Spec: iamv1alpha1.UserSpec{FirstName: name + rv}}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	g.Expect(s.waitSynced(ctx)).To(BeFalse(), "synced before any list")

	g.Expect(s.Replace([]any{user("ann", "10"), user("bob", "11")}, "12")).To(Succeed())
	g.Expect(events).To(ConsistOf(event{"upsert", "ann", "", "10"}, event{"upsert", "bob", "", "11"}))
	g.Expect(s.waitSynced(context.Background())).To(BeTrue())
	g.Expect(d.ResourceVersion()).To(BeNumerically("==", 12), "the list's resourceVersion")

	events = nil
	g.Expect(s.Update(user("ann", "13"))).To(Succeed())
	g.Expect(s.Add(user("cid", "14"))).To(Succeed())
	g.Expect(s.Delete(user("bob", "15"))).To(Succeed())
	g.Expect(events).To(Equal([]event{{"upsert", "ann", "10", "13"}, {"upsert", "cid", "", "14"}, {"remove", "bob", "15", ""}}))
	_, err := s.get("bob")
	g.Expect(apierrors.IsNotFound(err)).To(BeTrue())

	// A relist: ann unchanged, cid changed, dan new, and a gone one
	// deleted with the state the store held. The items come as the
	// reflector hands them, each with its record made while the list was
	// read.
	events = nil
	g.Expect(s.Update(user("eve", "16"))).To(Succeed())
	events = nil
	g.Expect(s.Replace([]any{s.prepare(user("ann", "13")), s.prepare(user("cid", "17")), s.prepare(user("dan", "18"))}, "19")).To(Succeed())
	g.Expect(events).To(ConsistOf(event{"upsert", "cid", "14", "17"}, event{"upsert", "dan", "", "18"}, event{"remove", "eve", "16", ""}))
	g.Expect(s.len()).To(Equal(3))
	r, err := s.get("cid")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(r.user("cid")).To(Equal(user("cid", "17")))
	g.Expect(d.ResourceVersion()).To(BeNumerically("==", 19))

	g.Expect(s.Update(&iamv1alpha1.Membership{})).To(MatchError(ContainSubstring("handed a *v1alpha1.Membership")))
}

// A User of an initial list is readied for the index as the list is read;
// the store's change uses that only for the very object read, never for
// another state of the same User, and nothing is readied once the index is
// loaded.
func TestUsersPreparedAsTheListIsRead(t *testing.T) {
	g := NewWithT(t)
	d := &Directory{early: map[string]earlyUser{}}
	listed := &iamv1alpha1.User{ObjectMeta: metav1.ObjectMeta{Name: "ann", ResourceVersion: "1"},
		Spec: iamv1alpha1.UserSpec{FirstName: "Ann"}}
	d.prepareEarly(listed)
	early := d.early["ann"].prepared
	g.Expect(early).NotTo(BeNil())
	g.Expect(d.prepared(listed)).To(BeIdenticalTo(early))
	g.Expect(d.early).To(BeEmpty(), "taken once")

	d.prepareEarly(listed)
	newer := listed.DeepCopy()
	newer.Spec.FirstName = "Anna"
	p := d.prepared(newer)
	g.Expect(p).NotTo(BeIdenticalTo(d.early["ann"].prepared))
	g.Expect(p.User()).To(Equal(Record(newer)))

	d.early = nil
	d.prepareEarly(listed)
	g.Expect(d.early).To(BeNil())
	g.Expect(d.prepared(listed).User()).To(Equal(Record(listed)))
}
