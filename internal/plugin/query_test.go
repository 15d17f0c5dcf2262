package plugin

import (
	"io"
	"net/url"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	"github.com/spf13/cobra"

	directoryv1alpha1 "github.com/roster-dev/roster/apiserver/apis/directory/v1alpha1"
)

// usersQuery parses args as `kubectl roster users` does and returns the
// query parameters it would send.
func usersQuery(args ...string) (url.Values, int, error) {
	u := &usersOptions{options: &options{}, print: newPrintFlags()}
	cmd := &cobra.Command{}
	u.addFlags(cmd)
	if err := cmd.ParseFlags(args); err != nil {
		return nil, 0, err
	}
	return u.query(cmd.Flags())
}

func TestUsersQueryMapsEachFlagOntoTheDirectorysParameter(t *testing.T) {
	g := NewWithT(t)
	for _, tc := range []struct {
		args []string
		want string
		page int
	}{
		{nil, "page=1", 1},
		{[]string{"--search", "ali nguyen"}, "page=1&search=ali+nguyen", 1},
		{[]string{"--org", "acme", "--role", "owner,worker"}, "org=acme&page=1&role=owner%2Cworker", 1},
		{[]string{"--org-id", "2"}, "org_id=2&page=1", 1},
		{[]string{"--personal"}, "org_id=&page=1", 1},
		{[]string{"--personal=false", "--org", "acme"}, "org=acme&page=1", 1},
		{[]string{"--username", "alice", "--first-name", "Alice", "--last-name", "Nguyen"},
			"first_name=Alice&last_name=Nguyen&page=1&username=alice", 1},
		{[]string{"--active", "false"}, "is_active=false&page=1", 1},
		{[]string{"--active=TRUE"}, "is_active=true&page=1", 1},
		{[]string{"--sort", "-last_name,id"}, "page=1&sort=-last_name%2Cid", 1},
		{[]string{"--filter", `{"==":[{"var":"id"},1]}`}, "filter=%7B%22%3D%3D%22%3A%5B%7B%22var%22%3A%22id%22%7D%2C1%5D%7D&page=1", 1},
		{[]string{"--page", "2"}, "page=2", 2},
		{[]string{"--page", "last", "--page-size", "3"}, "page=last&page_size=3", 0},
		{[]string{"--page-size", "5"}, "page_size=5", 1},
		{[]string{"--all"}, "page_size=all", 1},
		{[]string{"--watch", "--org", "acme"}, "org=acme", 1},
	} {
		q, page, err := usersQuery(tc.args...)
		g.Expect(err).NotTo(HaveOccurred(), "%v", tc.args)
		g.Expect(q.Encode()).To(Equal(tc.want), "%v", tc.args)
		g.Expect(page).To(Equal(tc.page), "%v", tc.args)
	}
}

func TestUsersQueryRefusesBadFlagsInOneLine(t *testing.T) {
	g := NewWithT(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--org", "acme", "--personal"}, "--org and --personal cannot be used together; give one of --org, --org-id or --personal"},
		{[]string{"--org", "acme", "--org-id", "1"}, "--org and --org-id cannot be used together; give one of --org, --org-id or --personal"},
		{[]string{"--page-size", "3", "--all"}, "--page-size and --all cannot be used together; give one of --page-size or --all"},
		{[]string{"--org", ""}, "--org needs an organization's slug; for the personal workspace use --personal"},
		{[]string{"--org-id", "acme"}, `--org-id "acme" is not an organization ID: give a number from 1`},
		{[]string{"--active", "maybe"}, `--active "maybe" is neither true nor false`},
		{[]string{"--page", "0"}, `--page "0" is not a page: give a number from 1, or last`},
		{[]string{"--page", "two"}, `--page "two" is not a page: give a number from 1, or last`},
		{[]string{"--page-size", "0"}, "--page-size 0 is not a page size: give a number from 1"},
		{[]string{"--watch", "--page", "2"}, "--watch follows every matching user; it cannot be used with --page, --page-size or --all"},
	} {
		_, _, err := usersQuery(tc.args...)
		g.Expect(err).To(MatchError(tc.want), "%v", tc.args)
	}
}

func TestPageOfCountsPagesFromTheLinks(t *testing.T) {
	g := NewWithT(t)
	link := func(page string) *string {
		s := "/apis/directory.roster.dev/v1alpha1/users?page=" + page + "&page_size=10"
		return &s
	}
	for _, tc := range []struct {
		name           string
		count          int64
		items          int
		next, previous *string
		requested      int
		page, pages    int
	}{
		{"first of seven", 64, 10, link("2"), nil, 1, 1, 7},
		{"second of seven", 64, 10, link("3"), link("1"), 2, 2, 7},
		{"the last, asked as last", 64, 4, nil, link("6"), 0, 7, 7},
		{"one page holds all", 9, 9, nil, nil, 1, 1, 1},
		{"an empty result", 0, 0, nil, nil, 1, 1, 1},
		{"a page the server clamped", 2500, 1000, link("2"), nil, 1, 1, 3},
	} {
		page, pages := pageOf(tc.count, tc.items, tc.next, tc.previous, tc.requested)
		g.Expect([]int{page, pages}).To(Equal([]int{tc.page, tc.pages}), tc.name)
	}
	g.Expect(footer(2, 7, 64, "user")).To(Equal("page 2 of 7 (64 users)"))
	g.Expect(footer(1, 1, 1, "membership")).To(Equal("page 1 of 1 (1 membership)"))
}

func TestUsersTableShowsOrganizationsOnlyWhenAnItemCarriesThem(t *testing.T) {
	g := NewWithT(t)
	email, active := "alice@example.com", true
	alice := directoryv1alpha1.User{ID: 2, Username: "alice", FirstName: "Alice", LastName: "Nguyen", Email: &email, IsActive: &active}
	alice.Name = "alice"
	bob := directoryv1alpha1.User{ID: 3, Username: "bob", FirstName: "Bob", LastName: "Okafor"}
	bob.Name = "bob"

	users := []directoryv1alpha1.User{alice, bob}
	g.Expect(anyOrganizations(users)).To(BeFalse())
	var out strings.Builder
	g.Expect(printTable(usersTable(users, false), &out, io.Discard)).To(Succeed())
	g.Expect(out.String()).To(MatchRegexp(`^NAME\s+ID\s+USERNAME\s+FIRST NAME\s+LAST NAME\s+EMAIL\s+ACTIVE\n` +
		`alice\s+2\s+alice\s+Alice\s+Nguyen\s+alice@example\.com\s+true\n` +
		`bob\s+3\s+bob\s+Bob\s+Okafor\s+<none>\s+<none>\n$`))

	users[0].Organizations = []directoryv1alpha1.UserOrganization{
		{Slug: "acme", ID: 1, Role: "owner", Active: true}, {Slug: "globex", ID: 2, Role: "worker"},
	}
	g.Expect(anyOrganizations(users)).To(BeTrue())
	out.Reset()
	g.Expect(printTable(usersTable(users, true), &out, io.Discard)).To(Succeed())
	g.Expect(out.String()).To(MatchRegexp(`^NAME\s+ID\s+USERNAME\s+FIRST NAME\s+LAST NAME\s+EMAIL\s+ACTIVE\s+ORGANIZATIONS\n` +
		`alice\s+2\s+.*\s+true\s+acme\(owner\),globex\(worker,pending\)\n` +
		`bob\s+3\s+.*\s+<none>\s+<none>\s+<none>\n$`))
}
