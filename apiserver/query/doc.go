// Package query is the query engine behind Roster's directory API: it
// answers `GET users` (filters, search, sort, JSON Logic, pagination and
// visibility, docs/users-api.md sections 5 and 6) from in-memory indexes. It is plain Go
// with no Kubernetes imports, so it is tested and benchmarked alone.
//
// # API
//
//   - User, Organization, Membership (with Role): the records the server
//     feeds from its cache of the CRDs.
//   - NewIndex, Index.UpsertUser/DeleteUser, UpsertMembership/
//     DeleteMembership, UpsertOrganization/DeleteOrganization: one goroutine
//     applies the cache's changes, in any order (a membership may arrive before
//     its user or organization). A membership is found by its user and name:
//     its user never changes.
//   - Index.Snapshot: an O(1), consistent, immutable view; readers use it
//     from any number of goroutines while the writer goes on.
//   - ParseListRequest(url.Values, http.Header, ParseOptions) *ListRequest:
//     parses untrusted query parameters and the X-Organization header.
//     The server may then set ListRequest.Extra (its labelSelector and
//     fieldSelector, counted like every other filter) and ListRequest.Window
//     (the offset and limit of a Kubernetes `limit`/`continue` chunk, or
//     the last row of the previous chunk: Window.After resumes right after
//     that row's place in the order, so chunks neither repeat nor skip rows
//     when users come and go before it).
//   - CompileFilter: the `filter` parameter alone; Filter.Match.
//   - Snapshot.List(Caller, *ListRequest) *Result: count, page or window,
//     resolved page number, offset of the first row and whether neighbours
//     exist (for `next` and `previous`).
//   - Snapshot.Visible: may the caller see this user without an
//     organization context (GET by name, watch). Snapshot.Matches: would
//     this user be listed by this request (watch with query parameters).
//   - Snapshot.User, UserByID, OrganizationsOf (for `users/self`), Len.
//   - Error: Status 400, 403 or 404, the parameter at fault and the message
//     to return as is.
//
// # Decisions where the spec is silent
//
// Parameters:
//   - Unknown parameters are ignored. A parameter (or the X-Organization
//     header) given several times must carry the same value each time, else
//     400 "<param>: given more than once with different values"; so
//     `?org=a&org=b` or `?is_active=true&is_active=false` cannot widen a
//     request.
//   - `username`, `first_name`, `last_name`, `search`, `sort`, `filter`,
//     `page` and `page_size` with an empty value are as if absent.
//     `is_active` must be exactly `true` or `false`; even an empty value is
//     a 400.
//   - `page` is a positive integer or `last`; `page_size` a positive
//     integer, clamped to ParseOptions.MaxPageSize (default 1000). The
//     default page size is 10. A page number too large for an int is a 404
//     "Invalid page.", like any page past the end.
//   - `org_id` with `org` or with the X-Organization header is a 400 (the
//     header names a slug, so the two cannot be compared); `org` and the
//     header must be equal. `org=` or an empty header selects the personal
//     workspace; `org_id` must be a number (an empty one is a 400).
//
// Sorting: keys compare strings byte-wise (Go string order, no locale
// collation) and false before true. Ties are broken by ascending id, then by
// ascending metadata.name, whatever the direction of the keys; so `-id`
// alone lists newest first and only users sharing an id (0, not yet
// allocated) fall back to names. A repeated key is dropped (it cannot
// change the order) and empty keys (`sort=username,`) are skipped.
//
// Search: a rune r matches every rune with the same
// unicode.ToLower(unicode.ToUpper(r)) (so Σ, σ and ς match each other);
// there is no multi-rune folding (ß does not match ss). Terms split on
// commas and Unicode white space; a double-quoted phrase is one term that
// must occur inside one field; an unterminated quote runs to the end.
// Repeated terms count once; more than MaxSearchTerms (32) distinct terms
// is a 400, which bounds the work per user.
//
// JSON Logic (`filter`):
//   - Comparisons take a {"var": …} and a literal in either order; the
//     three-argument form ({"<": [a, {"var": f}, b]}, also "<=") is only for
//     "<" and "<=", as in JSON Logic. `in` takes [{"var": f}, [literals…]]
//     (an empty list matches nobody) or ["text", {"var": f}] for a string
//     field (case-sensitive substring). `var` takes "name" or ["name"].
//     `!` and `!!` take an expression or a one-element list of one;
//     {"var": f} alone is the field's truthiness (non-empty, non-zero,
//     true).
//   - Literals must have the field's type: strings for username,
//     first_name and last_name, integers that fit in int64 for id (no
//     fraction, no exponent), booleans for is_active; is_active supports
//     only == and != (and `in`). Anything else is "filter: operation '<op>'
//     with arguments '<args as JSON, at most 200 bytes>' is not supported";
//     an object with several keys names them joined by commas.
//   - Input that is valid JSON but not an object (`5`, `[1]`) is
//     "filter: can't parse filter expression: expected a JSON Logic object,
//     got …"; data after the expression is a parse error too.
//   - Limits: MaxFilterBytes (16 KiB), MaxFilterDepth (32 levels),
//     MaxFilterNodes (4096 JSON values) and MaxFilterOperations (128
//     operations, the work per user; the values of an `in` list are
//     looked up in a set and do not count), each a 400 naming the limit.
//
// Visibility (docs/users-api.md section 6):
//   - A 404 for an unknown organization comes before a 403. Its message is
//     the spec's plain text with the organization as written in the request
//     (slug or id): "acme organization does not exist.". The
//     403 reads "You are not an active member of the `acme` organization.".
//   - An organization named only by memberships (its Organization object
//     does not exist or was deleted) is unknown: a 404, and it makes no one
//     visible to anyone. Its memberships still count as memberships for the
//     personal workspace.
//   - Pending memberships count as memberships for the personal workspace.
//   - A caller with no User, or whose User is not (yet) in the snapshot,
//     and who is not an administrator, sees nobody; with an organization
//     context they get the 403.
//
// Pagination: Count is always the number of matching users. A paged request
// past the last page is a 404 "Invalid page." (Param "page"); page 1 and
// page=last of an empty result are an empty page 1. Without `page` and
// `page_size` the result is the whole list, or ListRequest.Window of it;
// then Result.Page is 0 and HasNext/HasPrevious tell whether rows exist
// after and before the window.
//
// Users without an allocated id (0) are listed and sort as id 0;
// UserByID(0) finds no one.
//
// # How it is fast
//
// Users get dense slot numbers. Every sort key has an order of slots,
// sorted by (key, id, name) and cut into copy-on-write chunks of 512, so a
// write copies O(sqrt n) bytes. Trigrams of the folded username, first and
// last names map to roaring-style sets of slots in a persistent hash trie;
// organizations keep sets of all and of active members; a set holds users
// without memberships. Every structure carries the generation that built
// it: the writer changes in place what the current generation built and
// copies the rest, and Snapshot starts a new generation, so snapshots are
// O(1) and never see later writes.
//
// A list request turns visibility, search terms (three runes or more),
// exact name filters and id bounds of `filter` into bitsets from those
// indexes, checks the remaining conditions only on the candidates, counts
// with popcount, then either walks the order of the first sort key until
// the page is full or sorts the few candidates, whichever is cheaper.
// Search terms shorter than three runes are checked per candidate, which is
// a scan of all users when nothing else narrows the request.
package query
