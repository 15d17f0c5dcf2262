package membership

import (
	"fmt"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	iamv1alpha1 "github.com/roster-dev/roster/api/v1alpha1"
	"github.com/roster-dev/roster/apiserver/directory"
	"github.com/roster-dev/roster/apiserver/query"
)

// Who may do what with memberships: docs/users-api.md section 9, one
// function per action. Every refusal is a 403 whose message names the rule.

// standing is the caller's own membership of each organization that exists.
type standing map[string]query.MembershipRole

func standingOf(snap *query.Snapshot, c *directory.Caller) standing {
	out := standing{}
	if c.User == nil {
		return out
	}
	for _, r := range snap.OrganizationsOf(c.User.Name) {
		out[r.Organization] = r
	}
	return out
}

// role is the caller's role in org when the caller is an active member of
// it, "" otherwise.
func (s standing) role(org string) query.Role {
	if r, ok := s[org]; ok && r.Active {
		return r.Role
	}
	return ""
}

func manages(r query.Role) bool { return r == query.RoleOwner || r == query.RoleMaintainer }

// staff are the roles a maintainer may invite, change and remove.
var staff = []iamv1alpha1.MembershipRole{iamv1alpha1.RoleSupervisor, iamv1alpha1.RoleWorker}

func isSelf(c *directory.Caller, m *iamv1alpha1.MembershipSpec) bool {
	return c.User != nil && c.User.Name == m.User
}

// canSee reports whether the caller may see m: administrators see all, a
// user their own memberships, an organization's owner and maintainers all
// of its memberships, its other active members its active ones.
func canSee(c *directory.Caller, s standing, m *iamv1alpha1.MembershipSpec) bool {
	if c.Admin || isSelf(c, m) {
		return true
	}
	r := s.role(m.Organization)
	return manages(r) || (r != "" && m.Active())
}

func forbidden(name string, format string, args ...any) error {
	return apierrors.NewForbidden(resource, name, fmt.Errorf(format, args...))
}

// needsUser refuses a caller whose privilege group is below user: inviting,
// changing roles and removing others need at least that.
func needsUser(c *directory.Caller, name, action string) error {
	if c.Privilege < directory.PrivilegeUser {
		return forbidden(name, "%s needs at least the user privilege group", action)
	}
	return nil
}

// mayInvite checks an invitation to m.Spec.Organization with m.Spec.Role.
func mayInvite(c *directory.Caller, s standing, m *iamv1alpha1.Membership) error {
	if c.Admin {
		return nil
	}
	org, role := m.Spec.Organization, m.Spec.Role
	if m.Spec.State == iamv1alpha1.MembershipActive {
		return forbidden(m.Name, "an invitation is pending until the invitee accepts it; only administrators may add an active member")
	}
	switch s.role(org) {
	case query.RoleOwner:
		if role == iamv1alpha1.RoleOwner {
			return forbidden(m.Name, "an owner may invite with any role but owner")
		}
	case query.RoleMaintainer:
		if !slices.Contains(staff, role) {
			return forbidden(m.Name, "a maintainer may invite only supervisors and workers")
		}
	default:
		return forbidden(m.Name, "only the owner or a maintainer of %s may invite to it", org)
	}
	return needsUser(c, m.Name, "inviting members")
}

// mayChangeState checks a move of m's state to next: only the invitee
// accepts an invitation; a membership never becomes an invitation again.
func mayChangeState(c *directory.Caller, m *iamv1alpha1.Membership, next iamv1alpha1.MembershipState) error {
	if c.Admin || next == m.Spec.State {
		return nil
	}
	if next == iamv1alpha1.MembershipPending {
		return forbidden(m.Name, "a membership cannot become an invitation again")
	}
	if !isSelf(c, &m.Spec) {
		return forbidden(m.Name, "only the invitee may accept an invitation")
	}
	return nil
}

// mayChangeRole checks a change of m's role to next.
func mayChangeRole(c *directory.Caller, s standing, m *iamv1alpha1.Membership, next iamv1alpha1.MembershipRole) error {
	if c.Admin || next == m.Spec.Role {
		return nil
	}
	org := m.Spec.Organization
	if isSelf(c, &m.Spec) {
		return forbidden(m.Name, "no one may change their own role")
	}
	switch s.role(org) {
	case query.RoleOwner:
		if m.Spec.Role == iamv1alpha1.RoleOwner || next == iamv1alpha1.RoleOwner {
			return forbidden(m.Name, "an owner may not give or take the owner role")
		}
	case query.RoleMaintainer:
		if !slices.Contains(staff, m.Spec.Role) {
			return forbidden(m.Name, "a maintainer may change the roles of supervisors and workers only")
		}
		if !slices.Contains(staff, next) {
			return forbidden(m.Name, "a maintainer may give only the supervisor and worker roles")
		}
	default:
		return forbidden(m.Name, "only the owner or a maintainer of %s may change roles in it", org)
	}
	return needsUser(c, m.Name, "changing roles")
}

// mayDelete checks deleting m: a user declines their own invitation or
// leaves (but the owner); the owner removes anyone but an owner; a
// maintainer removes supervisors and workers.
func mayDelete(c *directory.Caller, s standing, m *iamv1alpha1.Membership) error {
	if c.Admin {
		return nil
	}
	org := m.Spec.Organization
	if isSelf(c, &m.Spec) {
		if m.Active() && m.Spec.Role == iamv1alpha1.RoleOwner {
			return forbidden(m.Name, "the owner may not leave the organization")
		}
		return nil
	}
	switch s.role(org) {
	case query.RoleOwner:
		if m.Spec.Role == iamv1alpha1.RoleOwner {
			return forbidden(m.Name, "only an administrator may remove an owner")
		}
	case query.RoleMaintainer:
		if !slices.Contains(staff, m.Spec.Role) {
			return forbidden(m.Name, "a maintainer may remove only supervisors and workers")
		}
	default:
		return forbidden(m.Name, "only the owner or a maintainer of %s may remove its members", org)
	}
	return needsUser(c, m.Name, "removing members")
}
