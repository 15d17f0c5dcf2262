package plugin

import (
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/printers"

	directoryv1alpha1 "github.com/roster-dev/roster/apiserver/apis/directory/v1alpha1"
)

// none is what a table shows for a field the caller's view leaves out.
const none = "<none>"

func userColumns(orgs bool) []metav1.TableColumnDefinition {
	cols := []metav1.TableColumnDefinition{
		{Name: "Name", Type: "string", Format: "name"},
		{Name: "ID", Type: "integer"},
		{Name: "Username", Type: "string"},
		{Name: "First Name", Type: "string"},
		{Name: "Last Name", Type: "string"},
		{Name: "Email", Type: "string"},
		{Name: "Active", Type: "string"},
	}
	if orgs {
		cols = append(cols, metav1.TableColumnDefinition{Name: "Organizations", Type: "string"})
	}
	return cols
}

// anyOrganizations reports whether an item carries organizations: only then
// has the table an ORGANIZATIONS column.
func anyOrganizations(users []directoryv1alpha1.User) bool {
	for i := range users {
		if len(users[i].Organizations) > 0 {
			return true
		}
	}
	return false
}

// usersTable renders users as kubectl's table; fields outside the caller's
// view are <none>.
func usersTable(users []directoryv1alpha1.User, orgs bool) *metav1.Table {
	t := &metav1.Table{ColumnDefinitions: userColumns(orgs)}
	for i := range users {
		u := &users[i]
		email, active := none, none
		if u.Email != nil {
			email = *u.Email
		}
		if u.IsActive != nil {
			active = strconv.FormatBool(*u.IsActive)
		}
		cells := []any{u.Name, u.ID, u.Username, u.FirstName, u.LastName, email, active}
		if orgs {
			cells = append(cells, organizationsCell(u.Organizations))
		}
		t.Rows = append(t.Rows, metav1.TableRow{Cells: cells, Object: runtime.RawExtension{Object: u}})
	}
	return t
}

// organizationsCell is acme(owner),globex(worker,pending).
func organizationsCell(orgs []directoryv1alpha1.UserOrganization) string {
	if len(orgs) == 0 {
		return none
	}
	parts := make([]string, len(orgs))
	for i, o := range orgs {
		role := o.Role
		if !o.Active {
			role += ",pending"
		}
		parts[i] = o.Slug + "(" + role + ")"
	}
	return strings.Join(parts, ",")
}

var membershipColumns = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name"},
	{Name: "User", Type: "string"},
	{Name: "Username", Type: "string"},
	{Name: "Role", Type: "string"},
	{Name: "State", Type: "string"},
	{Name: "Invited By", Type: "string"},
	{Name: "Joined", Type: "string"},
}

func membershipsTable(items []directoryv1alpha1.Membership) *metav1.Table {
	t := &metav1.Table{ColumnDefinitions: membershipColumns}
	for i := range items {
		m := &items[i]
		t.Rows = append(t.Rows, metav1.TableRow{
			Cells:  []any{m.Name, orNone(m.User), orNone(m.Username), m.Role, m.State, orNone(m.InvitedBy), dateCell(m.JoinedDate)},
			Object: runtime.RawExtension{Object: m},
		})
	}
	return t
}

func orNone(s string) string {
	if s == "" {
		return none
	}
	return s
}

func dateCell(t *metav1.Time) string {
	if t == nil || t.IsZero() {
		return none
	}
	return t.UTC().Format(time.RFC3339)
}

// printTable prints a table as kubectl does, and "No resources found" to
// errOut when it has no rows.
func printTable(t *metav1.Table, out, errOut io.Writer) error {
	if len(t.Rows) == 0 {
		fmt.Fprintln(errOut, "No resources found")
		return nil
	}
	return printers.NewTablePrinter(printers.PrintOptions{}).PrintObj(t, out)
}

// pageOf tells which page a paged list is and how many pages the result
// has, from its count, its items and its next and previous links (the
// directory's page numbers are 1-based; a page with a next page is full).
// requested is the page asked for, 0 when unknown (page=last).
func pageOf(count int64, items int, next, previous *string, requested int) (page, pages int) {
	switch {
	case previous == nil:
		page = 1
	case linkPage(*previous) > 0:
		page = linkPage(*previous) + 1
	case next != nil && linkPage(*next) > 1:
		page = linkPage(*next) - 1
	default:
		page = max(requested, 1)
	}
	if next == nil {
		return page, page
	}
	size := int64(max(items, 1))
	pages = int((count + size - 1) / size)
	return page, max(pages, page+1)
}

// linkPage is the page number of a next or previous link, 0 when it has
// none.
func linkPage(link string) int {
	u, err := url.Parse(link)
	if err != nil {
		return 0
	}
	n, err := strconv.Atoi(u.Query().Get("page"))
	if err != nil || n < 1 {
		return 0
	}
	return n
}

// footer is the line below a paged table: "page 2 of 7 (64 users)".
func footer(page, pages int, count int64, noun string) string {
	if count != 1 {
		noun += "s"
	}
	return fmt.Sprintf("page %d of %d (%d %s)", page, pages, count, noun)
}
