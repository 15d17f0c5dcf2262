package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/rest"

	directoryv1alpha1 "github.com/roster-dev/roster/apiserver/apis/directory/v1alpha1"
)

// membershipRef is how kubectl names a membership in its one-line results.
func membershipRef(name string) string {
	return "membership." + directoryv1alpha1.GroupName + "/" + name
}

// membershipName is the name of the membership of user in org, as the
// directory names it.
func membershipName(org, user string) string { return org + "." + user }

type membersOptions struct {
	*options
	print *genericclioptions.PrintFlags
	paging
	role, state string
}

func newMembersCommand(o *options) *cobra.Command {
	m := &membersOptions{options: o, print: newPrintFlags()}
	cmd := &cobra.Command{
		Use:   "members ORGANIZATION",
		Short: "List an organization's memberships, pending invitations too for its owner and maintainers",
		Example: `  kubectl roster members acme
  kubectl roster members acme --role supervisor,worker --state active
  kubectl roster members acme --page-size 5 --page 2`,
		Args: oneArg("an organization's slug", "kubectl roster members acme"),
		RunE: func(cmd *cobra.Command, args []string) error { return m.run(cmd, args[0]) },
	}
	fs := cmd.Flags()
	fs.StringVar(&m.role, "role", "", "memberships with one of these comma-separated roles (role)")
	fs.StringVar(&m.state, "state", "", "active or pending (state)")
	m.paging.addFlags(fs, "membership")
	m.print.AddFlags(cmd)
	return cmd
}

func (m *membersOptions) run(cmd *cobra.Command, org string) error {
	q := url.Values{"org": {org}}
	if m.role != "" {
		q.Set("role", m.role)
	}
	if m.state != "" {
		q.Set("state", m.state)
	}
	requested, err := m.paging.query(cmd.Flags(), q)
	if err != nil {
		return err
	}
	p, err := printerFor(m.print)
	if err != nil {
		return err
	}
	c, err := m.client()
	if err != nil {
		return err
	}
	list := &directoryv1alpha1.MembershipList{}
	if err := withParams(c.Get().Resource("memberships"), q).Do(cmd.Context()).Into(list); err != nil {
		return err
	}
	if p != nil {
		items := make([]runtime.Object, len(list.Items))
		for i := range list.Items {
			items[i] = &list.Items[i]
		}
		return printList(p, m.print, list, items, m.streams.Out)
	}
	if err := printTable(membershipsTable(list.Items), m.streams.Out, m.streams.ErrOut); err != nil {
		return err
	}
	page, pages := pageOf(list.Count, len(list.Items), list.Next, list.Previous, requested)
	_, err = fmt.Fprintln(m.streams.Out, footer(page, pages, list.Count, "membership"))
	return err
}

func newInviteCommand(o *options) *cobra.Command {
	var org, role string
	cmd := &cobra.Command{
		Use:   "invite USER --org ORGANIZATION [--role ROLE]",
		Short: "Invite a user to an organization (its owner or a maintainer); the invitation is pending until they accept it",
		Long: `Invite a user to an organization: a pending membership named <organization>.<user> that the
invitee accepts with kubectl roster accept, or declines. USER is the name of the invitee's User.`,
		Example: `  kubectl roster invite trent --org acme --role worker`,
		Args:    oneArg("the name of the User to invite", "kubectl roster invite trent --org acme --role worker"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkRole("--role", role); err != nil {
				return err
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			body, err := json.Marshal(map[string]string{
				"apiVersion": directoryv1alpha1.SchemeGroupVersion.String(), "kind": "Membership",
				"organization": org, "user": args[0], "role": role,
			})
			if err != nil {
				return err
			}
			created := &directoryv1alpha1.Membership{}
			if err := c.Post().Resource("memberships").Body(body).Do(cmd.Context()).Into(created); err != nil {
				return err
			}
			return o.result(created.Name, "created")
		},
	}
	cmd.Flags().StringVar(&org, "org", "", "the organization's slug (required)")
	cmd.Flags().StringVar(&role, "role", "worker", "the role: maintainer, supervisor or worker (an owner may give any role but owner)")
	_ = cmd.MarkFlagRequired("org")
	return cmd
}

func newAcceptCommand(o *options) *cobra.Command {
	return ownMembershipCommand(o, "accept", "Accept your invitation to an organization", "accepted",
		func(m *directoryv1alpha1.Membership, _ string) error {
			if m.State != "pending" {
				return fmt.Errorf("%s is already an active membership: there is no invitation to accept", m.Name)
			}
			return nil
		},
		func(ctx context.Context, c *rest.RESTClient, m *directoryv1alpha1.Membership) error {
			return patch(ctx, c, m, map[string]any{"state": "active"})
		})
}

func newDeclineCommand(o *options) *cobra.Command {
	return ownMembershipCommand(o, "decline", "Decline your invitation to an organization", "declined",
		func(m *directoryv1alpha1.Membership, org string) error {
			if m.State != "pending" {
				return fmt.Errorf("%s is an active membership, not an invitation; to leave %s run kubectl roster leave %s", m.Name, org, org)
			}
			return nil
		}, remove)
}

func newLeaveCommand(o *options) *cobra.Command {
	return ownMembershipCommand(o, "leave", "Leave an organization (its owner may not)", "deleted",
		func(m *directoryv1alpha1.Membership, org string) error {
			if m.State == "pending" {
				return fmt.Errorf("%s is an invitation, not a membership; to decline it run kubectl roster decline %s", m.Name, org)
			}
			return nil
		}, remove)
}

// ownMembershipCommand is `kubectl roster VERB ORGANIZATION`, an action on
// the caller's own membership in the organization: allowed says whether its
// state permits the action, act performs it, and done is printed after.
func ownMembershipCommand(o *options, verb, short, done string,
	allowed func(m *directoryv1alpha1.Membership, org string) error,
	act func(ctx context.Context, c *rest.RESTClient, m *directoryv1alpha1.Membership) error) *cobra.Command {
	example := "kubectl roster " + verb + " acme"
	return &cobra.Command{
		Use:     verb + " ORGANIZATION",
		Short:   short,
		Example: "  " + example,
		Args:    oneArg("an organization's slug", example),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, m, err := o.ownMembership(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if err := allowed(m, args[0]); err != nil {
				return err
			}
			if err := act(cmd.Context(), c, m); err != nil {
				return err
			}
			return o.result(m.Name, done)
		},
	}
}

func newSetRoleCommand(o *options) *cobra.Command {
	var org, role string
	cmd := &cobra.Command{
		Use:     "set-role USER --org ORGANIZATION --role ROLE",
		Short:   "Change a member's role (the organization's owner or a maintainer)",
		Example: `  kubectl roster set-role trent --org acme --role supervisor`,
		Args:    oneArg("the name of the member's User", "kubectl roster set-role trent --org acme --role supervisor"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkRole("--role", role); err != nil {
				return err
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			m := &directoryv1alpha1.Membership{ObjectMeta: metav1.ObjectMeta{Name: membershipName(org, args[0])}}
			if err := patch(cmd.Context(), c, m, map[string]any{"role": role}); err != nil {
				return err
			}
			return o.result(m.Name, "role set to "+role)
		},
	}
	cmd.Flags().StringVar(&org, "org", "", "the organization's slug (required)")
	cmd.Flags().StringVar(&role, "role", "", "the new role: owner, maintainer, supervisor or worker (required)")
	_ = cmd.MarkFlagRequired("org")
	_ = cmd.MarkFlagRequired("role")
	return cmd
}

// result prints a write's one-line result, as kubectl does.
func (o *options) result(name, what string) error {
	_, err := fmt.Fprintf(o.streams.Out, "%s %s\n", membershipRef(name), what)
	return err
}

// ownMembership is the caller's membership of org: the caller's User is
// users/self, and its membership of org is <org>.<user>.
func (o *options) ownMembership(ctx context.Context, org string) (*rest.RESTClient, *directoryv1alpha1.Membership, error) {
	c, err := o.client()
	if err != nil {
		return nil, nil, err
	}
	me, err := self(ctx, c)
	if err != nil {
		return nil, nil, err
	}
	m := &directoryv1alpha1.Membership{}
	if err := c.Get().Resource("memberships").Name(membershipName(org, me.Name)).Do(ctx).Into(m); err != nil {
		return nil, nil, err
	}
	return c, m, nil
}

// patch merges fields into a membership; with the membership's
// resourceVersion when it has one, so that it applies to what was read.
func patch(ctx context.Context, c *rest.RESTClient, m *directoryv1alpha1.Membership, fields map[string]any) error {
	if m.ResourceVersion != "" {
		fields["metadata"] = map[string]any{"resourceVersion": m.ResourceVersion}
	}
	body, err := json.Marshal(fields)
	if err != nil {
		return err
	}
	return c.Patch(types.MergePatchType).Resource("memberships").Name(m.Name).Body(body).Do(ctx).Error()
}

// remove deletes a membership as it was read: a membership changed since
// (an invitation accepted meanwhile, say) is a conflict, never removed.
func remove(ctx context.Context, c *rest.RESTClient, m *directoryv1alpha1.Membership) error {
	opts := &metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &m.UID, ResourceVersion: &m.ResourceVersion}}
	return c.Delete().Resource("memberships").Name(m.Name).Body(opts).Do(ctx).Error()
}
