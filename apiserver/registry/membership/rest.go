package membership

import (
	"time"

	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/apiserver/pkg/registry/rest"

	iamv1alpha1 "github.com/roster-dev/roster/api/v1alpha1"
	directoryv1alpha1 "github.com/roster-dev/roster/apiserver/apis/directory/v1alpha1"
	"github.com/roster-dev/roster/apiserver/directory"
	"github.com/roster-dev/roster/apiserver/query"
)

// REST serves the directory's memberships.
type REST struct {
	dir *directory.Directory
}

// NewREST returns the memberships storage over a directory.
func NewREST(dir *directory.Directory) *REST {
	return &REST{dir: dir}
}

var (
	_ rest.Storage              = &REST{}
	_ rest.Scoper               = &REST{}
	_ rest.KindProvider         = &REST{}
	_ rest.SingularNameProvider = &REST{}
	_ rest.ShortNamesProvider   = &REST{}
	_ rest.Lister               = &REST{}
	_ rest.Getter               = &REST{}
	_ rest.Watcher              = &REST{}
	_ rest.Patcher              = &REST{}
	_ rest.Creater              = &REST{}
	_ rest.GracefulDeleter      = &REST{}
)

var resource = directoryv1alpha1.Resource("memberships")

// New returns an empty directory Membership.
func (r *REST) New() runtime.Object { return &directoryv1alpha1.Membership{} }

// NewList returns an empty MembershipList.
func (r *REST) NewList() runtime.Object { return &directoryv1alpha1.MembershipList{} }

// Destroy releases nothing: the directory's cache outlives the storage.
func (r *REST) Destroy() {}

// NamespaceScoped is false: memberships are cluster-scoped.
func (r *REST) NamespaceScoped() bool { return false }

// Kind is the kind the storage serves.
func (r *REST) Kind() string { return "Membership" }

// GetSingularName is the singular resource name.
func (r *REST) GetSingularName() string { return "membership" }

// ShortNames are kubectl's short names for the directory's memberships.
func (r *REST) ShortNames() []string { return []string{"dm"} }

// view renders a Membership for the directory.
func view(snap *query.Snapshot, m *iamv1alpha1.Membership) *directoryv1alpha1.Membership {
	out := &directoryv1alpha1.Membership{
		TypeMeta: metav1.TypeMeta{APIVersion: directoryv1alpha1.SchemeGroupVersion.String(), Kind: "Membership"},
		ObjectMeta: metav1.ObjectMeta{
			Name:              m.Name,
			UID:               m.UID,
			ResourceVersion:   m.ResourceVersion,
			Generation:        m.Generation,
			CreationTimestamp: m.CreationTimestamp,
			DeletionTimestamp: m.DeletionTimestamp,
		},
		Organization: m.Spec.Organization,
		User:         m.Spec.User,
		Role:         string(m.Spec.Role),
		State:        string(m.Spec.State),
		InvitedBy:    m.Spec.InvitedBy,
		JoinedDate:   m.Status.JoinedDate,
	}
	if out.State == "" {
		out.State = string(iamv1alpha1.MembershipActive)
	}
	if o, ok := snap.Organization(m.Spec.Organization); ok {
		out.OrganizationID = o.ID
	}
	if u, ok := snap.User(m.Spec.User); ok {
		out.Username = u.Username
	}
	if len(m.Status.Conditions) > 0 || m.Status.ObservedGeneration > 0 {
		out.Status = &directoryv1alpha1.MembershipStatus{ObservedGeneration: m.Status.ObservedGeneration, Conditions: m.Status.Conditions}
	}
	return out
}

// listRequest is a parsed list of memberships.
type listRequest struct {
	page  *query.ListRequest // organization context and page numbers
	user  string
	roles []iamv1alpha1.MembershipRole
	state iamv1alpha1.MembershipState
	label labels.Selector
	field fields.Selector
}

func (r *REST) parse(lq directory.ListQuery, options *metainternalversion.ListOptions) (*listRequest, error) {
	ctxValues := url.Values{}
	for _, k := range []string{"org", "org_id", "page", "page_size"} {
		if vs, ok := lq.Values[k]; ok {
			ctxValues[k] = vs
		}
	}
	page, err := query.ParseListRequest(ctxValues, lq.Header, r.dir.Options().Page)
	if err != nil {
		return nil, directory.EngineError(err)
	}
	lr := &listRequest{page: page, user: lq.Values.Get("user")}
	if v := lq.Values.Get("role"); v != "" {
		roles, err := query.ParseRoles(v)
		if err != nil {
			return nil, directory.EngineError(err)
		}
		for _, role := range roles {
			lr.roles = append(lr.roles, iamv1alpha1.MembershipRole(role))
		}
	}
	switch v := lq.Values.Get("state"); v {
	case "":
	case "active", "pending":
		lr.state = iamv1alpha1.MembershipState(v)
	default:
		return nil, apierrors.NewBadRequest(fmt.Sprintf("state: %q is not active or pending", v))
	}
	if options != nil {
		lr.label, lr.field = options.LabelSelector, options.FieldSelector
		if lr.field != nil && !lr.field.Empty() {
			for _, req := range lr.field.Requirements() {
				if req.Field != "metadata.name" {
					return nil, apierrors.NewBadRequest(fmt.Sprintf("fieldSelector: field %q is not supported; only metadata.name is", req.Field))
				}
			}
		}
	}
	return lr, nil
}

// matches applies the filters that do not depend on who asks to the
// membership named name, with labelsOf giving its labels.
// unfiltered reports whether lr keeps every membership: matches is true
// for all.
func (lr *listRequest) unfiltered() bool {
	return lr.user == "" && len(lr.roles) == 0 && lr.state == "" &&
		(lr.field == nil || lr.field.Empty()) && (lr.label == nil || lr.label.Empty())
}

func (lr *listRequest) matches(name string, spec *iamv1alpha1.MembershipSpec, labelsOf func() map[string]string) bool {
	state := spec.State
	if state == "" {
		state = iamv1alpha1.MembershipActive
	}
	return (lr.user == "" || spec.User == lr.user) &&
		(len(lr.roles) == 0 || slices.Contains(lr.roles, spec.Role)) &&
		(lr.state == "" || state == lr.state) &&
		(lr.field == nil || lr.field.Empty() || lr.field.Matches(fields.Set{"metadata.name": name})) &&
		(lr.label == nil || lr.label.Empty() || lr.label.Matches(labels.Set(labelsOf())))
}

// visible lists the memberships the caller may see for the request, sorted
// by name: in an organization context, that organization's (404 for an
// unknown one, 403 for a caller who is not an active member of it);
// without one, everything for an administrator and the caller's own for
// anyone else.
func (r *REST) visible(ctx context.Context, snap *query.Snapshot, c *directory.Caller, lr *listRequest) ([]*directory.MembershipRecord, error) {
	org := lr.page.Org
	slug := ""
	switch {
	case org.Set && !org.ByID && org.Slug == "":
		// The personal workspace holds no memberships.
		return nil, nil
	case org.Set:
		if err := snap.Authorize(c.Caller, &query.ListRequest{Org: org}); err != nil {
			return nil, directory.EngineError(err)
		}
		slug = org.Slug
		if org.ByID {
			slug, _ = snap.OrganizationSlug(org.ID)
		}
	case !c.Admin && c.User == nil:
		return nil, nil
	}
	if c.Admin && !org.Set && lr.unfiltered() {
		// An administrator's whole list is the catalog as it is: reading
		// every record to keep them all was most of such a page's time.
		return r.dir.SortedMemberships(), nil
	}
	s := standingOf(snap, c)
	var out []*directory.MembershipRecord
	// The catalog is in name order; the filters keep it. In an
	// organization context, only the part of it that holds the
	// organization's memberships is read.
	rows := r.dir.SortedMemberships()
	if slug != "" {
		rows = r.dir.OrganizationMemberships(slug)
	}
	for _, m := range rows {
		if slug != "" && m.Spec.Organization != slug {
			continue
		}
		if !org.Set && !c.Admin && !isSelf(c, &m.Spec) {
			continue
		}
		if canSee(c, s, &m.Spec) && lr.matches(m.Name, &m.Spec, m.Labels) {
			out = append(out, m)
		}
	}
	return out, nil
}

// List answers a list of memberships: filtered by org, org_id,
// X-Organization, user, role and state, paged by page/page_size or
// limit/continue.
func (r *REST) List(ctx context.Context, options *metainternalversion.ListOptions) (runtime.Object, error) {
	defer directory.ObserveRequest(directory.KindMemberships, time.Now())
	caller, err := r.dir.Caller(ctx)
	if err != nil {
		return nil, err
	}
	lq := directory.ListQueryFrom(ctx)
	lr, err := r.parse(lq, options)
	if err != nil {
		return nil, err
	}
	snap := r.dir.Snapshot()
	rows, err := r.visible(ctx, snap, caller, lr)
	if err != nil {
		return nil, err
	}
	list := &directoryv1alpha1.MembershipList{Count: int64(len(rows)), Items: []directoryv1alpha1.Membership{}}
	list.ResourceVersion = strconv.FormatUint(r.dir.ResourceVersion(), 10)
	lo, hi := 0, len(rows)
	if p := lr.page; p.Paged {
		size := max(p.PageSize, 1)
		pages := max(1, (len(rows)+size-1)/size)
		page := max(p.Page, 1)
		if p.LastPage {
			page = pages
		}
		if page > pages {
			return nil, directory.EngineError(&query.Error{Status: 404, Param: "page", Message: "Invalid page."})
		}
		lo, hi = (page-1)*size, min(page*size, len(rows))
		if page < pages {
			list.Next = directory.PageLink(lq, page+1)
		}
		if page > 1 {
			list.Previous = directory.PageLink(lq, page-1)
		}
	} else if options != nil {
		if options.Continue != "" {
			if lo, err = decodeContinue(options.Continue); err != nil {
				return nil, err
			}
			lo = min(lo, len(rows))
		}
		if options.Limit > 0 && int(options.Limit) < len(rows)-lo {
			hi = lo + int(options.Limit)
			list.Continue = encodeContinue(hi)
			list.RemainingItemCount = new(int64(len(rows) - hi))
		}
	}
	for _, m := range rows[lo:hi] {
		list.Items = append(list.Items, *view(snap, m.Object()))
	}
	return list, nil
}

// A continue token of memberships is the offset of the next row: it holds
// no name, since tokens travel in request URLs.
type continueToken struct {
	Offset int `json:"offset"`
}

func encodeContinue(offset int) string {
	b, _ := json.Marshal(continueToken{Offset: offset})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeContinue(s string) (int, error) {
	var t continueToken
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, &t)
	}
	if err != nil || t.Offset <= 0 {
		return 0, apierrors.NewBadRequest("continue: the continue token is not valid")
	}
	return t.Offset, nil
}

// Get returns one membership the caller may see; any other is a 404.
func (r *REST) Get(ctx context.Context, name string, _ *metav1.GetOptions) (runtime.Object, error) {
	defer directory.ObserveRequest(directory.KindGet, time.Now())
	caller, err := r.dir.Caller(ctx)
	if err != nil {
		return nil, err
	}
	snap := r.dir.Snapshot()
	m, err := r.visibleMembership(ctx, snap, caller, name)
	if err != nil {
		return nil, err
	}
	return view(snap, m), nil
}

func (r *REST) visibleMembership(ctx context.Context, snap *query.Snapshot, c *directory.Caller, name string) (*iamv1alpha1.Membership, error) {
	m, err := r.dir.Membership(ctx, name)
	if apierrors.IsNotFound(err) || (err == nil && !canSee(c, standingOf(snap, c), &m.Spec)) {
		return nil, apierrors.NewNotFound(resource, name)
	}
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	return m, nil
}

// Watch streams the memberships the caller may see, filtered by the
// request, with ADDED and DELETED when the caller's view changes.
func (r *REST) Watch(ctx context.Context, options *metainternalversion.ListOptions) (watch.Interface, error) {
	caller, err := r.dir.Caller(ctx)
	if err != nil {
		return nil, err
	}
	lr, err := r.parse(directory.ListQueryFrom(ctx), options)
	if err != nil {
		return nil, err
	}
	// Refused requests are refused before the stream starts.
	if _, err := r.visible(ctx, r.dir.Snapshot(), caller, lr); err != nil {
		return nil, err
	}
	org := lr.page.Org
	wr := directory.MembershipWatchRequest{
		Caller: caller,
		Match: func(m *iamv1alpha1.Membership) bool {
			snap := r.dir.Snapshot()
			if org.Set {
				slug := org.Slug
				if org.ByID {
					slug, _ = snap.OrganizationSlug(org.ID)
				}
				if slug == "" || m.Spec.Organization != slug {
					return false
				}
			} else if !caller.Admin && !isSelf(caller, &m.Spec) {
				return false
			}
			return canSee(caller, standingOf(snap, caller), &m.Spec) &&
				lr.matches(m.Name, &m.Spec, func() map[string]string { return m.Labels })
		},
		Initial: func(ctx context.Context) ([]*iamv1alpha1.Membership, error) {
			rows, err := r.visible(ctx, r.dir.Snapshot(), caller, lr)
			if err != nil {
				return nil, err
			}
			out := make([]*iamv1alpha1.Membership, len(rows))
			for i, m := range rows {
				out[i] = m.Object()
			}
			return out, nil
		},
		View: func(m *iamv1alpha1.Membership) runtime.Object { return view(r.dir.Snapshot(), m) },
		Bookmark: func(rv string) runtime.Object {
			return &directoryv1alpha1.Membership{ObjectMeta: metav1.ObjectMeta{
				ResourceVersion: rv,
				Annotations:     map[string]string{metav1.InitialEventsAnnotationKey: "true"},
			}}
		},
	}
	if options != nil {
		wr.ResourceVersion = options.ResourceVersion
		wr.SendInitialEvents = options.SendInitialEvents != nil && *options.SendInitialEvents && options.AllowWatchBookmarks
	}
	if wr.ResourceVersion == "0" {
		wr.ResourceVersion = ""
	}
	return r.dir.WatchMemberships(ctx, wr)
}
