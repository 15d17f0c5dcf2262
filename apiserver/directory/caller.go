package directory

import (
	"context"
	"fmt"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apiserver/pkg/authentication/user"
	genericrequest "k8s.io/apiserver/pkg/endpoints/request"

	iamv1alpha1 "github.com/roster-dev/roster/api/v1alpha1"
	directoryv1alpha1 "github.com/roster-dev/roster/apiserver/apis/directory/v1alpha1"
	"github.com/roster-dev/roster/apiserver/query"
)

// Privilege is a user's privilege group (docs/users-api.md section 9). The
// order is admin > business > user > worker; a User with no privilege group
// has the server's default (--default-privilege).
type Privilege int

// The privilege groups, lowest first; PrivilegeNone is a caller with no User.
const (
	PrivilegeNone Privilege = iota
	PrivilegeWorker
	PrivilegeUser
	PrivilegeBusiness
	PrivilegeAdmin
)

var privilegeNames = map[string]Privilege{
	"worker": PrivilegeWorker, "user": PrivilegeUser, "business": PrivilegeBusiness, "admin": PrivilegeAdmin,
}

// ParsePrivilege reads a privilege group's name.
func ParsePrivilege(name string) (Privilege, error) {
	if p, ok := privilegeNames[name]; ok {
		return p, nil
	}
	return PrivilegeNone, fmt.Errorf("%q is not a privilege group; use admin, business, user or worker", name)
}

func (p Privilege) String() string {
	for name, q := range privilegeNames {
		if q == p {
			return name
		}
	}
	return "none"
}

// privilegeOf is the highest privilege group among groups, or def when
// none of them is one.
func privilegeOf(groups []string, def Privilege) Privilege {
	best := PrivilegeNone
	for _, g := range groups {
		best = max(best, privilegeNames[g])
	}
	if best == PrivilegeNone {
		return def
	}
	return best
}

// Caller is who a request is answered for.
type Caller struct {
	query.Caller
	// Identity is the Kubernetes identity kube-apiserver authenticated.
	Identity user.Info
	// User is the caller's own User, or nil when the identity maps to none.
	User *iamv1alpha1.User
	// Privilege is the caller's privilege group: the highest of its User's
	// groups, the default when it has none, PrivilegeNone without a User.
	Privilege Privilege
}

// IsSelf reports whether the User named name is the caller's own.
func (c *Caller) IsSelf(name string) bool {
	return c.User != nil && c.User.Name == name
}

// Caller maps the request's authenticated identity to a User
// (docs/users-api.md section 3). It writes nothing: the handler chain
// resolves the caller once per request, records their lastLogin and keeps
// them in the context, which Caller returns.
func (d *Directory) Caller(ctx context.Context) (*Caller, error) {
	if c, ok := ctx.Value(callerKey{}).(*Caller); ok {
		return c, nil
	}
	info, ok := genericrequest.UserFrom(ctx)
	if !ok || info.GetName() == "" {
		return nil, apierrors.NewUnauthorized("the request carries no authenticated user")
	}
	return d.resolveCaller(ctx, info)
}

// resolveCaller maps an identity to a User: the User whose username, or one
// of whose identities, equals the Kubernetes user name; the oldest one when
// several claim it. An inactive User's identity is refused.
func (d *Directory) resolveCaller(ctx context.Context, info user.Info) (*Caller, error) {
	c := &Caller{Identity: info}
	users, err := d.usersByIdentity(ctx, info.GetName())
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	if len(users) > 0 {
		// The username a user claims wins over an identity another user lists.
		pick := users[0]
		for _, u := range users {
			if u.EffectiveUsername() == info.GetName() {
				pick = u
				break
			}
		}
		if !pick.Active() {
			return nil, apierrors.NewForbidden(directoryv1alpha1.Resource("users"), pick.Name, errInactive)
		}
		c.User = &pick
		c.Caller.User = pick.Name
		c.Privilege = privilegeOf(pick.Spec.Groups, d.opts.DefaultPrivilege)
		// The admin privilege group makes an administrator, as isSuperuser does.
		c.Caller.Admin = pick.Spec.IsSuperuser || c.Privilege == PrivilegeAdmin
	}
	if !c.Caller.Admin {
		c.Caller.Admin = slices.ContainsFunc(info.GetGroups(), func(g string) bool {
			return slices.Contains(d.opts.AdminGroups, g)
		})
	}
	return c, nil
}

// claims reports whether u claims the Kubernetes user name name, as its
// username or one of its identities.
func claims(u *iamv1alpha1.User, name string) bool {
	return u.EffectiveUsername() == name || slices.Contains(u.Spec.Identities, name)
}

var errInactive = inactiveError{}

type inactiveError struct{}

func (inactiveError) Error() string { return "the user account is inactive" }
