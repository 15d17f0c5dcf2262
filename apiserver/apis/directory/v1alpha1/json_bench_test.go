package v1alpha1

import (
	"encoding/json"
	"fmt"
	"io"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// pageOf is a page of n users as the directory shows them to an
// administrator (full) or to a member (basic).
func pageOf(n int, full bool) *UserList {
	created := metav1.NewTime(time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC))
	list := &UserList{TypeMeta: metav1.TypeMeta{APIVersion: "directory.roster.dev/v1alpha1", Kind: "UserList"},
		ListMeta: metav1.ListMeta{ResourceVersion: "123456"}, Count: 10000, Next: new("https://example/apis?page=2")}
	for i := range n {
		u := User{
			TypeMeta: metav1.TypeMeta{APIVersion: "directory.roster.dev/v1alpha1", Kind: "User"},
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("user-%05d", i), UID: "0b5f1c3e-8e0a-4d5b-9a43-2f3c8d7e6a10",
				ResourceVersion: "98765", CreationTimestamp: created},
			ID: int64(i + 1), Username: fmt.Sprintf("user-%05d", i), FirstName: "Ana", LastName: "Anderson",
		}
		if full {
			u.Generation = 1
			u.Labels = map[string]string{"team": "platform"}
			u.Email, u.IsActive, u.IsStaff, u.IsSuperuser = new("ana@example.com"), new(true), new(false), new(false)
			u.Groups = []string{"developers"}
			u.DateJoined = &created
			u.Status = &UserStatus{ObservedGeneration: 1, Conditions: []metav1.Condition{
				{Type: "Ready", Status: "True", Reason: "Reconciled", Message: "the user is reconciled", ObservedGeneration: 1, LastTransitionTime: created},
				{Type: "Reconciling", Status: "False", Reason: "Reconciled", ObservedGeneration: 1, LastTransitionTime: created},
				{Type: "Stalled", Status: "False", Reason: "Reconciled", ObservedGeneration: 1, LastTransitionTime: created},
			}}
		}
		list.Items = append(list.Items, u)
	}
	return list
}

// BenchmarkEncodeUserList encodes a page of ten users with an
// encoding/json Encoder (encoder), as any client of encoding/json does,
// and with AppendJSON into a buffer kept from one page to the next
// (direct), as the directory's server does.
func BenchmarkEncodeUserList(b *testing.B) {
	for _, full := range []bool{false, true} {
		list := pageOf(10, full)
		b.Run(fmt.Sprintf("full=%v/encoder", full), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := json.NewEncoder(io.Discard).Encode(list); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("full=%v/direct", full), func(b *testing.B) {
			b.ReportAllocs()
			var buf []byte
			for b.Loop() {
				var err error
				if buf, err = list.AppendJSON(buf[:0]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
