package controllers

import (
	"fmt"
	"sync/atomic"

	. "github.com/onsi/gomega"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/roster-dev/roster/api/v1alpha1"
)

var nameSeq atomic.Int64

// uniq returns a fresh object name, so tests sharing the control plane never
// collide. Names sort in creation order, as conflict tie-breaks (same
// creationTimestamp second) compare names.
func uniq(prefix string) string {
	return fmt.Sprintf("%s-%05d", prefix, nameSeq.Add(1))
}

func newUser(name string) *iamv1alpha1.User {
	return &iamv1alpha1.User{ObjectMeta: metav1.ObjectMeta{Name: name}}
}

func newOrg(name, owner string) *iamv1alpha1.Organization {
	return &iamv1alpha1.Organization{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: iamv1alpha1.OrganizationSpec{Owner: owner}}
}

func newMembership(org, user string, role iamv1alpha1.MembershipRole, state iamv1alpha1.MembershipState) *iamv1alpha1.Membership {
	return &iamv1alpha1.Membership{
		ObjectMeta: metav1.ObjectMeta{Name: iamv1alpha1.MembershipName(org, user)},
		Spec:       iamv1alpha1.MembershipSpec{Organization: org, User: user, Role: role, State: state},
	}
}

func key(name string) client.ObjectKey { return client.ObjectKey{Name: name} }

// condition returns the condition of type t, failing g when it is missing.
func condition(g Gomega, conds []metav1.Condition, t string) metav1.Condition {
	c := meta.FindStatusCondition(conds, t)
	g.Expect(c).NotTo(BeNil(), "condition %s", t)
	return *c
}

// expectReady asserts Ready=True with reason Ready and no Reconciling or Stalled.
func expectReady(g Gomega, conds []metav1.Condition, generation, observed int64) {
	c := condition(g, conds, iamv1alpha1.ConditionReady)
	g.Expect(c.Status).To(Equal(metav1.ConditionTrue), "Ready: %s: %s", c.Reason, c.Message)
	g.Expect(c.Reason).To(Equal(ReasonReady))
	g.Expect(meta.FindStatusCondition(conds, iamv1alpha1.ConditionStalled)).To(BeNil())
	g.Expect(meta.FindStatusCondition(conds, iamv1alpha1.ConditionReconciling)).To(BeNil())
	g.Expect(observed).To(Equal(generation))
}

// expectStalled asserts Ready=False and Stalled=True with reason and message.
func expectStalled(g Gomega, conds []metav1.Condition, reason, message string) {
	ready := condition(g, conds, iamv1alpha1.ConditionReady)
	g.Expect(ready.Status).To(Equal(metav1.ConditionFalse))
	g.Expect(ready.Reason).To(Equal(reason))
	g.Expect(ready.Message).To(Equal(message))
	stalled := condition(g, conds, iamv1alpha1.ConditionStalled)
	g.Expect(stalled.Status).To(Equal(metav1.ConditionTrue))
	g.Expect(stalled.Reason).To(Equal(reason))
}

// kstatus computes the kstatus status of obj as Argo CD and Flux would.
func kstatus(g Gomega, obj runtime.Object) status.Status {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	g.Expect(err).NotTo(HaveOccurred())
	res, err := status.Compute(&unstructured.Unstructured{Object: m})
	g.Expect(err).NotTo(HaveOccurred())
	return res.Status
}

// eventsFor lists the events.k8s.io events about the cluster-scoped object name.
func eventsFor(g Gomega, name string) []eventsv1.Event {
	var list eventsv1.EventList
	g.Expect(k8sClient.List(suiteCtx, &list, client.InNamespace(metav1.NamespaceDefault))).To(Succeed())
	var out []eventsv1.Event
	for _, e := range list.Items {
		if e.Regarding.Name == name {
			out = append(out, e)
		}
	}
	return out
}

// hasEvent reports whether name has an event with reason whose note is note.
func hasEvent(g Gomega, name, eventType, reason, note string) bool {
	for _, e := range eventsFor(g, name) {
		if e.Type == eventType && e.Reason == reason && e.Note == note {
			return true
		}
	}
	return false
}
