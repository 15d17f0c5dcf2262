package directory

import (
	"context"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	genericrequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/roster-dev/roster/api/v1alpha1"
)

type callerKey struct{}

// withCaller resolves the caller of a request to the directory's resources
// once, records their lastLogin before the storage answers, and keeps the
// caller in the context for the storage (Caller). A caller that cannot be
// resolved is left to the storage, which answers with the error.
func (d *Directory) withCaller(ctx context.Context) context.Context {
	info, ok := genericrequest.UserFrom(ctx)
	if !ok || info.GetName() == "" {
		return ctx
	}
	c, err := d.resolveCaller(ctx, info)
	if err != nil {
		return ctx
	}
	if c.User != nil {
		d.logins.record(ctx, d, c.User)
	}
	return context.WithValue(ctx, callerKey{}, c)
}

// loginRecorder writes status.lastLogin, at most once per interval per
// account. The handler chain calls it (withCaller); a failed write is
// logged and counted, and the request goes on.
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
		lastLoginWrites.WithLabelValues("failure").Inc()
		klog.ErrorS(err, "Recording lastLogin", "user", klog.KObj(u))
		return
	}
	lastLoginWrites.WithLabelValues("success").Inc()
	d.waitFor(ctx, kindUser, target.ResourceVersion, 2*time.Second)
	if fresh, err := d.User(ctx, u.Name); err == nil {
		*u = *fresh
	}
}
