package query

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
)

func TestParseListRequest(t *testing.T) {
	tests := []struct {
		name   string
		query  string
		header []string
		check  func(g Gomega, r *ListRequest)
	}{
		{"defaults: no paging, newest first", "", nil, func(g Gomega, r *ListRequest) {
			g.Expect(r.Paged).To(BeFalse())
			g.Expect(r.Sort).To(Equal([]SortKey{{Field: "id", Descending: true}}))
			g.Expect(r.Org.Set).To(BeFalse())
		}},
		{"empty name filters mean no filter", "username=&first_name=&last_name=", nil, func(g Gomega, r *ListRequest) {
			g.Expect(r.Username + r.FirstName + r.LastName).To(BeEmpty())
		}},
		{"exact filters keep case", "username=Alice&first_name=Al&last_name=Smith", nil, func(g Gomega, r *ListRequest) {
			g.Expect([]string{r.Username, r.FirstName, r.LastName}).To(Equal([]string{"Alice", "Al", "Smith"}))
		}},
		{"is_active true", "is_active=true", nil, func(g Gomega, r *ListRequest) {
			g.Expect(*r.IsActive).To(BeTrue())
		}},
		{"is_active false", "is_active=false", nil, func(g Gomega, r *ListRequest) {
			g.Expect(*r.IsActive).To(BeFalse())
		}},
		{"search terms split on spaces and commas, phrases kept", `search=Ali, "Mary Ann"  SMITH`, nil, func(g Gomega, r *ListRequest) {
			g.Expect(r.Search).To(Equal([]string{"ali", "mary ann", "smith"}))
		}},
		{"search folds Unicode case", "search=ΣΊΣΥΦΟΣ", nil, func(g Gomega, r *ListRequest) {
			g.Expect(r.Search).To(Equal([]string{"σίσυφοσ"}))
		}},
		{"search terms are kept once", "search=ali,ALI,bob,ali", nil, func(g Gomega, r *ListRequest) {
			g.Expect(r.Search).To(Equal([]string{"ali", "bob"}))
		}},
		{"a repeated sort key is dropped", "sort=last_name,id,-last_name,,id", nil, func(g Gomega, r *ListRequest) {
			g.Expect(r.Sort).To(Equal([]SortKey{{Field: "last_name"}, {Field: "id"}}))
		}},
		{"sort keys and directions", "sort=last_name,-first_name", nil, func(g Gomega, r *ListRequest) {
			g.Expect(r.Sort).To(Equal([]SortKey{{Field: "last_name"}, {Field: "first_name", Descending: true}}))
		}},
		{"page alone uses the default page size", "page=2", nil, func(g Gomega, r *ListRequest) {
			g.Expect([]any{r.Paged, r.Page, r.PageSize}).To(Equal([]any{true, 2, 10}))
		}},
		{"page_size alone pages from page 1", "page_size=3", nil, func(g Gomega, r *ListRequest) {
			g.Expect([]any{r.Paged, r.Page, r.PageSize}).To(Equal([]any{true, 1, 3}))
		}},
		{"page_size=all is the largest page", "page_size=all", nil, func(g Gomega, r *ListRequest) {
			g.Expect(r.Paged).To(BeTrue())
			g.Expect(r.PageSize).To(Equal(1000))
			g.Expect(r.Page).To(Equal(1))
		}},
		{"org_id empty is the personal workspace", "org_id=", nil, func(g Gomega, r *ListRequest) {
			g.Expect(r.Org).To(Equal(OrgContext{Set: true}))
		}},
		{"is_active True, as Python writes it", "is_active=True", nil, func(g Gomega, r *ListRequest) {
			g.Expect(*r.IsActive).To(BeTrue())
		}},
		{"is_active 0", "is_active=0", nil, func(g Gomega, r *ListRequest) {
			g.Expect(*r.IsActive).To(BeFalse())
		}},
		{"page_size above the maximum is clamped", "page_size=5000", nil, func(g Gomega, r *ListRequest) {
			g.Expect(r.PageSize).To(Equal(1000))
		}},
		{"page=last", "page=last", nil, func(g Gomega, r *ListRequest) {
			g.Expect(r.LastPage).To(BeTrue())
		}},
		{"org slug", "org=acme", nil, func(g Gomega, r *ListRequest) {
			g.Expect(r.Org).To(Equal(OrgContext{Set: true, Slug: "acme"}))
		}},
		{"empty org is the personal workspace", "org=", nil, func(g Gomega, r *ListRequest) {
			g.Expect(r.Org).To(Equal(OrgContext{Set: true}))
		}},
		{"org_id", "org_id=42", nil, func(g Gomega, r *ListRequest) {
			g.Expect(r.Org).To(Equal(OrgContext{Set: true, ByID: true, ID: 42}))
		}},
		{"header", "", []string{"acme"}, func(g Gomega, r *ListRequest) {
			g.Expect(r.Org).To(Equal(OrgContext{Set: true, Slug: "acme"}))
		}},
		{"org equal to the header", "org=acme", []string{"acme"}, func(g Gomega, r *ListRequest) {
			g.Expect(r.Org).To(Equal(OrgContext{Set: true, Slug: "acme"}))
		}},
		{"repeated identical values are one value", "org=acme&org=acme&page=2&page=2", nil, func(g Gomega, r *ListRequest) {
			g.Expect(r.Org.Slug).To(Equal("acme"))
			g.Expect(r.Page).To(Equal(2))
		}},
		{"unknown parameters are ignored", "limit=5&continue=x&labelSelector=a%3Db&color=red", nil, func(g Gomega, r *ListRequest) {
			g.Expect(r.Paged).To(BeFalse())
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			r, err := parse(g, tt.query, tt.header)
			g.Expect(err).NotTo(HaveOccurred())
			tt.check(g, r)
		})
	}
}

func TestParseListRequestErrors(t *testing.T) {
	tests := []struct {
		name    string
		query   string
		header  []string
		param   string
		message string
	}{
		{"is_active not a boolean", "is_active=yes", nil, "is_active", `is_active: "yes" is not true or false`},
		{"is_active empty", "is_active=", nil, "is_active", `is_active: "" is not true or false`},
		{"unknown sort key", "sort=username,-email", nil, "sort", "sort: unsupported key 'email'; use username, first_name, last_name, id or is_active"},
		{"page not a number", "page=two", nil, "page", `page: "two" is not a positive integer or "last"`},
		{"page zero", "page=0", nil, "page", `page: "0" is not a positive integer or "last"`},
		{"page negative", "page=-1", nil, "page", `page: "-1" is not a positive integer or "last"`},
		{"page_size zero", "page_size=0", nil, "page_size", `page_size: "0" is not a positive integer`},
		{"page_size not a number", "page_size=1.5", nil, "page_size", `page_size: "1.5" is not a positive integer`},
		{"org with org_id", "org=acme&org_id=1", nil, "org_id", "org_id: can't be used together with org or the X-Organization header"},
		{"org_id with the header", "org_id=1", []string{"acme"}, "org_id", "org_id: can't be used together with org or the X-Organization header"},
		{"org differs from the header", "org=acme", []string{"beta"}, "org", `org: "acme" differs from the X-Organization header "beta"`},
		{"personal workspace differs from the header", "org=", []string{"beta"}, "org", `org: "" differs from the X-Organization header "beta"`},
		{"org_id not a number", "org_id=acme", nil, "org_id", `org_id: "acme" is not a number`},
		{"two different orgs", "org=acme&org=beta", nil, "org", "org: given more than once with different values"},
		{"org and personal workspace", "org=acme&org=", nil, "org", "org: given more than once with different values"},
		{"two is_active values", "is_active=true&is_active=false", nil, "is_active", "is_active: given more than once with different values"},
		{"two different headers", "", []string{"acme", "beta"}, "X-Organization", "X-Organization: given more than once with different values"},
		{"two filters", "filter=%7B%7D&filter=x", nil, "filter", "filter: given more than once with different values"},
		{"two is_active values and a sort", "is_active=true&is_active=false&sort=id", nil, "is_active", "is_active: given more than once with different values"},
		{"two usernames and a filter", "username=a&username=b&filter=%7B%22var%22%3A%22id%22%7D", nil, "username", "username: given more than once with different values"},
		{"two searches, a sort and a filter", "search=a&search=b&sort=id&filter=%7B%22var%22%3A%22id%22%7D", nil, "search", "search: given more than once with different values"},
		{"two sorts and a filter", "sort=id&sort=-id&filter=%7B%22var%22%3A%22id%22%7D", nil, "sort", "sort: given more than once with different values"},
		{"bad filter", "filter=%7B", nil, "filter", "filter: can't parse filter expression: unexpected end of JSON input"},
		{"too many search terms", "search=" + manyTerms(33), nil, "search", "search: more than 32 terms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			_, err := parse(g, tt.query, tt.header)
			g.Expect(err).To(Equal(&Error{Status: 400, Param: tt.param, Message: tt.message}))
		})
	}
}

func TestCompileFilter(t *testing.T) {
	users := []User{
		{Name: "a", ID: 1, Username: "alice", FirstName: "Alice", LastName: "Smith", IsActive: true},
		{Name: "b", ID: 2, Username: "bob", FirstName: "Bob", LastName: "", IsActive: false},
		{Name: "c", ID: 3, Username: "carol", FirstName: "Carol", LastName: "Alison", IsActive: true},
	}
	tests := []struct {
		expr string
		want []string // names of the users matched
	}{
		{`{"==":[{"var":"username"},"bob"]}`, []string{"b"}},
		{`{"==":["bob",{"var":"username"}]}`, []string{"b"}},
		{`{"!=":[{"var":"id"},2]}`, []string{"a", "c"}},
		{`{"<":[{"var":"id"},2]}`, []string{"a"}},
		{`{">":[2,{"var":"id"}]}`, []string{"a"}},
		{`{">=":[{"var":"id"},2]}`, []string{"b", "c"}},
		{`{"<=":[1,{"var":"id"},2]}`, []string{"a", "b"}},
		{`{"<":[1,{"var":"id"},3]}`, []string{"b"}},
		{`{"<":[{"var":"first_name"},"Bz"]}`, []string{"a", "b"}},
		{`{"in":[{"var":"id"},[1,3]]}`, []string{"a", "c"}},
		{`{"in":[{"var":"id"},[]]}`, nil},
		{`{"in":[{"var":"username"},["bob","carol"]]}`, []string{"b", "c"}},
		{`{"in":["li",{"var":"username"}]}`, []string{"a"}},
		{`{"in":["Ali",{"var":"last_name"}]}`, []string{"c"}},
		{`{"in":["ali",{"var":"last_name"}]}`, nil},
		{`{"==":[{"var":"is_active"},false]}`, []string{"b"}},
		{`{"var":"is_active"}`, []string{"a", "c"}},
		{`{"!":{"var":"is_active"}}`, []string{"b"}},
		{`{"!":[{"var":"is_active"}]}`, []string{"b"}},
		{`{"!!":[{"var":"last_name"}]}`, []string{"a", "c"}},
		{`{"var":["id"]}`, []string{"a", "b", "c"}},
		{`{"and":[{">":[{"var":"id"},1]},{"var":"is_active"}]}`, []string{"c"}},
		{`{"or":[{"==":[{"var":"id"},1]},{"==":[{"var":"username"},"bob"]}]}`, []string{"a", "b"}},
		{` {"==":[{"var":"id"},1]} `, []string{"a"}},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			g := NewWithT(t)
			f, err := CompileFilter(tt.expr)
			g.Expect(err).NotTo(HaveOccurred())
			var got []string
			for _, u := range users {
				if f.matchUser(u) {
					got = append(got, u.Name)
				}
			}
			g.Expect(got).To(Equal(tt.want))
		})
	}
}

func TestCompileFilterErrors(t *testing.T) {
	deep := strings.Repeat(`{"!":`, 40) + `{"var":"is_active"}` + strings.Repeat(`}`, 40)
	tests := []struct {
		expr    string
		message string
	}{
		{`{`, "filter: can't parse filter expression: unexpected end of JSON input"},
		{`nope`, "filter: can't parse filter expression: invalid character 'o' in literal null (expecting 'u')"},
		{`{"var":"id"} {}`, "filter: can't parse filter expression: unexpected data after the expression"},
		{`{"var":"id"}]`, "filter: can't parse filter expression: unexpected data after the expression"},
		{`5`, "filter: can't parse filter expression: expected a JSON Logic object, got 5"},
		{`[1]`, "filter: can't parse filter expression: expected a JSON Logic object, got [1]"},
		{`{}`, "filter shouldn't be empty"},
		{`[]`, "filter shouldn't be empty"},
		{`{"==":[{"var":"email"},"a@b.c"]}`, "filter: term 'email' is not supported"},
		{`{"var":""}`, "filter: term '' is not supported"},
		{`{"var":3}`, "filter: operation 'var' with arguments '3' is not supported"},
		{`{"like":[{"var":"username"},"a%"]}`, `filter: operation 'like' with arguments '[{"var":"username"},"a%"]' is not supported`},
		{`{"==":[{"var":"id"},"1"]}`, `filter: operation '==' with arguments '[{"var":"id"},"1"]' is not supported`},
		{`{"==":["1",{"var":"id"}]}`, `filter: operation '==' with arguments '["1",{"var":"id"}]' is not supported`},
		{`{"==":[{"var":"id"},1.5]}`, `filter: operation '==' with arguments '[{"var":"id"},1.5]' is not supported`},
		{`{"==":[{"var":"id"},99999999999999999999]}`, `filter: operation '==' with arguments '[{"var":"id"},99999999999999999999]' is not supported`},
		{`{"==":[{"var":"username"},1]}`, `filter: operation '==' with arguments '[{"var":"username"},1]' is not supported`},
		{`{"==":[{"var":"is_active"},"true"]}`, `filter: operation '==' with arguments '[{"var":"is_active"},"true"]' is not supported`},
		{`{"<":[{"var":"is_active"},true]}`, `filter: operation '<' with arguments '[{"var":"is_active"},true]' is not supported`},
		{`{"==":[{"var":"id"}]}`, `filter: operation '==' with arguments '[{"var":"id"}]' is not supported`},
		{`{"==":[{"var":"id"},1,2]}`, `filter: operation '==' with arguments '[{"var":"id"},1,2]' is not supported`},
		{`{">":[1,{"var":"id"},2]}`, `filter: operation '>' with arguments '[1,{"var":"id"},2]' is not supported`},
		{`{"==":[1,2]}`, `filter: operation '==' with arguments '[1,2]' is not supported`},
		{`{"==":[{"var":"id"},{"var":"id"}]}`, `filter: operation '==' with arguments '[{"var":"id"},{"var":"id"}]' is not supported`},
		{`{"and":[]}`, `filter: operation 'and' with arguments '[]' is not supported`},
		{`{"or":{"var":"id"}}`, `filter: operation 'or' with arguments '{"var":"id"}' is not supported`},
		{`{"and":[5]}`, `filter: operation 'and' with arguments '[5]' is not supported`},
		{`{"!":[]}`, `filter: operation '!' with arguments '[]' is not supported`},
		{`{"in":[{"var":"id"},[1,"2"]]}`, `filter: operation 'in' with arguments '[{"var":"id"},[1,"2"]]' is not supported`},
		{`{"in":["a",{"var":"id"}]}`, `filter: operation 'in' with arguments '["a",{"var":"id"}]' is not supported`},
		{`{"in":[{"var":"username"},"alice"]}`, `filter: operation 'in' with arguments '[{"var":"username"},"alice"]' is not supported`},
		{`{"==":[],"!=":[]}`, `filter: operation '!=,==' with arguments '{"!=":[],"==":[]}' is not supported`},
		{deep, "filter: expression is nested deeper than 32 levels"},
		{`{"in":[{"var":"id"},[` + strings.TrimSuffix(strings.Repeat("1,", 5000), ",") + `]]}`, "filter: expression has more than 4096 nodes"},
		{strings.Repeat(" ", MaxFilterBytes+1), "filter: expression is longer than 16384 bytes"},
		{`{"or":[` + strings.TrimSuffix(strings.Repeat(`{"var":"id"},`, 128), ",") + `]}`, "filter: expression has more than 128 operations"},
	}
	for _, tt := range tests {
		t.Run(tt.expr[:min(len(tt.expr), 60)], func(t *testing.T) {
			g := NewWithT(t)
			_, err := CompileFilter(tt.expr)
			g.Expect(err).To(Equal(&Error{Status: 400, Param: "filter", Message: tt.message}))
		})
	}
}

// parse parses a query string and organization header values as a list
// request.
func parse(g Gomega, query string, orgHeader []string) (*ListRequest, error) {
	q, err := url.ParseQuery(query)
	g.Expect(err).NotTo(HaveOccurred())
	h := http.Header{}
	for _, v := range orgHeader {
		h.Add(OrgHeader, v)
	}
	return ParseListRequest(q, h, ParseOptions{})
}

func manyTerms(n int) string {
	terms := make([]string, n)
	for i := range terms {
		terms[i] = fmt.Sprintf("t%d", i)
	}
	return url.QueryEscape(strings.Join(terms, " "))
}
