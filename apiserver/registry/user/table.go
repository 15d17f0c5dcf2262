package user

import (
	"context"
	"strconv"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"

	directoryv1alpha1 "github.com/roster-dev/roster/apiserver/apis/directory/v1alpha1"
)

var columns = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: "metadata.name of the user"},
	{Name: "ID", Type: "integer", Description: "numeric user ID"},
	{Name: "Username", Type: "string", Description: "login name"},
	{Name: "First Name", Type: "string", Description: "given name"},
	{Name: "Last Name", Type: "string", Description: "family name"},
	{Name: "Email", Type: "string", Description: "email address (full view only)"},
	{Name: "Active", Type: "string", Description: "whether the account may be used (full view only)"},
	{Name: "Age", Type: "string", Description: "time since the account was created"},
	{Name: "Staff", Type: "string", Priority: 1, Description: "platform staff (full view only)"},
	{Name: "Superuser", Type: "string", Priority: 1, Description: "administrator (full view only)"},
}

// ConvertToTable renders users for kubectl. Fields outside the caller's view
// are left empty.
func (r *REST) ConvertToTable(_ context.Context, obj runtime.Object, _ runtime.Object) (*metav1.Table, error) {
	table := &metav1.Table{ColumnDefinitions: columns}
	var users []directoryv1alpha1.User
	switch o := obj.(type) {
	case *directoryv1alpha1.User:
		users = []directoryv1alpha1.User{*o}
	case *directoryv1alpha1.UserList:
		users = o.Items
		table.ResourceVersion = o.ResourceVersion
		table.Continue = o.Continue
		table.RemainingItemCount = o.RemainingItemCount
	default:
		if m, err := meta.ListAccessor(obj); err == nil {
			table.ResourceVersion = m.GetResourceVersion()
		}
	}
	for i := range users {
		u := &users[i]
		table.Rows = append(table.Rows, metav1.TableRow{
			Cells: []any{
				u.Name, u.ID, u.Username, u.FirstName, u.LastName,
				deref(u.Email), boolCell(u.IsActive), age(u.CreationTimestamp),
				boolCell(u.IsStaff), boolCell(u.IsSuperuser),
			},
			Object: runtime.RawExtension{Object: u},
		})
	}
	return table, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func boolCell(b *bool) string {
	if b == nil {
		return ""
	}
	return strconv.FormatBool(*b)
}

func age(t metav1.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(time.Since(t.Time))
}
