package user

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/roster-dev/roster/api/v1alpha1"
	directoryv1alpha1 "github.com/roster-dev/roster/apiserver/apis/directory/v1alpha1"
	"github.com/roster-dev/roster/apiserver/directory"
)

// lastApplied is the annotation client-side `kubectl apply` keeps its last
// configuration in: whoever may write a user may write it.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// Who may change which field (docs/users-api.md section 7).
var (
	// selfFields may be changed by the user themselves and by administrators.
	selfFields = []string{"firstName", "lastName", "email", "metadata.annotations[" + lastApplied + "]"}
	// adminFields may be changed by administrators only: 403 for anyone else.
	adminFields = []string{"username", "isActive", "isStaff", "isSuperuser", "groups", "metadata.labels", "metadata.annotations"}
)

// changedFields lists the JSON names of the fields that differ between two
// full views. Metadata the server maintains (resourceVersion, managedFields,
// timestamps, generation) and status are not a change, as Kubernetes ignores
// status on an update; a read-only field sent back unchanged is none either.
// Annotations are named one by one: kubectl's last-applied annotation,
// Roster's own (metadata.annotations[iam.roster.dev/...], which nobody may
// write), and the others (metadata.annotations).
func changedFields(old, new *directoryv1alpha1.User) []string {
	var out []string
	add := func(name string, changed bool) {
		if changed {
			out = append(out, name)
		}
	}
	add("metadata.name", new.Name != "" && new.Name != old.Name)
	add("metadata.uid", new.UID != "" && new.UID != old.UID)
	add("metadata.labels", !maps.Equal(old.Labels, new.Labels) && !(len(old.Labels) == 0 && len(new.Labels) == 0))
	for _, k := range changedKeys(old.Annotations, new.Annotations) {
		switch {
		case k == lastApplied || strings.HasPrefix(k, rosterAnnotations):
			add("metadata.annotations["+k+"]", true)
		default:
			add("metadata.annotations", !slices.Contains(out, "metadata.annotations"))
		}
	}
	add("metadata.finalizers", len(new.Finalizers) > 0)
	add("id", new.ID != old.ID)
	add("username", new.Username != old.Username)
	add("firstName", new.FirstName != old.FirstName)
	add("lastName", new.LastName != old.LastName)
	add("email", deref(new.Email) != deref(old.Email))
	add("isActive", boolOr(new.IsActive, true) != boolOr(old.IsActive, true))
	add("isStaff", boolOr(new.IsStaff, false) != boolOr(old.IsStaff, false))
	add("isSuperuser", boolOr(new.IsSuperuser, false) != boolOr(old.IsSuperuser, false))
	add("groups", !slices.Equal(new.Groups, old.Groups))
	add("lastLogin", !timeEqual(new.LastLogin, old.LastLogin))
	add("dateJoined", !timeEqual(new.DateJoined, old.DateJoined))
	add("organizations", len(new.Organizations) > 0 && !slices.Equal(new.Organizations, old.Organizations))
	return out
}

// changedKeys lists the keys whose values differ between two maps, sorted.
func changedKeys(a, b map[string]string) []string {
	var out []string
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			out = append(out, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

func boolOr(b *bool, def bool) bool {
	if b == nil {
		return def
	}
	return *b
}

func timeEqual(a, b *metav1.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(b)
}

// checkFieldRules refuses a change the caller may not make: 422 for a field
// nobody may write, 403 for a field only administrators may write.
func checkFieldRules(caller *directory.Caller, name string, changed []string) error {
	var invalid field.ErrorList
	var adminOnly []string
	for _, f := range changed {
		switch {
		case slices.Contains(selfFields, f):
		case slices.Contains(adminFields, f):
			if !caller.Admin {
				adminOnly = append(adminOnly, f)
			}
		default:
			invalid = append(invalid, field.Forbidden(field.NewPath(f), "this field cannot be written through the directory"))
		}
	}
	if len(invalid) > 0 {
		return apierrors.NewInvalid(directoryv1alpha1.SchemeGroupVersion.WithKind("User").GroupKind(), name, invalid)
	}
	if len(adminOnly) > 0 {
		return apierrors.NewForbidden(resource, name,
			fmt.Errorf("only administrators may change %s", joinFields(adminOnly)))
	}
	return nil
}

func joinFields(fs []string) string {
	switch len(fs) {
	case 1:
		return fs[0]
	default:
		s := ""
		for i, f := range fs {
			if i > 0 {
				s += ", "
			}
			s += f
		}
		return s
	}
}

// validate checks a write with the User CRD's own schema and CEL rules, as
// kube-apiserver will (next is the User to be written, current the stored one,
// nil on create), plus what only the directory can check: that a new or
// changed username is not taken. A rejected write is a 422 naming the view's
// field and changes nothing. oldUsername is the user's username before the
// write, "" for a new user.
func (r *REST) validate(ctx context.Context, name, oldUsername string, u *directoryv1alpha1.User, next, current *iamv1alpha1.User) error {
	obj, err := r.crd.Unstructured(next)
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	if u.Username == "" {
		// The view always names a username: an empty one is sent, not omitted.
		if err := unstructured.SetNestedField(obj.Object, "", "spec", "username"); err != nil {
			return apierrors.NewInternalError(err)
		}
	}
	var old *unstructured.Unstructured
	if current != nil {
		if old, err = r.crd.Unstructured(current); err != nil {
			return apierrors.NewInternalError(err)
		}
	}
	var errs field.ErrorList
	for _, e := range r.crd.ValidateUnstructured(ctx, obj, old) {
		errs = append(errs, viewField(e))
	}
	if len(errs) == 0 && u.Username != oldUsername {
		other, err := r.dir.UsernameTakenBy(ctx, u.Username, name)
		if err != nil {
			return apierrors.NewInternalError(err)
		}
		if other != "" {
			errs = append(errs, field.Duplicate(field.NewPath("username"), u.Username))
		}
	}
	if len(errs) > 0 {
		return apierrors.NewInvalid(directoryv1alpha1.SchemeGroupVersion.WithKind("User").GroupKind(), name, errs)
	}
	return nil
}

// viewField names a CRD error by the view's field: spec.email is email, also
// where the schema's message repeats the path.
func viewField(e *field.Error) *field.Error {
	out := *e
	out.Field = strings.TrimPrefix(e.Field, "spec.")
	out.Detail = strings.ReplaceAll(e.Detail, "spec.", "")
	return &out
}

// applySpec writes a directory view's writable fields into a User's spec.
func applySpec(dst *iamv1alpha1.User, u *directoryv1alpha1.User) {
	if u.Username != dst.EffectiveUsername() || dst.Spec.Username != "" {
		dst.Spec.Username = u.Username
	}
	dst.Spec.FirstName = u.FirstName
	dst.Spec.LastName = u.LastName
	dst.Spec.Email = deref(u.Email)
	dst.Spec.IsActive = new(boolOr(u.IsActive, true))
	dst.Spec.IsStaff = boolOr(u.IsStaff, false)
	dst.Spec.IsSuperuser = boolOr(u.IsSuperuser, false)
	dst.Spec.Groups = u.Groups
	if u.Labels != nil || len(dst.Labels) > 0 {
		dst.Labels = u.Labels
	}
	// Roster's own annotations stay; the others are the view's.
	annotations := maps.Clone(u.Annotations)
	for k, v := range dst.Annotations {
		if strings.HasPrefix(k, rosterAnnotations) {
			if annotations == nil {
				annotations = map[string]string{}
			}
			annotations[k] = v
		}
	}
	if annotations != nil || len(dst.Annotations) > 0 {
		dst.Annotations = annotations
	}
}

// writableUser resolves name for a write: a user the caller may not see is a
// 404, one it may see but is neither itself nor (for an administrator)
// anyone a 403.
func (r *REST) writableUser(ctx context.Context, name, verb string) (*directory.Caller, *iamv1alpha1.User, error) {
	caller, err := r.dir.Caller(ctx)
	if err != nil {
		return nil, nil, err
	}
	current, err := r.visibleUser(ctx, caller, name)
	if err != nil {
		return nil, nil, err
	}
	if !caller.Admin && !caller.IsSelf(current.Name) {
		return nil, nil, apierrors.NewForbidden(resource, current.Name,
			fmt.Errorf("only the user themselves or an administrator may %s a user", verb))
	}
	return caller, current, nil
}

// Update applies a patch or a replacement: the caller's own record, or any
// record for an administrator, per the field rules of docs/users-api.md section 7, written
// through to the User CRD with a resourceVersion precondition.
func (r *REST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, _ rest.ValidateObjectFunc,
	updateValidation rest.ValidateObjectUpdateFunc, _ bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	defer directory.ObserveRequest(directory.KindWrite, time.Now())
	caller, current, err := r.writableUser(ctx, name, "change")
	if err != nil {
		return nil, false, err
	}
	// What the caller reads is what they may send back unchanged.
	old := r.render(current, caller)
	// The old object goes out without a resourceVersion, so that one in the
	// result was given by the client: the precondition of the write.
	old.ResourceVersion = ""
	obj, err := objInfo.UpdatedObject(ctx, old.DeepCopy())
	if err != nil {
		return nil, false, patchError(current.Name, err)
	}
	updated, ok := obj.(*directoryv1alpha1.User)
	if !ok {
		return nil, false, apierrors.NewBadRequest(fmt.Sprintf("expected a directory User, got %T", obj))
	}
	if err := checkFieldRules(caller, current.Name, changedFields(old, updated)); err != nil {
		return nil, false, err
	}
	next := current.DeepCopy()
	applySpec(next, updated)
	if err := r.validate(ctx, current.Name, old.Username, updated, next, current); err != nil {
		return nil, false, err
	}
	if updateValidation != nil {
		if err := updateValidation(ctx, updated, old); err != nil {
			return nil, false, err
		}
	}
	precondition := directory.UpdatePrecondition(updated.ResourceVersion, objInfo)
	if precondition != "" && precondition != current.ResourceVersion {
		return nil, false, conflict(current.Name)
	}

	var patch client.Patch = client.MergeFrom(current)
	if precondition != "" {
		patch = client.MergeFromWithOptions(current, client.MergeFromWithOptimisticLock{})
	}
	dryRun := options != nil && directory.IsDryRun(options.DryRun)
	if err := r.dir.Client().Patch(ctx, next, patch, directory.WriteOptions[client.PatchOption](dryRun)...); err != nil {
		if apierrors.IsConflict(err) {
			return nil, false, conflict(current.Name)
		}
		return nil, false, err
	}
	if !dryRun {
		r.dir.WaitForUser(ctx, next.ResourceVersion, directory.ReadYourWritesTimeout)
	}
	return r.render(next, caller), false, nil
}

func conflict(name string) error { return directory.Conflict(resource, name) }

// Create makes a new user: administrators create any user; with
// self-registration on, a caller with no User yet may create its own.
func (r *REST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	defer directory.ObserveRequest(directory.KindWrite, time.Now())
	caller, err := r.dir.Caller(ctx)
	if err != nil {
		return nil, err
	}
	u, ok := obj.(*directoryv1alpha1.User)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("expected a directory User, got %T", obj))
	}
	if u.Username == "" {
		u.Username = u.Name
	}
	name := u.Name
	if name == "" && u.GenerateName == "" {
		name = u.Username
	}
	if isSelfAlias(name) {
		return nil, apierrors.NewInvalid(directoryv1alpha1.SchemeGroupVersion.WithKind("User").GroupKind(), name,
			field.ErrorList{field.Invalid(field.NewPath("metadata", "name"), name, "the name is reserved: users/self and users/~ name the caller's own user")})
	}
	if errs := validation.IsDNS1123Subdomain(name); name != "" && len(errs) > 0 {
		return nil, apierrors.NewInvalid(directoryv1alpha1.SchemeGroupVersion.WithKind("User").GroupKind(), name,
			field.ErrorList{field.Invalid(field.NewPath("metadata", "name"), name, "give metadata.name, a lowercase DNS name, when the username is not one")})
	}
	changed := changedFields(&directoryv1alpha1.User{
		Email: new(""), IsActive: new(true), IsStaff: new(false), IsSuperuser: new(false),
	}, u)
	switch {
	case caller.Admin:
	case r.dir.Options().AllowSelfRegistration && caller.User == nil:
		if u.Username != caller.Identity.GetName() {
			return nil, apierrors.NewForbidden(resource, name,
				fmt.Errorf("a new user may register only themselves, as username %q", caller.Identity.GetName()))
		}
	default:
		return nil, apierrors.NewForbidden(resource, name, fmt.Errorf("only administrators may create users"))
	}
	// Creating sets fields from nothing: the same rules as changing them.
	changed = slices.DeleteFunc(changed, func(f string) bool { return f == "metadata.name" || f == "username" })
	if err := checkFieldRules(caller, name, changed); err != nil {
		return nil, err
	}
	next := &iamv1alpha1.User{ObjectMeta: metav1.ObjectMeta{Name: name, GenerateName: u.GenerateName}}
	applySpec(next, u)
	if next.Spec.Username == "" {
		next.Spec.Username = u.Username
	}
	if err := r.validate(ctx, "", "", u, next, nil); err != nil {
		return nil, err
	}
	if createValidation != nil {
		if err := createValidation(ctx, u); err != nil {
			return nil, err
		}
	}
	if err := r.dir.Create(ctx, next, resource, options != nil && directory.IsDryRun(options.DryRun)); err != nil {
		return nil, err
	}
	return view(next, true), nil
}

// Delete removes a user and all of its memberships: administrators delete
// anyone, a user may delete themselves.
func (r *REST) Delete(ctx context.Context, name string, deleteValidation rest.ValidateObjectFunc, options *metav1.DeleteOptions) (runtime.Object, bool, error) {
	defer directory.ObserveRequest(directory.KindWrite, time.Now())
	_, current, err := r.writableUser(ctx, name, "delete")
	if err != nil {
		return nil, false, err
	}
	out := view(current, true)
	if deleteValidation != nil {
		if err := deleteValidation(ctx, out); err != nil {
			return nil, false, err
		}
	}
	pre, ok := directory.DeletePreconditions(options, current)
	if !ok {
		return nil, false, conflict(current.Name)
	}
	dryRun := options != nil && directory.IsDryRun(options.DryRun)
	memberships, err := r.dir.MembershipsOf(ctx, current.Name)
	if err != nil {
		return nil, false, err
	}
	for i := range memberships {
		if err := r.dir.Client().Delete(ctx, &memberships[i], directory.WriteOptions[client.DeleteOption](dryRun)...); client.IgnoreNotFound(err) != nil {
			return nil, false, fmt.Errorf("deleting membership %s: %w", memberships[i].Name, err)
		}
	}
	if err := r.dir.Client().Delete(ctx, current, append(directory.WriteOptions[client.DeleteOption](dryRun), pre)...); err != nil {
		if apierrors.IsConflict(err) {
			return nil, false, conflict(current.Name)
		}
		if apierrors.IsNotFound(err) {
			return nil, false, apierrors.NewNotFound(resource, name)
		}
		return nil, false, err
	}
	if !dryRun {
		r.dir.WaitForUserGone(ctx, current.Name, directory.ReadYourWritesTimeout)
	}
	return out, true, nil
}

// patchError turns a patch the generic server could not apply to the
// caller's view, which it reports as a 500, into the client's error: the
// field manager's refusal of an applied configuration (a field the schema
// does not declare, a value of the wrong type) is a 422 naming each field,
// any other patch that does not apply (an unknown strategic-merge
// directive, say) a 400 with its message.
func patchError(name string, err error) error {
	if _, ok := err.(apierrors.APIStatus); ok {
		return err
	}
	const typed = "failed to create typed patch object"
	msg := err.Error()
	if !strings.Contains(msg, typed) {
		return apierrors.NewBadRequest("the patch does not apply: " + msg)
	}
	if i := strings.Index(msg, "): "); i >= 0 {
		msg = msg[i+len("): "):]
	}
	var errs field.ErrorList
	for _, line := range strings.Split(msg, "\n") {
		line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "errors:"))
		path, detail, ok := strings.Cut(line, ": ")
		if !ok || !strings.HasPrefix(path, ".") {
			continue
		}
		// "expected boolean, got &{maybe}": the value as the decoder saw it
		// says nothing to a user.
		detail, _, _ = strings.Cut(detail, ", got ")
		kind := field.ErrorTypeInvalid
		if detail == "field not declared in schema" {
			kind = field.ErrorTypeForbidden
		}
		errs = append(errs, &field.Error{Type: kind, Field: strings.TrimPrefix(path, "."), BadValue: field.OmitValueType{}, Detail: detail})
	}
	if len(errs) == 0 {
		return apierrors.NewBadRequest(msg)
	}
	return apierrors.NewInvalid(directoryv1alpha1.SchemeGroupVersion.WithKind("User").GroupKind(), name, errs)
}
