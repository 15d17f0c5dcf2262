package directory

import (
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	kjson "sigs.k8s.io/json"

	iamv1alpha1 "github.com/roster-dev/roster/api/v1alpha1"
)

// asKubernetes is u as the API server's client decodes it, but for the
// managedFields.
func asKubernetes(g Gomega, u *iamv1alpha1.User) *iamv1alpha1.User {
	data, err := json.Marshal(u)
	g.Expect(err).NotTo(HaveOccurred())
	var out iamv1alpha1.User
	g.Expect(kjson.UnmarshalCaseSensitivePreserveInts(data, &out)).To(Succeed())
	out.ManagedFields = nil
	return &out
}

// fullUser has every field of a User set, managedFields included.
func fullUser(name string) *iamv1alpha1.User {
	now := metav1.NewTime(time.Date(2026, 11, 30, 1, 2, 3, 0, time.UTC))
	return &iamv1alpha1.User{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, UID: "5f0c6d0e-1c9a-4c43-9d3e-0f3f8e1d2a11", ResourceVersion: "42", Generation: 3,
			CreationTimestamp: now, DeletionTimestamp: &now, DeletionGracePeriodSeconds: ptr.To[int64](0),
			Labels:      map[string]string{"team": "platform", "tier": ""},
			Annotations: map[string]string{"iam.roster.dev/id": "7", "note": "ünïcode \"quoted\" \\ \u2028"},
			Finalizers:  []string{"iam.roster.dev/cleanup"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: "owner", UID: "u-1",
				Controller: ptr.To(true)}},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationApply,
				APIVersion: "iam.roster.dev/v1alpha1", Time: &now, FieldsType: "FieldsV1",
				FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:spec":{"f:email":{}}}`)}}},
		},
		Spec: iamv1alpha1.UserSpec{
			Username: "ada", FirstName: "Ada", LastName: "Lovelace", Email: "ada@example.com",
			IsActive: ptr.To(false), IsStaff: true, IsSuperuser: true,
			Groups: []string{"staff", "admins"}, Identities: []string{"ada@corp", "oidc:ada"},
		},
		Status: iamv1alpha1.UserStatus{
			ID: 9007199254740991, Username: "ada", DateJoined: &now, LastLogin: &now,
			Organizations:      []iamv1alpha1.UserOrganization{{Organization: "acme", Role: "admin"}},
			Conditions:         []metav1.Condition{{Type: "Ready", Status: metav1.ConditionTrue, ObservedGeneration: 3, LastTransitionTime: now, Reason: "Reconciled", Message: "ok"}},
			ObservedGeneration: 3,
		},
	}
}

// TestStreamJSONDecodesAsKubernetes decodes what the API server writes and
// compares it with the object it was made from: every field but the
// managedFields, which the directory does not keep, and the kind.
func TestStreamJSONDecodesAsKubernetes(t *testing.T) {
	g := NewWithT(t)
	in := fullUser("ada")
	in.APIVersion, in.Kind = iamv1alpha1.GroupVersion.String(), "User"
	data, err := json.Marshal(in)
	g.Expect(err).NotTo(HaveOccurred())

	var out, want iamv1alpha1.User
	g.Expect(streamJSON.Unmarshal(data, &out)).To(Succeed())
	g.Expect(kjson.UnmarshalCaseSensitivePreserveInts(data, &want)).To(Succeed())
	g.Expect(want.ManagedFields).To(HaveLen(1))
	want.ManagedFields = nil
	g.Expect(out).To(Equal(want))

	// Field names are matched as Kubernetes matches them: exactly.
	var other iamv1alpha1.User
	g.Expect(streamJSON.Unmarshal([]byte(`{"metadata":{"Name":"x","name":"y"},"spec":{"EMAIL":"no"}}`), &other)).To(Succeed())
	g.Expect(other.Name).To(Equal("y"))
	g.Expect(other.Spec.Email).To(BeEmpty())
}

// serveStream answers every request with status and body.
func serveStream(t *testing.T, status int, body string) *listWatch {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	cfg := &rest.Config{Host: srv.URL}
	return newListWatch(cfg, srv.Client(), &iamv1alpha1.User{})
}

func TestListWatchReadsEveryEvent(t *testing.T) {
	g := NewWithT(t)
	u := fullUser("ada")
	obj, err := json.Marshal(u)
	g.Expect(err).NotTo(HaveOccurred())
	stream := fmt.Sprintf(`{"type":"ADDED","object":%s}
{"object":%s,"type":"MODIFIED"}
{"type":"BOOKMARK","object":{"kind":"User","metadata":{"resourceVersion":"43","annotations":{"k8s.io/initial-events-end":"true"}}}}
{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","status":"Failure","message":"too old resource version","reason":"Expired","code":410}}
`, obj, obj)
	w, err := serveStream(t, 200, stream).Watch(metav1.ListOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	var events []watch.Event
	for ev := range w.ResultChan() {
		events = append(events, ev)
	}
	g.Expect(events).To(HaveLen(4))
	want := asKubernetes(g, u)
	g.Expect(events[0].Type).To(Equal(watch.Added))
	g.Expect(events[0].Object).To(Equal(want))
	// An object before its type is read all the same.
	g.Expect(events[1].Type).To(Equal(watch.Modified))
	g.Expect(events[1].Object).To(Equal(want))
	g.Expect(events[2].Type).To(Equal(watch.Bookmark))
	g.Expect(events[2].Object.(*iamv1alpha1.User).Annotations).To(HaveKeyWithValue(metav1.InitialEventsAnnotationKey, "true"))
	g.Expect(events[3].Type).To(Equal(watch.Error))
	g.Expect(apierrors.FromObject(events[3].Object)).To(Satisfy(apierrors.IsResourceExpired))
}

func TestListWatchEndsOnABrokenStream(t *testing.T) {
	g := NewWithT(t)
	w, err := serveStream(t, 200, `{"type":"ADDED","object":{"metadata":{"name":"a"}}}
{"type":"ADDED","object":{"metadata":{"name":`).Watch(metav1.ListOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	var events []watch.Event
	for ev := range w.ResultChan() {
		events = append(events, ev)
	}
	g.Expect(events).To(HaveLen(1))
	g.Expect(events[0].Object.(*iamv1alpha1.User).Name).To(Equal("a"))
}

func TestListWatchStopsAWatchNobodyReads(t *testing.T) {
	g := NewWithT(t)
	w, err := serveStream(t, 200, `{"type":"ADDED","object":{"metadata":{"name":"a"}}}`+"\n").Watch(metav1.ListOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	stopped := make(chan struct{})
	go func() { w.Stop(); close(stopped) }()
	g.Eventually(stopped).Should(BeClosed())
}

func TestListWatchReturnsTheServersError(t *testing.T) {
	g := NewWithT(t)
	_, err := serveStream(t, 410, `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"too old resource version: 1 (42)","reason":"Expired","code":410}`).
		Watch(metav1.ListOptions{ResourceVersion: "1"})
	g.Expect(err).To(Satisfy(apierrors.IsResourceExpired))
	g.Expect(err).To(MatchError(ContainSubstring("too old resource version")))

	_, err = serveStream(t, 403, `forbidden`).List(metav1.ListOptions{})
	g.Expect(err).To(Satisfy(apierrors.IsForbidden))
}

func TestListWatchLists(t *testing.T) {
	g := NewWithT(t)
	list := iamv1alpha1.UserList{ListMeta: metav1.ListMeta{ResourceVersion: "42", Continue: "next"},
		Items: []iamv1alpha1.User{*fullUser("a"), *fullUser("b")}}
	data, err := json.Marshal(list)
	g.Expect(err).NotTo(HaveOccurred())
	got, err := serveStream(t, 200, string(data)).List(metav1.ListOptions{Limit: 2})
	g.Expect(err).NotTo(HaveOccurred())
	// As the informer reads a list.
	lm, err := meta.ListAccessor(got)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(lm.GetResourceVersion()).To(Equal("42"))
	g.Expect(lm.GetContinue()).To(Equal("next"))
	items, err := meta.ExtractListWithAlloc(got)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(items).To(HaveLen(2))
	g.Expect(items[1]).To(Equal(asKubernetes(g, fullUser("b"))))
	g.Expect(got.DeepCopyObject()).To(Equal(got))
}

// The reflectors list and watch over HTTP/1.1, a connection each, from an
// API server that speaks HTTP/2 to other clients.
func TestListsAndWatchesOverHTTP1(t *testing.T) {
	g := NewWithT(t)
	protos := make(chan string, 8)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		protos <- r.Proto
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Query().Get("watch") == "true" {
			return
		}
		fmt.Fprint(w, `{"kind":"UserList","metadata":{"resourceVersion":"5"},"items":[]}`)
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	cfg := &rest.Config{Host: srv.URL, TLSClientConfig: rest.TLSClientConfig{
		CAData: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})}}

	other, err := rest.HTTPClientFor(cfg)
	g.Expect(err).NotTo(HaveOccurred())
	resp, err := other.Get(srv.URL + "/apis")
	g.Expect(err).NotTo(HaveOccurred())
	resp.Body.Close()
	g.Expect(<-protos).To(Equal("HTTP/2.0"), "the server speaks HTTP/2")

	lists, err := ListClient(cfg)
	g.Expect(err).NotTo(HaveOccurred())
	lw := newListWatch(cfg, lists, &iamv1alpha1.User{})
	_, err = lw.List(metav1.ListOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(<-protos).To(Equal("HTTP/1.1"))
	w, err := lw.Watch(metav1.ListOptions{ResourceVersion: "5"})
	g.Expect(err).NotTo(HaveOccurred())
	w.Stop()
	g.Expect(<-protos).To(Equal("HTTP/1.1"))
}
