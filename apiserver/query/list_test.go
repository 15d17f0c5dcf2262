package query

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"

	. "github.com/onsi/gomega"
)

// fixture: acme (1) and beta (2).
//
//	alice  acme owner      active
//	bob    acme worker     active,  beta worker active
//	carol  acme worker     pending
//	dave   beta maintainer active
//	erin   no memberships
//	frank  acme maintainer active
//	gina   beta worker     pending
//	hank   no memberships (the administrator's own User)
func fixture() *Index {
	ix := NewIndex()
	for i, n := range []string{"alice", "bob", "carol", "dave", "erin", "frank", "gina", "hank"} {
		ix.UpsertUser(User{Name: n, ID: int64(i + 1), Username: n, FirstName: "F" + n, LastName: "L" + n, IsActive: n != "gina"})
	}
	ix.UpsertOrganization(Organization{Slug: "acme", ID: 1})
	ix.UpsertOrganization(Organization{Slug: "beta", ID: 2})
	for _, m := range []Membership{
		{Name: "m1", Organization: "acme", User: "alice", Role: RoleOwner, Active: true},
		{Name: "m2", Organization: "acme", User: "bob", Role: RoleWorker, Active: true},
		{Name: "m3", Organization: "beta", User: "bob", Role: RoleWorker, Active: true},
		{Name: "m4", Organization: "acme", User: "carol", Role: RoleWorker},
		{Name: "m5", Organization: "beta", User: "dave", Role: RoleMaintainer, Active: true},
		{Name: "m6", Organization: "acme", User: "frank", Role: RoleMaintainer, Active: true},
		{Name: "m7", Organization: "beta", User: "gina", Role: RoleWorker},
		// A membership of an organization that does not exist makes no one
		// visible, but is still a membership.
		{Name: "m8", Organization: "ghost", User: "dave", Role: RoleWorker, Active: true},
	} {
		ix.UpsertMembership(m)
	}
	return ix
}

func list(g Gomega, s *Snapshot, c Caller, query string, header ...string) ([]string, *Result, error) {
	q, err := url.ParseQuery(query)
	g.Expect(err).NotTo(HaveOccurred())
	h := http.Header{}
	for _, v := range header {
		h.Add(OrgHeader, v)
	}
	r, err := ParseListRequest(q, h, ParseOptions{})
	if err != nil {
		return nil, nil, err
	}
	res, err := s.List(c, r)
	if err != nil {
		return nil, nil, err
	}
	var names []string
	for _, u := range res.Users {
		names = append(names, u.Name)
	}
	return names, res, nil
}

func TestVisibility(t *testing.T) {
	admin := Caller{User: "hank", Admin: true}
	groupAdmin := Caller{Admin: true} // in an admin group, no User
	tests := []struct {
		name   string
		caller Caller
		query  string
		header string
		want   []string // sorted by id ascending
	}{
		{"admin sees everyone", admin, "", "", []string{"alice", "bob", "carol", "dave", "erin", "frank", "gina", "hank"}},
		{"admin without a User sees everyone", groupAdmin, "", "", []string{"alice", "bob", "carol", "dave", "erin", "frank", "gina", "hank"}},
		{"admin in an org sees members in any state", admin, "org=acme", "", []string{"alice", "bob", "carol", "frank"}},
		{"admin by org_id", admin, "org_id=2", "", []string{"bob", "dave", "gina"}},
		{"admin by header", admin, "", "beta", []string{"bob", "dave", "gina"}},
		{"admin in the personal workspace sees users without memberships", admin, "org=", "", []string{"erin", "hank"}},
		{"regular user sees self and active co-members", Caller{User: "bob"}, "", "", []string{"alice", "bob", "dave", "frank"}},
		{"pending member sees only self", Caller{User: "carol"}, "", "", []string{"carol"}},
		{"member of an unknown org shares nothing through it", Caller{User: "dave"}, "", "", []string{"bob", "dave"}},
		{"user without memberships sees self", Caller{User: "erin"}, "", "", []string{"erin"}},
		{"worker in an org sees active members", Caller{User: "bob"}, "org=acme", "", []string{"alice", "bob", "frank"}},
		{"owner in an org also sees pending invitees", Caller{User: "alice"}, "org=acme", "", []string{"alice", "bob", "carol", "frank"}},
		{"maintainer in an org also sees pending invitees", Caller{User: "dave"}, "org=beta", "", []string{"bob", "dave", "gina"}},
		{"maintainer by header", Caller{User: "frank"}, "", "acme", []string{"alice", "bob", "carol", "frank"}},
		{"personal workspace without memberships: self", Caller{User: "erin"}, "org=", "", []string{"erin"}},
		{"personal workspace with memberships: nobody", Caller{User: "bob"}, "org=", "", nil},
		{"personal workspace with a pending membership: nobody", Caller{User: "carol"}, "org=", "", nil},
		{"caller with no User sees nobody", Caller{}, "", "", nil},
		{"caller whose User is gone sees nobody", Caller{User: "zed"}, "", "", nil},
		{"caller with no User in the personal workspace sees nobody", Caller{}, "org=", "", nil},
	}
	s := fixture().Snapshot()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			var header []string
			if tt.header != "" {
				header = []string{tt.header}
			}
			got, res, err := list(g, s, tt.caller, "sort=id&"+tt.query, header...)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(got).To(Equal(tt.want))
			g.Expect(res.Count).To(Equal(len(tt.want)))
		})
	}
}

func TestVisibilityErrors(t *testing.T) {
	tests := []struct {
		name    string
		caller  Caller
		query   string
		status  int
		message string
	}{
		{"unknown slug", Caller{Admin: true}, "org=nope", 404, "nope organization does not exist."},
		{"unknown id", Caller{Admin: true}, "org_id=99", 404, "99 organization does not exist."},
		{"unknown slug before membership", Caller{User: "bob"}, "org=nope", 404, "nope organization does not exist."},
		{"org known only from memberships", Caller{User: "dave"}, "org=ghost", 404, "ghost organization does not exist."},
		{"not a member", Caller{User: "erin"}, "org=acme", 403, "You are not an active member of the `acme` organization."},
		{"not a member, by id", Caller{User: "erin"}, "org_id=1", 403, "You are not an active member of the `acme` organization."},
		{"pending member", Caller{User: "carol"}, "org=acme", 403, "You are not an active member of the `acme` organization."},
		{"no User", Caller{}, "org=acme", 403, "You are not an active member of the `acme` organization."},
	}
	s := fixture().Snapshot()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			_, _, err := list(g, s, tt.caller, tt.query)
			g.Expect(err).To(Equal(&Error{Status: tt.status, Message: tt.message}))
		})
	}
}

func TestVisible(t *testing.T) {
	s := fixture().Snapshot()
	tests := []struct {
		caller Caller
		user   string
		want   bool
	}{
		{Caller{Admin: true}, "carol", true},
		{Caller{Admin: true}, "zed", false},
		{Caller{User: "bob"}, "bob", true},
		{Caller{User: "bob"}, "dave", true},
		{Caller{User: "bob"}, "carol", false},
		{Caller{User: "bob"}, "gina", false},
		{Caller{User: "bob"}, "erin", false},
		{Caller{User: "carol"}, "alice", false},
		{Caller{User: "dave"}, "alice", false},
		{Caller{}, "alice", false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s sees %s", tt.caller.User, tt.user), func(t *testing.T) {
			g := NewWithT(t)
			g.Expect(s.Visible(tt.caller, tt.user)).To(Equal(tt.want))
		})
	}
}

func TestListParameters(t *testing.T) {
	ix := NewIndex()
	for _, u := range []User{
		{Name: "u1", ID: 1, Username: "alice", FirstName: "Alice", LastName: "Smith", IsActive: true},
		{Name: "u2", ID: 2, Username: "ali.baba", FirstName: "Ali", LastName: "Baba", IsActive: false},
		{Name: "u3", ID: 3, Username: "bob", FirstName: "Bob", LastName: "Smith", IsActive: true},
		{Name: "u4", ID: 4, Username: "mary", FirstName: "Mary Ann", LastName: "Alison", IsActive: true},
		{Name: "u5", ID: 5, Username: "sisyphos", FirstName: "Σίσυφος", LastName: "Smith", IsActive: true},
		{Name: "u6", ID: 0, Username: "newcomer", FirstName: "New", LastName: "Comer", IsActive: true},
	} {
		ix.UpsertUser(u)
	}
	admin := Caller{Admin: true}
	tests := []struct {
		query string
		want  []string
	}{
		{"", []string{"u5", "u4", "u3", "u2", "u1", "u6"}},
		{"username=alice", []string{"u1"}},
		{"username=Alice", nil},
		{"first_name=Ali", []string{"u2"}},
		{"last_name=Smith", []string{"u5", "u3", "u1"}},
		{"is_active=false", []string{"u2"}},
		{"search=ali", []string{"u4", "u2", "u1"}},
		{"search=ALI", []string{"u4", "u2", "u1"}},
		{"search=ali smith", []string{"u1"}},
		{"search=ali,baba", []string{"u2"}},
		{`search="mary ann"`, []string{"u4"}},
		{`search="ann mary"`, nil},
		{"search=ΣΊΣΥΦΟΣ", []string{"u5"}},
		{"search=ΦΟς", []string{"u5"}},
		{"search=a", []string{"u4", "u2", "u1"}},
		{"sort=username", []string{"u2", "u1", "u3", "u4", "u6", "u5"}},
		{"sort=-username", []string{"u5", "u6", "u4", "u3", "u1", "u2"}},
		{"sort=last_name", []string{"u4", "u2", "u6", "u1", "u3", "u5"}},
		{"sort=-last_name", []string{"u1", "u3", "u5", "u6", "u2", "u4"}},
		{"sort=last_name,-first_name", []string{"u4", "u2", "u6", "u5", "u3", "u1"}},
		{"sort=id", []string{"u6", "u1", "u2", "u3", "u4", "u5"}},
		{"sort=is_active", []string{"u2", "u6", "u1", "u3", "u4", "u5"}},
		{"sort=-is_active", []string{"u6", "u1", "u3", "u4", "u5", "u2"}},
		{`filter={"<=":[1,{"var":"id"},3]}`, []string{"u3", "u2", "u1"}},
		{`filter={"in":["li",{"var":"username"}]}&search=smith`, []string{"u1"}},
		{"last_name=Smith&is_active=true&search=s&sort=first_name", []string{"u1", "u3", "u5"}},
	}
	s := ix.Snapshot()
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			g := NewWithT(t)
			got, res, err := list(g, s, admin, tt.query)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(got).To(Equal(tt.want))
			g.Expect(res.Count).To(Equal(len(tt.want)))
		})
	}
}

func TestPagination(t *testing.T) {
	ix := NewIndex()
	for i := 1; i <= 25; i++ {
		ix.UpsertUser(User{Name: fmt.Sprintf("u%02d", i), ID: int64(i)})
	}
	s := ix.Snapshot()
	admin := Caller{Admin: true}
	tests := []struct {
		query            string
		first, last      string
		n, page          int
		hasNext, hasPrev bool
	}{
		{"page=1", "u25", "u16", 10, 1, true, false},
		{"page=2", "u15", "u06", 10, 2, true, true},
		{"page=3", "u05", "u01", 5, 3, false, true},
		{"page=last", "u05", "u01", 5, 3, false, true},
		{"page_size=5&page=5", "u05", "u01", 5, 5, false, true},
		{"page_size=25", "u25", "u01", 25, 1, false, false},
		{"page=&page_size=", "u25", "u01", 25, 0, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			g := NewWithT(t)
			got, res, err := list(g, s, admin, tt.query)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(res.Count).To(Equal(25))
			g.Expect(got).To(HaveLen(tt.n))
			g.Expect([]string{got[0], got[len(got)-1]}).To(Equal([]string{tt.first, tt.last}))
			g.Expect([]any{res.Page, res.HasNext, res.HasPrevious}).To(Equal([]any{tt.page, tt.hasNext, tt.hasPrev}))
		})
	}
	t.Run("a page past the end is a 404", func(t *testing.T) {
		g := NewWithT(t)
		_, _, err := list(g, s, admin, "page=4")
		g.Expect(err).To(Equal(&Error{Status: 404, Param: "page", Message: "Invalid page."}))
		_, _, err = list(g, s, admin, "page=99999999999999999999999")
		g.Expect(err).To(Equal(&Error{Status: 404, Param: "page", Message: "Invalid page."}))
	})
	t.Run("page 1 and the last page of an empty result are empty", func(t *testing.T) {
		g := NewWithT(t)
		for _, q := range []string{"page=1&username=nobody", "page=last&username=nobody"} {
			got, res, err := list(g, s, admin, q)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(got).To(BeEmpty())
			g.Expect([]any{res.Count, res.Page, res.HasNext, res.HasPrevious}).To(Equal([]any{0, 1, false, false}))
		}
		_, _, err := list(g, s, admin, "page=2&username=nobody")
		g.Expect(err).To(Equal(&Error{Status: 404, Param: "page", Message: "Invalid page."}))
	})
	t.Run("a window of the whole result", func(t *testing.T) {
		g := NewWithT(t)
		r, err := ParseListRequest(url.Values{}, nil, ParseOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		r.Window = Window{Offset: 20, Limit: 10}
		res, err := s.List(admin, r)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(res.Users).To(HaveLen(5))
		g.Expect([]any{res.Count, res.Page, res.HasNext, res.HasPrevious}).To(Equal([]any{25, 0, false, true}))
	})
	t.Run("Extra is counted", func(t *testing.T) {
		g := NewWithT(t)
		r, err := ParseListRequest(url.Values{"page_size": {"2"}}, nil, ParseOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		r.Extra = func(u User) bool { return u.ID%5 == 0 }
		res, err := s.List(admin, r)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(res.Count).To(Equal(5))
		g.Expect(res.Users).To(Equal([]User{{Name: "u25", ID: 25}, {Name: "u20", ID: 20}}))
	})
}

func TestLookups(t *testing.T) {
	g := NewWithT(t)
	ix := fixture()
	s := ix.Snapshot()
	u, ok := s.User("bob")
	g.Expect(ok).To(BeTrue())
	g.Expect(u.ID).To(Equal(int64(2)))
	u, ok = s.UserByID(4)
	g.Expect([]any{u.Name, ok}).To(Equal([]any{"dave", true}))
	_, ok = s.UserByID(40)
	g.Expect(ok).To(BeFalse())
	g.Expect(s.OrganizationsOf("dave")).To(Equal([]MembershipRole{
		{Organization: "beta", OrganizationID: 2, Role: RoleMaintainer, Active: true},
	}), "a membership of ghost, which does not exist, is no organization")
	ix.DeleteUser("bob")
	g.Expect(ix.Snapshot().Visible(Caller{Admin: true}, "bob")).To(BeFalse())
	g.Expect(s.Visible(Caller{Admin: true}, "bob")).To(BeTrue(), "a snapshot does not change")
}

func TestHandBuiltRequest(t *testing.T) {
	g := NewWithT(t)
	s := fixture().Snapshot()
	res, err := s.List(Caller{Admin: true}, &ListRequest{Search: []string{"ALI"}, Paged: true})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(res.Users).To(HaveLen(1))
	g.Expect(res.Users[0].Name).To(Equal("alice"))
	_, err = s.List(Caller{Admin: true}, &ListRequest{Sort: []SortKey{{Field: "email"}}})
	g.Expect(err).To(Equal(&Error{Status: 400, Param: "sort",
		Message: "sort: unsupported key 'email'; use username, first_name, last_name, id or is_active"}))
}

func TestWindowAfter(t *testing.T) {
	ix := NewIndex()
	user := func(i int) User {
		return User{Name: fmt.Sprintf("u%02d", i), ID: int64(i), Username: fmt.Sprintf("n%02d", 30-i), IsActive: i%3 != 0}
	}
	for i := 1; i <= 25; i++ {
		ix.UpsertUser(user(i))
	}
	admin := Caller{Admin: true}
	window := func(g Gomega, s *Snapshot, query string, w Window) ([]string, *Result) {
		q, err := url.ParseQuery(query)
		g.Expect(err).NotTo(HaveOccurred())
		r, err := ParseListRequest(q, nil, ParseOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		r.Window = w
		res, err := s.List(admin, r)
		g.Expect(err).NotTo(HaveOccurred())
		var names []string
		for _, u := range res.Users {
			names = append(names, u.Name)
		}
		return names, res
	}

	g := NewWithT(t)
	first, res := window(g, ix.Snapshot(), "", Window{Limit: 10})
	g.Expect(first).To(HaveLen(10))
	g.Expect(first[9]).To(Equal("u16"))
	g.Expect([]any{res.Offset, res.HasNext, res.HasPrevious}).To(Equal([]any{0, true, false}))
	last := user(16)

	// A user added before the cursor and one removed before it move every
	// offset, not the cursor.
	ix.UpsertUser(User{Name: "u26", ID: 26})
	ix.DeleteUser("u20")
	s := ix.Snapshot()
	t.Run("resumes right after the last row", func(t *testing.T) {
		g := NewWithT(t)
		got, res := window(g, s, "", Window{After: &last, Limit: 10, Offset: 3})
		g.Expect(got).To(Equal([]string{"u15", "u14", "u13", "u12", "u11", "u10", "u09", "u08", "u07", "u06"}))
		g.Expect([]any{res.Count, res.Offset, res.HasNext, res.HasPrevious}).To(Equal([]any{25, 10, true, true}))
	})
	t.Run("resumes after a row that is gone", func(t *testing.T) {
		g := NewWithT(t)
		gone := user(20)
		got, res := window(g, s, "", Window{After: &gone, Limit: 3})
		g.Expect(got).To(Equal([]string{"u19", "u18", "u17"}))
		g.Expect(res.Offset).To(Equal(6))
	})
	t.Run("follows the sort keys and the filters", func(t *testing.T) {
		g := NewWithT(t)
		// Usernames run opposite to ids: ascending username is descending id.
		all, _ := window(g, s, "sort=is_active,username&is_active=true", Window{})
		for i := 0; i+4 <= len(all); i += 4 {
			after, _ := s.User(all[i])
			got, res := window(g, s, "sort=is_active,username&is_active=true", Window{After: &after, Limit: 4})
			g.Expect(got).To(Equal(all[i+1 : min(i+5, len(all))]))
			g.Expect(res.Offset).To(Equal(i + 1))
		}
		lastRow, _ := s.User(all[len(all)-1])
		got, res := window(g, s, "sort=is_active,username&is_active=true", Window{After: &lastRow, Limit: 4})
		g.Expect(got).To(BeEmpty())
		g.Expect([]any{res.Offset, res.HasNext, res.HasPrevious}).To(Equal([]any{len(all), false, true}))
	})
}
