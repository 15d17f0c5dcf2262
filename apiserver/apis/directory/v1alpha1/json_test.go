package v1alpha1

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/randfill"
)

// hardStrings are strings encoding/json escapes or replaces.
var hardStrings = []string{"", "ana", "<b>&amp;</b>", "quote \" and \\ back", "tab\tnew\nline\r\b\f\x00\x1f",
	"line\u2028para\u2029", "bad \xff\xfe utf-8", "σίσυφος", "emoji 🙂", "\x7f del"}

// jsonFiller fills users, memberships and their pages with strings
// encoding/json escapes, times of every kind, and, for three objects in
// four, only the metadata the directory sets.
func jsonFiller() *randfill.Filler {
	meta := func(m *metav1.ObjectMeta, c randfill.Continue, times ...**metav1.Time) {
		// Random managed fields are not JSON: neither path writes them.
		m.ManagedFields = nil
		// randfill leaves pointers to times nil.
		for _, tp := range append(times, &m.DeletionTimestamp) {
			*tp = nil
			if c.Intn(3) > 0 {
				*tp = &metav1.Time{}
				c.Fill(*tp)
			}
		}
		if c.Intn(4) > 0 {
			m.GenerateName, m.Namespace, m.SelfLink = "", "", ""
			m.DeletionGracePeriodSeconds, m.OwnerReferences, m.Finalizers = nil, nil, nil
		}
	}
	return randfill.NewWithSeed(11).NilChance(0.3).NumElements(0, 3).Funcs(
		func(s *string, c randfill.Continue) {
			if c.Intn(2) == 0 {
				*s = hardStrings[c.Intn(len(hardStrings))]
			} else {
				*s = c.String(0)
			}
		},
		func(n *int64, c randfill.Continue) {
			// omitempty numbers are zero often enough.
			if c.Intn(3) > 0 {
				*n = c.Int63() - c.Int63()
			} else {
				*n = 0
			}
		},
		func(tm *metav1.Time, c randfill.Continue) {
			switch c.Intn(4) {
			case 0:
				*tm = metav1.Time{}
			case 1:
				*tm = metav1.NewTime(time.Unix(int64(c.Uint32()), int64(c.Intn(1e9))).Local())
			case 2:
				// Years past 9999 and before 0 are written as they are.
				*tm = metav1.NewTime(time.Date(10000+c.Intn(5), 1, 2, 3, 4, 5, 0, time.UTC).AddDate(-20000*c.Intn(2), 0, 0))
			default:
				*tm = metav1.NewTime(time.Unix(int64(c.Uint32()), 0).In(time.FixedZone("x", 3600*(c.Intn(25)-12))))
			}
		},
		func(u *User, c randfill.Continue) {
			c.FillNoCustom(u)
			meta(&u.ObjectMeta, c, &u.DateJoined, &u.LastLogin)
			if c.Intn(3) == 0 {
				u.IsActive = nil
			}
		},
		func(m *Membership, c randfill.Continue) {
			c.FillNoCustom(m)
			meta(&m.ObjectMeta, c, &m.JoinedDate)
		},
	)
}

// sameJSON fails unless got writes want, as it is and as encoding/json
// passes it on.
func sameJSON(t *testing.T, what string, got json.Marshaler, want []byte) {
	t.Helper()
	for _, marshal := range []func(any) ([]byte, error){
		func(any) ([]byte, error) { return got.MarshalJSON() },
		json.Marshal,
	} {
		b, err := marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, want) {
			t.Fatalf("%s:\n got %s\nwant %s", what, b, want)
		}
	}
}

// mustJSON is the JSON of an encoding that cannot fail.
func mustJSON(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// rawItems encodes each item with the reference encoding.
func rawItems[T any](items []T, reference func(*T) ([]byte, error)) []json.RawMessage {
	if items == nil {
		return nil
	}
	out := []json.RawMessage{}
	for i := range items {
		out = append(out, mustJSON(reference(&items[i])))
	}
	return out
}

// holdsToReflection fills 3,000 objects of a kind and as many pages of
// them, holds each one's direct encoding to encoding/json's bytes (reflect
// for an object, reflectPage for a page whose items reflect wrote), and
// counts that most objects took the direct path.
func holdsToReflection[T, L any](t *testing.T, kind string, meta func(*T) *metav1.ObjectMeta, items func(*L) *[]T,
	reflect func(*T) ([]byte, error), reflectPage func(*L, []json.RawMessage) ([]byte, error)) {
	t.Helper()
	f := jsonFiller()
	direct := 0
	for i := range 3000 {
		var obj T
		f.Fill(&obj)
		if plainMeta(meta(&obj)) {
			direct++
		}
		sameJSON(t, "a "+kind, any(obj).(json.Marshaler), mustJSON(reflect(&obj)))

		var l L
		f.Fill(&l)
		if i%7 == 0 {
			*items(&l) = nil
		}
		sameJSON(t, "a page of "+kind+"s", any(&l).(json.Marshaler), mustJSON(reflectPage(&l, rawItems(*items(&l), reflect))))
	}
	if direct < 2000 {
		t.Errorf("%d of 3000 %ss took the direct path, want at least 2000", direct, kind)
	}
}

// TestUserJSONMatchesReflection holds the direct encoding of users and of
// their pages to encoding/json's bytes, on random users in both views.
func TestUserJSONMatchesReflection(t *testing.T) {
	holdsToReflection(t, "user", func(u *User) *metav1.ObjectMeta { return &u.ObjectMeta }, func(l *UserList) *[]User { return &l.Items },
		reflectUser, func(l *UserList, items []json.RawMessage) ([]byte, error) {
			type plain UserList
			return json.Marshal(struct {
				plain
				Items []json.RawMessage `json:"items"`
			}{plain(*l), items})
		})
}

// TestMembershipJSONMatchesReflection is TestUserJSONMatchesReflection for
// memberships.
func TestMembershipJSONMatchesReflection(t *testing.T) {
	holdsToReflection(t, "membership", func(m *Membership) *metav1.ObjectMeta { return &m.ObjectMeta }, func(l *MembershipList) *[]Membership { return &l.Items },
		reflectMembership, func(l *MembershipList, items []json.RawMessage) ([]byte, error) {
			type plain MembershipList
			return json.Marshal(struct {
				plain
				Items []json.RawMessage `json:"items"`
			}{plain(*l), items})
		})
}
