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

// TestUserJSONMatchesReflection holds the direct encoding of users and of
// their pages to encoding/json's bytes, on random users in both views,
// and counts that most of them took the direct path.
func TestUserJSONMatchesReflection(t *testing.T) {
	f := jsonFiller()
	direct := 0
	for i := range 3000 {
		var u User
		f.Fill(&u)
		if _, ok := appendUser(nil, &u); ok {
			direct++
		}
		sameJSON(t, "a user", u, mustJSON(reflectUser(&u)))

		var l UserList
		f.Fill(&l)
		if i%7 == 0 {
			l.Items = nil
		}
		type plain UserList
		sameJSON(t, "a page of users", &l, mustJSON(json.Marshal(struct {
			plain
			Items []json.RawMessage `json:"items"`
		}{plain(l), rawItems(l.Items, reflectUser)})))
	}
	if direct < 2000 {
		t.Errorf("%d of 3000 users took the direct path, want at least 2000", direct)
	}
}

// TestMembershipJSONMatchesReflection is TestUserJSONMatchesReflection for
// memberships.
func TestMembershipJSONMatchesReflection(t *testing.T) {
	type plainMembership Membership
	reflectMembership := func(m *Membership) ([]byte, error) { return json.Marshal((*plainMembership)(m)) }
	f := jsonFiller()
	direct := 0
	for i := range 3000 {
		var m Membership
		f.Fill(&m)
		if plainMeta(&m.ObjectMeta) {
			direct++
		}
		sameJSON(t, "a membership", m, mustJSON(reflectMembership(&m)))

		var l MembershipList
		f.Fill(&l)
		if i%7 == 0 {
			l.Items = nil
		}
		type plain MembershipList
		sameJSON(t, "a page of memberships", &l, mustJSON(json.Marshal(struct {
			plain
			Items []json.RawMessage `json:"items"`
		}{plain(l), rawItems(l.Items, reflectMembership)})))
	}
	if direct < 2000 {
		t.Errorf("%d of 3000 memberships took the direct path, want at least 2000", direct)
	}
}
