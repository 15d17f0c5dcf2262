package query

import (
	"errors"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// MaxSearchTerms bounds the per-user work of one `search`.
const MaxSearchTerms = 32

// OrgHeader is the header that selects an organization like `org` does.
const OrgHeader = "X-Organization"

// ParseOptions are the server's settings for list requests.
type ParseOptions struct {
	// DefaultPageSize applies when `page` is given without `page_size`;
	// 10 when zero.
	DefaultPageSize int
	// MaxPageSize caps `page_size` (larger values are clamped to it);
	// 1000 when zero.
	MaxPageSize int
}

// SortKey is one key of the `sort` parameter.
type SortKey struct {
	// Field is username, first_name, last_name, id or is_active.
	Field string
	// Descending is true for a key written with a leading "-".
	Descending bool
}

// OrgContext is the organization a request is scoped to (docs/users-api.md section 6).
type OrgContext struct {
	// Set is true when `org`, `org_id` or the X-Organization header was
	// given. Set with Slug "" and ByID false is the personal workspace.
	Set  bool
	Slug string
	// ByID is true when the organization is named by `org_id`.
	ByID bool
	ID   int64
}

// Window is a slice of the whole sorted result, for requests without page
// numbers (Kubernetes `limit`/`continue`): the server keeps Offset in its
// continue token.
type Window struct {
	Offset int
	// After, when not nil, starts the window right after this user's place
	// in the order (its sort values, id and name), wherever that is now and
	// whether or not the user still exists or matches; Offset is then
	// ignored. A continue token that holds the last row it returned so
	// resumes without repeating or skipping rows when users were added or
	// removed before that place in the meantime.
	After *User
	// Limit is the most rows to return; 0 means all of them.
	Limit int
}

// ListRequest is a parsed list request. The server may set Extra and Window
// after parsing.
type ListRequest struct {
	// Username, FirstName and LastName are exact, case-sensitive matches;
	// "" means no filter.
	Username, FirstName, LastName string
	// IsActive, when not nil, keeps the users whose is_active equals it.
	IsActive *bool
	// Search holds the search terms; every one must match.
	Search []string
	// Sort holds the sort keys; ties are broken by ascending id, then name.
	// Empty means -id.
	Sort []SortKey
	// Filter is the compiled `filter`, or nil.
	Filter *Filter
	Org    OrgContext
	// Roles, when not empty, keeps the members of the request's organization
	// that hold one of them (in any state the caller may see).
	Roles []Role
	// Paged is true when `page` or `page_size` was given.
	Paged bool
	// Page is the requested page (1-based, 0 means 1); LastPage asks for
	// the last one.
	Page     int
	LastPage bool
	// PageSize is the page size when Paged; 0 means 10.
	PageSize int
	// Window applies when Paged is false.
	Window Window
	// Extra, when not nil, must also hold for a user to be listed (and
	// counted): the server's labelSelector and fieldSelector.
	Extra func(User) bool
}

type sortKey struct {
	f    field
	desc bool
}

var defaultSort = []sortKey{{fieldID, true}}

// ParseListRequest parses the query parameters of docs/users-api.md section 5 and the
// X-Organization header (h may be nil). Unknown parameters are ignored. A
// parameter given several times must have the same value each time. Errors
// are *Error with status 400.
func ParseListRequest(q url.Values, h http.Header, opts ParseOptions) (*ListRequest, error) {
	if opts.DefaultPageSize <= 0 {
		opts.DefaultPageSize = 10
	}
	if opts.MaxPageSize <= 0 {
		opts.MaxPageSize = 1000
	}
	r := &ListRequest{}
	// repeated holds the first parameter given twice with different values;
	// it is kept apart from err so that a later parse cannot clear it.
	var repeated, err error
	get := func(name string) (string, bool) {
		v, ok, e := single(name, q[name])
		if e != nil && repeated == nil {
			repeated = e
		}
		return v, ok
	}
	r.Username, _ = get("username")
	r.FirstName, _ = get("first_name")
	r.LastName, _ = get("last_name")
	if v, ok := get("is_active"); ok {
		// As clients write booleans: Python's True and False, 1 and 0.
		switch v {
		case "true", "True", "1":
			r.IsActive = new(true)
		case "false", "False", "0":
			r.IsActive = new(false)
		default:
			return nil, badRequest("is_active", "is_active: %q is not true or false", v)
		}
	}
	if v, _ := get("search"); v != "" {
		r.Search = searchTerms(v)
		if len(r.Search) > MaxSearchTerms {
			return nil, badRequest("search", "search: more than %d terms", MaxSearchTerms)
		}
	}
	keys := defaultSort
	if v, _ := get("sort"); v != "" {
		if keys, err = parseSort(v); err != nil {
			return nil, err
		}
	}
	for _, k := range keys {
		r.Sort = append(r.Sort, SortKey{Field: fieldNames[k.f], Descending: k.desc})
	}
	if v, _ := get("filter"); v != "" {
		if r.Filter, err = CompileFilter(v); err != nil {
			return nil, err
		}
	}
	page, pageOK := get("page")
	size, sizeOK := get("page_size")
	org, orgOK := get("org")
	orgID, orgIDOK := get("org_id")
	if repeated != nil {
		return nil, repeated
	}
	// An empty page or page_size is as if it were absent.
	if pageOK && page != "" {
		r.Paged = true
		if page == "last" {
			r.LastPage = true
		} else if r.Page, err = positive("page", page); err != nil {
			return nil, err
		}
	}
	r.PageSize = opts.DefaultPageSize
	if sizeOK && size != "" {
		r.Paged = true
		if size == "all" {
			// The largest page the server allows; next says when there is more.
			r.PageSize = opts.MaxPageSize
		} else if r.PageSize, err = positive("page_size", size); err != nil {
			return nil, err
		}
		r.PageSize = min(r.PageSize, opts.MaxPageSize)
	}
	if r.Paged && r.Page == 0 && !r.LastPage {
		r.Page = 1
	}
	if v, _ := get("role"); v != "" {
		if r.Roles, err = ParseRoles(v); err != nil {
			return nil, err
		}
	}
	header, headerOK, err := single(OrgHeader, h.Values(OrgHeader))
	if err != nil {
		return nil, err
	}
	switch {
	case orgIDOK && (orgOK || headerOK):
		return nil, badRequest("org_id", "org_id: can't be used together with org or the %s header", OrgHeader)
	case orgOK && headerOK && org != header:
		return nil, badRequest("org", "org: %q differs from the %s header %q", org, OrgHeader, header)
	case orgIDOK && orgID == "":
		// An empty org_id is the personal workspace, as an empty org is.
		r.Org = OrgContext{Set: true}
	case orgIDOK:
		id, perr := strconv.ParseInt(orgID, 10, 64)
		if perr != nil {
			return nil, badRequest("org_id", "org_id: %q is not a number", orgID)
		}
		r.Org = OrgContext{Set: true, ByID: true, ID: id}
	case orgOK:
		r.Org = OrgContext{Set: true, Slug: org}
	case headerOK:
		r.Org = OrgContext{Set: true, Slug: header}
	}
	if len(r.Roles) > 0 && (!r.Org.Set || (!r.Org.ByID && r.Org.Slug == "")) {
		return nil, badRequest("role", "role: a role is held in an organization; name one with org, org_id or the %s header", OrgHeader)
	}
	return r, nil
}

// ParseRoles reads a comma-separated list of roles, each named once.
func ParseRoles(v string) ([]Role, error) {
	var roles []Role
	for _, name := range strings.Split(v, ",") {
		role := Role(strings.TrimSpace(name))
		if roleIndex(role) < 0 {
			return nil, badRequest("role", "role: %q is not a role; use owner, maintainer, supervisor or worker", string(role))
		}
		if !slices.Contains(roles, role) {
			roles = append(roles, role)
		}
	}
	return roles, nil
}

// single returns the one value of a parameter given zero or more times.
func single(name string, vals []string) (string, bool, error) {
	if len(vals) == 0 {
		return "", false, nil
	}
	for _, v := range vals[1:] {
		if v != vals[0] {
			return "", false, badRequest(name, "%s: given more than once with different values", name)
		}
	}
	return vals[0], true, nil
}

func positive(name, v string) (int, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if errors.Is(err, strconv.ErrRange) && n > 0 {
		// A page far past the end is still a page number: 404 later.
		return math.MaxInt, nil
	}
	if err != nil || n < 1 {
		if name == "page" {
			return 0, badRequest(name, "page: %q is not a positive integer or \"last\"", v)
		}
		return 0, badRequest(name, "%s: %q is not a positive integer", name, v)
	}
	return int(min(n, math.MaxInt)), nil
}

// sortKeys turns a request's Sort into index keys: ListRequest may be built
// by hand, so this checks again what ParseListRequest checked.
func sortKeys(sort []SortKey) ([]sortKey, error) {
	var keys []sortKey
	for _, k := range sort {
		f, ok := fieldByName(k.Field)
		if !ok {
			return nil, badRequest("sort", "sort: unsupported key '%s'; use username, first_name, last_name, id or is_active", k.Field)
		}
		if !slices.ContainsFunc(keys, func(k sortKey) bool { return k.f == f }) {
			keys = append(keys, sortKey{f, k.Descending})
		}
	}
	if len(keys) == 0 {
		return defaultSort, nil
	}
	return keys, nil
}

func parseSort(v string) ([]sortKey, error) {
	var keys []sortKey
	for _, k := range strings.Split(v, ",") {
		k = strings.TrimSpace(k)
		desc := strings.HasPrefix(k, "-")
		name := strings.TrimPrefix(k, "-")
		if k == "" {
			continue
		}
		f, ok := fieldByName(name)
		if !ok {
			return nil, badRequest("sort", "sort: unsupported key '%s'; use username, first_name, last_name, id or is_active", name)
		}
		// A key already sorted on cannot change the order again.
		if !slices.ContainsFunc(keys, func(k sortKey) bool { return k.f == f }) {
			keys = append(keys, sortKey{f, desc})
		}
	}
	if len(keys) == 0 {
		return defaultSort, nil
	}
	return keys, nil
}

// searchTerms splits `search` on white space and commas, keeping double
// quoted phrases whole (an unterminated quote runs to the end), and folds
// the terms.
func searchTerms(v string) []string {
	var terms []string
	var cur strings.Builder
	quoted := false
	flush := func() {
		if t := fold(cur.String()); t != "" && !slices.Contains(terms, t) {
			terms = append(terms, t)
		}
		cur.Reset()
	}
	for _, r := range v {
		switch {
		case r == '"':
			flush()
			quoted = !quoted
		case !quoted && (r == ',' || unicode.IsSpace(r)):
			flush()
		default:
			cur.WriteRune(r)
		}
	}
	flush()
	return terms
}
