package directory

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/registry/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/roster-dev/roster/api/v1alpha1"
)

// ReadYourWritesTimeout bounds how long a write waits for the cache to show
// it, so that the writer's next read sees it.
const ReadYourWritesTimeout = 5 * time.Second

// Create writes a new User or Membership through to kube-apiserver with the
// server's credentials (a dry run stores nothing), answers AlreadyExists as
// the directory's resource, and after a real write waits until the cache
// shows it.
func (d *Directory) Create(ctx context.Context, obj client.Object, resource schema.GroupResource, dryRun bool) error {
	if err := d.client.Create(ctx, obj, WriteOptions[client.CreateOption](dryRun)...); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return apierrors.NewAlreadyExists(resource, obj.GetName())
		}
		return err
	}
	if dryRun {
		return nil
	}
	kind := kindUser
	if _, ok := obj.(*iamv1alpha1.Membership); ok {
		kind = kindMembership
	}
	d.waitFor(ctx, kind, obj.GetResourceVersion(), ReadYourWritesTimeout)
	return nil
}

// IsDryRun reports whether a write's dryRun option asks to check and render
// the write without storing it. The generic API server has already refused
// any value but "All".
func IsDryRun(dryRun []string) bool { return len(dryRun) > 0 }

// WriteOptions passes a dry run on to kube-apiserver, so that the CRD's own
// validation and admission run and nothing is stored. O is the option type
// of the write (client.CreateOption, client.PatchOption, ...), all of which
// client.DryRunAll is.
func WriteOptions[O any](dryRun bool) []O {
	if dryRun {
		return []O{any(client.DryRunAll).(O)}
	}
	return nil
}

// Conflict is the 409 of a write whose resourceVersion precondition failed.
func Conflict(resource schema.GroupResource, name string) error {
	return apierrors.NewConflict(resource, name,
		fmt.Errorf("the object has been modified; please apply your changes to the latest version and try again"))
}

// UpdatePrecondition is the resourceVersion an update must find: the
// request's precondition, else the one in the body, "" for none.
func UpdatePrecondition(bodyRV string, objInfo rest.UpdatedObjectInfo) string {
	if p := objInfo.Preconditions(); p != nil && p.ResourceVersion != nil {
		return *p.ResourceVersion
	}
	return bodyRV
}

// DeletePreconditions checks a delete's preconditions against the cached
// object and returns those to send with the delete: its UID always, so that
// a re-created object of the same name is never deleted in its place, and
// the request's resourceVersion. ok is false when they already fail.
func DeletePreconditions(options *metav1.DeleteOptions, current client.Object) (pre *client.Preconditions, ok bool) {
	uid := current.GetUID()
	pre = &client.Preconditions{UID: &uid}
	if options == nil || options.Preconditions == nil {
		return pre, true
	}
	p := options.Preconditions
	if (p.UID != nil && *p.UID != uid) || (p.ResourceVersion != nil && *p.ResourceVersion != current.GetResourceVersion()) {
		return nil, false
	}
	pre.ResourceVersion = p.ResourceVersion
	return pre, true
}
