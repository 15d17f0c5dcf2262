package directory

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apiserver/pkg/authentication/user"
	genericrequest "k8s.io/apiserver/pkg/endpoints/request"
	"sigs.k8s.io/controller-runtime/pkg/client"

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

// Caller maps the request's authenticated identity to a User (spec section
// 3) and records the caller's lastLogin.
func (d *Directory) Caller(ctx context.Context) (*Caller, error) {
	info, ok := genericrequest.UserFrom(ctx)
	if !ok || info.GetName() == "" {
		return nil, apierrors.NewUnauthorized("the request carries no authenticated user")
	}
	c, err := d.resolveCaller(ctx, info)
	if err != nil {
		return nil, err
	}
	if c.User != nil {
		d.logins.record(ctx, d, c.User)
	}
	return c, nil
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

// loginRecorder writes status.lastLogin, at most once per interval per user,
// without making the request wait.
type loginRecorder struct {
	client   client.Client
	interval time.Duration

	mu sync.Mutex
	// last is the time of the last write per account (UID): a user deleted
	// and re-created under the same name is another account.
	last map[types.UID]time.Time
	// pruneAt is the size of last at which entries older than the interval
	// are dropped.
	pruneAt int
}

func newLoginRecorder(c client.Client, interval time.Duration) *loginRecorder {
	return &loginRecorder{client: c, interval: interval, last: map[types.UID]time.Time{}}
}

// record writes the user's lastLogin when the last write is older than the
// interval. It writes before the request is answered and waits for the cache
// to show it, so that the caller's own record is not changed behind its back
// between a read and a write with a resourceVersion precondition.
func (r *loginRecorder) record(ctx context.Context, d *Directory, u *iamv1alpha1.User) {
	if r.interval <= 0 {
		return
	}
	now := time.Now()
	if u.Status.LastLogin != nil && now.Sub(u.Status.LastLogin.Time) < r.interval {
		return
	}
	r.mu.Lock()
	if t, ok := r.last[u.UID]; ok && now.Sub(t) < r.interval {
		r.mu.Unlock()
		return
	}
	r.last[u.UID] = now
	if len(r.last) >= r.pruneAt {
		for uid, t := range r.last {
			if now.Sub(t) >= r.interval {
				delete(r.last, uid)
			}
		}
		r.pruneAt = max(1024, 2*len(r.last))
	}
	r.mu.Unlock()

	patch := client.RawPatch(types.MergePatchType,
		[]byte(`{"status":{"lastLogin":"`+now.UTC().Format(time.RFC3339)+`"}}`))
	target := &iamv1alpha1.User{ObjectMeta: metav1.ObjectMeta{Name: u.Name}}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	// A failed write is retried at the caller's next request after the interval.
	if err := r.client.Status().Patch(ctx, target, patch); err != nil {
		return
	}
	d.waitFor(ctx, kindUser, target.ResourceVersion, 2*time.Second)
	if fresh, err := d.User(ctx, u.Name); err == nil {
		*u = *fresh
	}
}
