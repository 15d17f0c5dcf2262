package membership

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"

	directoryv1alpha1 "github.com/roster-dev/roster/apiserver/apis/directory/v1alpha1"
)

var columns = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: "metadata.name: <organization>.<user>"},
	{Name: "Organization", Type: "string", Description: "the organization's slug"},
	{Name: "User", Type: "string", Description: "the member's username"},
	{Name: "Role", Type: "string", Description: "owner, maintainer, supervisor or worker"},
	{Name: "State", Type: "string", Description: "active, or pending for an invitation"},
	{Name: "Invited By", Type: "string", Description: "who invited the member through the directory"},
	{Name: "Age", Type: "string", Description: "time since the membership was created"},
}

// ConvertToTable renders memberships for kubectl.
func (r *REST) ConvertToTable(_ context.Context, obj runtime.Object, _ runtime.Object) (*metav1.Table, error) {
	table := &metav1.Table{ColumnDefinitions: columns}
	var items []directoryv1alpha1.Membership
	switch o := obj.(type) {
	case *directoryv1alpha1.Membership:
		items = []directoryv1alpha1.Membership{*o}
	case *directoryv1alpha1.MembershipList:
		items = o.Items
		table.ResourceVersion = o.ResourceVersion
		table.Continue = o.Continue
		table.RemainingItemCount = o.RemainingItemCount
	default:
		if m, err := meta.ListAccessor(obj); err == nil {
			table.ResourceVersion = m.GetResourceVersion()
		}
	}
	for i := range items {
		m := &items[i]
		user := m.Username
		if user == "" {
			user = m.User
		}
		age := "<unknown>"
		if !m.CreationTimestamp.IsZero() {
			age = duration.HumanDuration(time.Since(m.CreationTimestamp.Time))
		}
		table.Rows = append(table.Rows, metav1.TableRow{
			Cells:  []any{m.Name, m.Organization, user, m.Role, m.State, m.InvitedBy, age},
			Object: runtime.RawExtension{Object: m},
		})
	}
	return table, nil
}
