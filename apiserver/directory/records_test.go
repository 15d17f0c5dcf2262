package directory

import (
	"fmt"
	"reflect"
	"strconv"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/randfill"

	iamv1alpha1 "github.com/roster-dev/roster/api/v1alpha1"
)

// A User read back from its record is the User kept, field for field, for
// Users with every field set at random: times of whole seconds or not, in
// the local zone or not, UIDs and resourceVersions in their usual form or
// not, empty and nil maps and slices.
func TestUserRecordRoundTrip(t *testing.T) {
	roundTrip(t, func() *iamv1alpha1.User { return &iamv1alpha1.User{} }, func(u *iamv1alpha1.User) {
		whole(u.Status.DateJoined)
		whole(u.Status.LastLogin)
		// The controllers copy the username into the status.
		u.Status.Username = u.EffectiveUsername()
		for i := range u.Status.Conditions {
			whole(&u.Status.Conditions[i].LastTransitionTime)
		}
		if u.Generation%4 == 0 {
			u.Labels, u.Annotations, u.Status.Conditions = nil, nil, nil
		}
	}, func(u *iamv1alpha1.User) record { return keepUser(u) }, func(name string, r record) *iamv1alpha1.User {
		return r.(*userRecord).user(name)
	}, func(r record) bool { return r.(*userRecord).rest == nil })
}

// The same holds for Memberships, whose records also give their labels and
// state without being read back.
func TestMembershipRecordRoundTrip(t *testing.T) {
	g := NewWithT(t)
	roundTrip(t, func() *iamv1alpha1.Membership { return &iamv1alpha1.Membership{} }, func(m *iamv1alpha1.Membership) {
		whole(m.Status.JoinedDate)
		for i := range m.Status.Conditions {
			whole(&m.Status.Conditions[i].LastTransitionTime)
		}
		if m.Generation%4 == 0 {
			m.Labels, m.Annotations, m.Status.Conditions = nil, nil, nil
		}
	}, func(m *iamv1alpha1.Membership) record {
		r := keepMembership(m)
		g.Expect(r.Labels()).To(Equal(m.Labels))
		g.Expect(r.Active()).To(Equal(m.Active()))
		g.Expect(r.Spec).To(Equal(m.Spec))
		return r
	}, func(_ string, r record) *iamv1alpha1.Membership {
		return r.(*MembershipRecord).Object()
	}, func(r record) bool { return r.(*MembershipRecord).rest == nil })
}

// whole makes a time one a record keeps in its compact form.
func whole(t *metav1.Time) {
	if t != nil && !t.IsZero() {
		*t = metav1.NewTime(time.Unix(t.Unix(), 0).Local())
	}
}

// roundTrip keeps 2000 random objects and reads each back. usual makes
// half of them hold only what a record may hold in compact form.
func roundTrip[T interface {
	client.Object
	DeepCopy() T
}](t *testing.T, newObj func() T, usual func(T), keep func(T) record, read func(string, record) T, compact func(record) bool) {
	t.Helper()
	g := NewWithT(t)
	f := randfill.NewWithSeed(7).NilChance(0.3).NumElements(0, 3).Funcs(
		func(tm *metav1.Time, c randfill.Continue) {
			s := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).Unix() + int64(c.Intn(1<<28))
			switch c.Intn(4) {
			case 0:
				*tm = metav1.Time{}
			case 1:
				*tm = metav1.NewTime(time.Unix(s, int64(c.Intn(1e9))).Local())
			case 2:
				*tm = metav1.NewTime(time.Unix(s, 0).UTC())
			default:
				*tm = metav1.NewTime(time.Unix(s, 0).Local())
			}
		},
		func(uid *types.UID, c randfill.Continue) {
			switch c.Intn(3) {
			case 0:
				*uid = types.UID(c.String(0))
			case 1:
				*uid = types.UID(fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", c.Uint32(), c.Uint32()&0xffff, c.Uint32()&0xffff, c.Uint32()&0xffff, c.Uint64()&0xffffffffffff))
			default:
				*uid = types.UID(fmt.Sprintf("%08X-0000-0000-0000-000000000001", c.Uint32()))
			}
		},
		func(m *metav1.ObjectMeta, c randfill.Continue) {
			c.FillNoCustom(m)
			m.ManagedFields = nil
			switch c.Intn(3) {
			case 0:
				m.ResourceVersion = strconv.FormatUint(c.Uint64()>>c.Intn(64), 10)
			case 1:
				m.ResourceVersion = "0" + strconv.Itoa(c.Intn(100))
			}
			c.Fill(&m.UID)
			c.Fill(&m.CreationTimestamp)
			if m.Generation%2 == 0 {
				m.GenerateName, m.Namespace, m.SelfLink = "", "", ""
				m.DeletionTimestamp, m.DeletionGracePeriodSeconds, m.OwnerReferences = nil, nil, nil
				whole(&m.CreationTimestamp)
			}
		},
	)
	compacted := 0
	for range 2000 {
		obj := newObj()
		f.Fill(obj)
		if obj.GetGeneration()%2 == 0 {
			// Half the objects have only fields a record may hold.
			obj.GetObjectKind().SetGroupVersionKind(schema.GroupVersionKind{})
			usual(obj)
		}
		kept := obj.DeepCopy()
		r := keep(obj)
		g.Expect(obj).To(Equal(kept), "keeping an object changed it")
		got := read(kept.GetName(), r)
		if !reflect.DeepEqual(got, kept) {
			t.Fatalf("read back:\n%#v\nkept:\n%#v", got, kept)
		}
		// The object read back is the caller's: changing it changes no
		// later read.
		got.SetLabels(map[string]string{"changed": "yes"})
		got.SetFinalizers(append(got.GetFinalizers(), "changed"))
		g.Expect(read(kept.GetName(), r)).To(Equal(kept))
		g.Expect(r.GetResourceVersion()).To(Equal(kept.GetResourceVersion()))
		if compact(r) {
			compacted++
		}
	}
	// Enough of them fit the record for its own fields to be what is read.
	g.Expect(compacted).To(BeNumerically(">", 10), "random objects kept with no residual")
}

// usualUsers are Users as the controllers leave them, in kube-apiserver's JSON.
var usualUsers = []string{
	// Every field of the spec set.
	`{"apiVersion":"iam.roster.dev/v1alpha1","kind":"User","metadata":{"annotations":{"iam.roster.dev/id":"42"},` +
		`"creationTimestamp":"2026-11-30T03:00:00Z","finalizers":["iam.roster.dev/cleanup"],"generation":2,"labels":{"team":"core"},` +
		`"name":"alice","resourceVersion":"81234","uid":"0b5e2a3c-1d4e-4f60-8a7b-9c0d1e2f3a4b"},` +
		`"spec":{"email":"alice@example.com","firstName":"Alice","lastName":"Smith","username":"alice","isActive":false,"isStaff":true,` +
		`"groups":["staff","auditors"],"identities":["oidc:alice"]},` +
		`"status":{"conditions":[{"lastTransitionTime":"2026-11-30T03:00:01Z","message":"User is ready","observedGeneration":2,` +
		`"reason":"Ready","status":"True","type":"Ready"}],"dateJoined":"2026-11-30T03:00:00Z","lastLogin":"2026-11-30T04:00:00Z","id":42,` +
		`"observedGeneration":2,"organizations":[{"organization":"acme","role":"worker"}],"username":"alice"}}`,
	// No username of its own: the status holds the name.
	`{"apiVersion":"iam.roster.dev/v1alpha1","kind":"User","metadata":{"annotations":{"iam.roster.dev/id":"43"},` +
		`"creationTimestamp":"2026-11-30T03:00:00Z","finalizers":["iam.roster.dev/cleanup"],"generation":1,` +
		`"name":"bob-smith","resourceVersion":"81240","uid":"1b5e2a3c-1d4e-4f60-8a7b-9c0d1e2f3a4b"},` +
		`"spec":{"email":"bob@example.com","firstName":"Bob","lastName":"Smith"},` +
		`"status":{"conditions":[{"lastTransitionTime":"2026-11-30T03:00:01Z","message":"User is ready","observedGeneration":1,` +
		`"reason":"Ready","status":"True","type":"Ready"}],"dateJoined":"2026-11-30T03:00:00Z","id":43,` +
		`"observedGeneration":1,"organizations":[{"organization":"acme","role":"owner"}],"username":"bob-smith"}}`,
}

// usualMembership is a Membership as the controllers leave it.
const usualMembership = `{"apiVersion":"iam.roster.dev/v1alpha1","kind":"Membership","metadata":{"creationTimestamp":"2026-11-30T03:00:00Z",` +
	`"generation":1,"name":"acme.bob-smith","resourceVersion":"81241","uid":"2b5e2a3c-1d4e-4f60-8a7b-9c0d1e2f3a4b"},` +
	`"spec":{"organization":"acme","role":"owner","state":"active","user":"bob-smith","invitedBy":"alice"},` +
	`"status":{"conditions":[{"lastTransitionTime":"2026-11-30T03:00:01Z","message":"Membership is active","observedGeneration":1,` +
	`"reason":"Ready","status":"True","type":"Ready"}],"joinedDate":"2026-11-30T03:00:00Z","observedGeneration":1}}`

// Users and Memberships as kube-apiserver sends them, once the controllers
// have reconciled them, read from JSON, are kept with no residual: every
// field they have fits the record.
func TestRecordsOfUsualObjects(t *testing.T) {
	g := NewWithT(t)
	lw := &listWatch{newObj: func() runtime.Object { return &iamv1alpha1.User{} }}
	for _, user := range usualUsers {
		// As the directory's list reads it: the kind cleared.
		u := lw.decodeObject(watch.Added, streamJSON.BorrowIterator([]byte(user))).(*iamv1alpha1.User)
		r := keepUser(u)
		g.Expect(r.rest).To(BeNil(), "a usual User left a residual: %s", u.Name)
		g.Expect(r.user(u.Name)).To(Equal(u))
	}
	lw = &listWatch{newObj: func() runtime.Object { return &iamv1alpha1.Membership{} }}
	m := lw.decodeObject(watch.Added, streamJSON.BorrowIterator([]byte(usualMembership))).(*iamv1alpha1.Membership)
	r := keepMembership(m)
	g.Expect(r.rest).To(BeNil(), "a usual Membership left a residual")
	g.Expect(r.Object()).To(Equal(m))
}
