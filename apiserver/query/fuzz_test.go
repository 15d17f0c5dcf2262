package query

import (
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// maxRequestTime bounds one parse and list of the small fuzz fixture; far
// above what any input needs, far below a hang.
const maxRequestTime = 2 * time.Second

func FuzzCompileFilter(f *testing.F) {
	for _, s := range []string{
		`{"==":[{"var":"username"},"alice"]}`,
		`{"<=":[100,{"var":"id"},5000]}`,
		`{"<":[1,{"var":"id"},3]}`,
		`{"and":[{">":[{"var":"id"},1]},{"!":{"var":"is_active"}}]}`,
		`{"or":[{"in":[{"var":"id"},[1,2]]},{"in":["ali",{"var":"last_name"}]}]}`,
		`{"!!":[{"var":"first_name"}]}`,
		`{"==":[{"var":"email"},"x"]}`,
		`{}`, `[]`, `{"and":[]}`, `nul`, `{"var":"id"} 1`,
	} {
		f.Add(s)
	}
	users := []User{
		{Name: "a", ID: 1, Username: "alice", FirstName: "Alice", LastName: "Smith", IsActive: true},
		{Name: "b", ID: 0, Username: "", IsActive: false},
	}
	f.Fuzz(func(t *testing.T, expr string) {
		start := time.Now()
		flt, err := CompileFilter(expr)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Status != 400 || e.Param != "filter" || e.Message == "" {
				t.Fatalf("CompileFilter(%q) returned %#v", expr, err)
			}
		} else {
			for _, u := range users {
				flt.matchUser(u)
			}
		}
		if d := time.Since(start); d > maxRequestTime {
			t.Fatalf("CompileFilter(%q) took %v", expr, d)
		}
	})
}

func FuzzParseListRequest(f *testing.F) {
	for _, s := range [][2]string{
		{"", ""},
		{"page=2&page_size=3&sort=-last_name,first_name", ""},
		{"search=ali%2C%22mary+ann%22&is_active=true", ""},
		{"org=acme&org_id=1", ""},
		{"org=acme", "beta"},
		{"org=", ""},
		{"org_id=2&page=last", ""},
		{"org=acme&org=beta", ""},
		{"filter=%7B%22%3C%3D%22%3A%5B1%2C%7B%22var%22%3A%22id%22%7D%2C3%5D%7D", ""},
		{"page=99999999999999999999&username=bob", ""},
		{"sort=email", ""},
	} {
		f.Add(s[0], s[1])
	}
	s := fixture().Snapshot()
	callers := []Caller{{Admin: true}, {User: "bob"}, {User: "alice"}, {}}
	f.Fuzz(func(t *testing.T, query, header string) {
		start := time.Now()
		q, _ := url.ParseQuery(query) // keep what parses, as net/http does
		h := http.Header{}
		if header != "" {
			h.Set(OrgHeader, header)
		}
		r, err := ParseListRequest(q, h, ParseOptions{})
		check := func(err error, statuses ...int) {
			if err == nil {
				return
			}
			var e *Error
			if errors.As(err, &e) && e.Message != "" {
				for _, st := range statuses {
					if e.Status == st {
						return
					}
				}
			}
			t.Fatalf("query %q header %q: unexpected error %#v", query, header, err)
		}
		check(err, 400)
		if err == nil {
			for _, c := range callers {
				res, err := s.List(c, r)
				check(err, 403, 404)
				if err == nil && (len(res.Users) > res.Count || (r.Paged && len(res.Users) > r.PageSize)) {
					t.Fatalf("query %q: %d users of %d", query, len(res.Users), res.Count)
				}
			}
		}
		if d := time.Since(start); d > maxRequestTime {
			t.Fatalf("query %q took %v", query, d)
		}
	})
}
