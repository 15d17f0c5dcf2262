package query

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The peer benchmark (make bench-peer, hack/bench-peer.sh) runs the same
// queries on the same data in PostgreSQL, shaped as a Django application
// with django-filter and its paginator shapes them: a COUNT(*) and a page.
// TestWritePeerDataset writes, for each size, the data as CSV, each query's
// SQL, what the engine answers (count and page IDs, which PostgreSQL must
// match) and the engine's own time per request.

// peerQuery is one request: the directory's query string and the SQL of
// the same request. The SQL's %[1]s is the WHERE clause's joins and
// conditions, %[2]s the ORDER BY and %[3]d the OFFSET.
type peerQuery struct {
	name   string
	roster func(d *dataset) string
	from   func(d *dataset) string // FROM ... WHERE ...
	order  string
	offset func(d *dataset) int
}

const peerSearch = `(UPPER("auth_user"."username"::text) LIKE UPPER('%ali%') OR UPPER("auth_user"."first_name"::text) LIKE UPPER('%ali%') OR UPPER("auth_user"."last_name"::text) LIKE UPPER('%ali%'))`

// peerMiddlePage is the middle page of search=ali sorted by last name.
func peerMiddlePage(d *dataset) int {
	r, _ := ParseListRequest(url.Values{"search": {"ali"}}, nil, ParseOptions{})
	res, _ := d.ix.Snapshot().List(Caller{Admin: true}, r)
	return max(1, res.Count/20)
}

func peerOrgID(d *dataset) int64 {
	o, _ := d.ix.Snapshot().Organization(d.largest)
	return o.ID
}

var peerQueries = []peerQuery{
	{
		name:   "first-page",
		roster: func(*dataset) string { return "page=1" },
		from:   func(*dataset) string { return `FROM "auth_user"` },
		order:  `"auth_user"."id" DESC`,
	},
	{
		name:   "search",
		roster: func(*dataset) string { return "search=ali&page=1" },
		from:   func(*dataset) string { return `FROM "auth_user" WHERE ` + peerSearch },
		order:  `"auth_user"."id" DESC`,
	},
	{
		name: "search-sort-middle-page",
		roster: func(d *dataset) string {
			return fmt.Sprintf("search=ali&sort=last_name&page=%d", peerMiddlePage(d))
		},
		from:   func(*dataset) string { return `FROM "auth_user" WHERE ` + peerSearch },
		order:  `"auth_user"."last_name" COLLATE "C" ASC, "auth_user"."id" ASC`,
		offset: func(d *dataset) int { return (peerMiddlePage(d) - 1) * 10 },
	},
	{
		name:   "largest-org-page",
		roster: func(d *dataset) string { return "page=1&org=" + d.largest },
		from: func(d *dataset) string {
			return fmt.Sprintf(`FROM "auth_user" INNER JOIN "organizations_membership" ON ("auth_user"."id" = "organizations_membership"."user_id") WHERE "organizations_membership"."organization_id" = %d`, peerOrgID(d))
		},
		order: `"auth_user"."id" DESC`,
	},
	{
		name: "id-range-active",
		roster: func(*dataset) string {
			return `page=1&filter={"and":[{"<=":[100,{"var":"id"},5000]},{"==":[{"var":"is_active"},true]}]}`
		},
		from: func(*dataset) string {
			return `FROM "auth_user" WHERE ("auth_user"."id" >= 100 AND "auth_user"."id" <= 5000 AND "auth_user"."is_active")`
		},
		order: `"auth_user"."id" DESC`,
	},
}

func TestWritePeerDataset(t *testing.T) {
	dir := os.Getenv("ROSTER_PEER_DIR")
	if dir == "" {
		t.Skip("ROSTER_PEER_DIR is not set: make bench-peer sets it")
	}
	sizes := []int{1_000, 10_000, 100_000}
	if v := os.Getenv("ROSTER_PEER_SIZES"); v != "" {
		sizes = nil
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.Atoi(f)
			if err != nil || n < 1000 {
				t.Fatalf("ROSTER_PEER_SIZES=%q: want sizes of at least 1000", v)
			}
			sizes = append(sizes, n)
		}
	}
	for _, n := range sizes {
		d := makeDataset(t, n)
		out := filepath.Join(dir, strconv.Itoa(n))
		if err := os.MkdirAll(out, 0o755); err != nil {
			t.Fatal(err)
		}
		write := func(name string, fill func(b *strings.Builder)) {
			var b strings.Builder
			fill(&b)
			if err := os.WriteFile(filepath.Join(out, name), []byte(b.String()), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		write("users.csv", func(b *strings.Builder) {
			for _, u := range d.users {
				fmt.Fprintf(b, "%d\t%s\t%s\t%s\t%t\n", u.ID, u.Username, u.FirstName, u.LastName, u.IsActive)
			}
		})
		s := d.ix.Snapshot()
		write("organizations.csv", func(b *strings.Builder) {
			for o := range 100 {
				slug := fmt.Sprintf("org-%d", o)
				org, _ := s.Organization(slug)
				fmt.Fprintf(b, "%d\t%s\n", org.ID, slug)
			}
		})
		ids := map[string]int64{}
		for _, u := range d.users {
			ids[u.Name] = u.ID
		}
		write("memberships.csv", func(b *strings.Builder) {
			for _, m := range d.memberships {
				org, _ := s.Organization(m.Organization)
				fmt.Fprintf(b, "%d\t%d\t%s\t%t\n", org.ID, ids[m.User], m.Role, m.Active)
			}
		})
		var expected, engine strings.Builder
		for _, q := range peerQueries {
			offset := 0
			if q.offset != nil {
				offset = q.offset(d)
			}
			from := q.from(d)
			write(q.name+".sql", func(b *strings.Builder) {
				fmt.Fprintf(b, "SELECT COUNT(*) AS \"__count\" %s;\n", from)
				fmt.Fprintf(b, "SELECT \"auth_user\".\"id\", \"auth_user\".\"username\", \"auth_user\".\"first_name\", \"auth_user\".\"last_name\", \"auth_user\".\"email\", \"auth_user\".\"is_active\" %s ORDER BY %s LIMIT 10 OFFSET %d;\n", from, q.order, offset)
			})
			values, err := url.ParseQuery(q.roster(d))
			if err != nil {
				t.Fatal(err)
			}
			r, err := ParseListRequest(values, nil, ParseOptions{})
			if err != nil {
				t.Fatal(err)
			}
			res, err := s.List(Caller{Admin: true}, r)
			if err != nil {
				t.Fatal(err)
			}
			page := make([]string, len(res.Users))
			for i, u := range res.Users {
				page[i] = strconv.FormatInt(u.ID, 10)
			}
			fmt.Fprintf(&expected, "%s\t%d\t%s\n", q.name, res.Count, strings.Join(page, ","))
			// The engine's time per request: parsing it and answering it.
			bench := testing.Benchmark(func(b *testing.B) {
				for b.Loop() {
					r, err := ParseListRequest(values, nil, ParseOptions{})
					if err != nil {
						b.Fatal(err)
					}
					if _, err := s.List(Caller{Admin: true}, r); err != nil {
						b.Fatal(err)
					}
				}
			})
			fmt.Fprintf(&engine, "%s\t%.1f\n", q.name, float64(bench.NsPerOp())/1000)
		}
		write("expected.tsv", func(b *strings.Builder) { b.WriteString(expected.String()) })
		write("engine.tsv", func(b *strings.Builder) { b.WriteString(engine.String()) })
		t.Logf("%d users: wrote %s", n, out)
	}
}
