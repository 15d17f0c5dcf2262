package server

import (
	"bytes"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	directoryv1alpha1 "github.com/roster-dev/roster/apiserver/apis/directory/v1alpha1"
)

// appended is an object that writes its own JSON.
type appended struct {
	metav1.Status
}

func (appended) AppendJSON(b []byte) ([]byte, error) { return append(b, `{"direct":true}`...), nil }

// TestDirectJSONWritesWhatEncodingJSONWould encodes a page of users, and a
// Status, through the directory's negotiated JSON encoder and through
// Codecs' own, and wants the same bytes; an object that writes its own
// JSON is written as it is.
func TestDirectJSONWritesWhatEncodingJSONWould(t *testing.T) {
	created := metav1.NewTime(time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC))
	page := &directoryv1alpha1.UserList{Count: 2, Next: new("https://example/?page=2&x=<y>"), Items: []directoryv1alpha1.User{
		{ObjectMeta: metav1.ObjectMeta{Name: "ana", UID: "u-1", ResourceVersion: "7", CreationTimestamp: created, Labels: map[string]string{"b": "2", "a": "1"}},
			ID: 1, Username: "ana", FirstName: "Ana <&>", LastName: "Anderson\u2028", Email: new("ana@example.com"), IsActive: new(true),
			IsStaff: new(false), IsSuperuser: new(false), DateJoined: &created},
		{ObjectMeta: metav1.ObjectMeta{Name: "bo", OwnerReferences: []metav1.OwnerReference{{Name: "x"}}}, ID: 2, Username: "bo"},
	}}
	status := &metav1.Status{Status: metav1.StatusFailure, Message: "no <such> user", Code: 404}
	gv := directoryv1alpha1.SchemeGroupVersion
	info, ok := runtime.SerializerInfoForMediaType(directCodecs{Codecs}.SupportedMediaTypes(), runtime.ContentTypeJSON)
	if !ok {
		t.Fatal("no JSON serializer")
	}
	plain, _ := runtime.SerializerInfoForMediaType(Codecs.SupportedMediaTypes(), runtime.ContentTypeJSON)
	for _, obj := range []runtime.Object{page, &page.Items[0], &page.Items[1], status} {
		var got, want bytes.Buffer
		if err := (directCodecs{Codecs}).EncoderForVersion(info.Serializer, gv).Encode(obj.DeepCopyObject(), &got); err != nil {
			t.Fatal(err)
		}
		if err := Codecs.EncoderForVersion(plain.Serializer, gv).Encode(obj.DeepCopyObject(), &want); err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			t.Errorf("%T:\n got %s\nwant %s", obj, got.String(), want.String())
		}
	}
	var got strings.Builder
	if err := info.Serializer.Encode(&appended{}, &got); err != nil {
		t.Fatal(err)
	}
	if got.String() != "{\"direct\":true}\n" {
		t.Errorf("an object that writes its own JSON: got %q", got.String())
	}
}
