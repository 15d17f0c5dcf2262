package user

import (
	"time"

	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
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
	"github.com/roster-dev/roster/apiserver/registry/crdrules"
)

// REST serves the directory's users.
type REST struct {
	dir *directory.Directory
	// crd validates writes with the User CRD's own schema and CEL rules.
	crd *crdrules.Validator
}

// NewREST returns the users storage over a directory.
func NewREST(dir *directory.Directory) (*REST, error) {
	crd, err := crdrules.New("users."+iamv1alpha1.GroupVersion.Group, iamv1alpha1.GroupVersion.Version)
	if err != nil {
		return nil, err
	}
	return &REST{dir: dir, crd: crd}, nil
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

var resource = directoryv1alpha1.Resource("users")

// New returns an empty directory User.
func (r *REST) New() runtime.Object { return &directoryv1alpha1.User{} }

// NewList returns an empty UserList.
func (r *REST) NewList() runtime.Object { return &directoryv1alpha1.UserList{} }

// Destroy releases nothing: the directory's cache outlives the storage.
func (r *REST) Destroy() {}

// NamespaceScoped is false: users are cluster-scoped.
func (r *REST) NamespaceScoped() bool { return false }

// Kind is the kind the storage serves.
func (r *REST) Kind() string { return "User" }

// GetSingularName is the singular resource name.
func (r *REST) GetSingularName() string { return "user" }

// ShortNames are kubectl's short names for the directory's users.
func (r *REST) ShortNames() []string { return []string{"du"} }

// List answers a list request with the users the caller may see, filtered,
// searched, sorted and paged per docs/users-api.md section 5.
func (r *REST) List(ctx context.Context, options *metainternalversion.ListOptions) (runtime.Object, error) {
	kind, started := directory.KindPage, time.Now()
	defer func() { directory.ObserveRequest(kind, started) }()
	caller, err := r.dir.Caller(ctx)
	if err != nil {
		return nil, err
	}
	lq := directory.ListQueryFrom(ctx)
	req, err := r.listRequest(ctx, caller, lq, options)
	if err != nil {
		return nil, err
	}
	kind = requestKind(req)
	snap := r.dir.Snapshot()
	if !req.Paged && options != nil {
		if req.Window, err = r.window(snap, caller, req, options.Continue); err != nil {
			return nil, err
		}
		req.Window.Limit = int(options.Limit)
	}
	res, err := snap.List(caller.Caller, req)
	if err != nil {
		return nil, directory.EngineError(err)
	}
	list := &directoryv1alpha1.UserList{
		Count: int64(res.Count),
		Items: make([]directoryv1alpha1.User, 0, len(res.Users)),
	}
	list.ResourceVersion = strconv.FormatUint(r.dir.ResourceVersion(), 10)
	for _, u := range res.Users {
		obj, err := r.dir.User(ctx, u.Name)
		if err != nil {
			// Deleted since the snapshot was taken.
			continue
		}
		list.Items = append(list.Items, *view(obj, caller.Admin || caller.IsSelf(u.Name)))
	}
	if req.Paged {
		if res.HasNext {
			list.Next = directory.PageLink(lq, res.Page+1)
		}
		if res.HasPrevious {
			list.Previous = directory.PageLink(lq, res.Page-1)
		}
	} else if res.HasNext && options != nil && options.Limit > 0 && len(res.Users) > 0 {
		list.Continue = encodeContinue(res.Users[len(res.Users)-1], res.Offset+len(res.Users))
		list.RemainingItemCount = new(int64(res.Count - res.Offset - len(res.Users)))
	}
	return list, nil
}

// listRequest parses the REST query parameters and adds the Kubernetes label
// and field selectors. Labels are part of the full view only: a label
// selector sees the labels of the caller's own record (all of them for an
// administrator) and none of anyone else's, so it cannot probe what the
// basic view hides.
func (r *REST) listRequest(ctx context.Context, caller *directory.Caller, lq directory.ListQuery, options *metainternalversion.ListOptions) (*query.ListRequest, error) {
	req, err := query.ParseListRequest(lq.Values, lq.Header, r.dir.Options().Page)
	if err != nil {
		return nil, directory.EngineError(err)
	}
	if options == nil {
		return req, nil
	}
	label, field := options.LabelSelector, options.FieldSelector
	if field != nil && !field.Empty() {
		for _, req := range field.Requirements() {
			if req.Field != "metadata.name" {
				return nil, apierrors.NewBadRequest(fmt.Sprintf("fieldSelector: field %q is not supported; only metadata.name is", req.Field))
			}
		}
	}
	if (label == nil || label.Empty()) && (field == nil || field.Empty()) {
		return req, nil
	}
	req.Extra = func(u query.User) bool {
		if field != nil && !field.Empty() && !field.Matches(fields.Set{"metadata.name": u.Name}) {
			return false
		}
		if label == nil || label.Empty() {
			return true
		}
		if !caller.Admin && !caller.IsSelf(u.Name) {
			return label.Matches(labels.Set(nil))
		}
		obj, err := r.dir.User(ctx, u.Name)
		return err == nil && label.Matches(labels.Set(obj.Labels))
	}
	return req, nil
}

// continueToken resumes a chunked list right after the last row it
// returned. It names that row by its numeric ID, never by a name: tokens
// travel in request URLs, which audit logs keep, and hold no personal data.
// The list resumes after the row's place in the order, so users added or
// removed before it since neither repeat nor skip rows; when the row is gone
// from the caller's result (or has no ID yet), at the offset of the next row.
type continueToken struct {
	// ID is the numeric ID of the last row returned, 0 when it had none.
	ID int64 `json:"id,omitempty"`
	// Offset is the position of the next row.
	Offset int `json:"offset"`
}

func encodeContinue(last query.User, next int) string {
	b, _ := json.Marshal(continueToken{ID: last.ID, Offset: next})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeContinue(s string) (continueToken, error) {
	var t continueToken
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, &t)
	}
	if err != nil || t.Offset < 0 || t.ID < 0 || (t.ID == 0 && t.Offset == 0) {
		return continueToken{}, apierrors.NewBadRequest("continue: the continue token is not valid")
	}
	return t, nil
}

// window is where a continued list resumes: right after the token's row
// when the caller still sees it in this result, else at the token's offset.
// A row outside the caller's result never gives a position, so a forged
// token cannot tell where an invisible user sorts.
func (r *REST) window(snap *query.Snapshot, caller *directory.Caller, req *query.ListRequest, token string) (query.Window, error) {
	if token == "" {
		return query.Window{}, nil
	}
	t, err := decodeContinue(token)
	if err != nil {
		return query.Window{}, err
	}
	if t.ID > 0 {
		if u, ok := snap.UserByID(t.ID); ok {
			if in, err := snap.Matches(caller.Caller, req, u.Name); err == nil && in {
				return query.Window{After: &u}, nil
			}
		}
	}
	return query.Window{Offset: t.Offset}, nil
}

// Get returns one user the caller may see: by name, by numeric ID when the
// name is all digits and names no user, or the caller's own as `self` or `~`.
func (r *REST) Get(ctx context.Context, name string, _ *metav1.GetOptions) (runtime.Object, error) {
	defer directory.ObserveRequest(directory.KindGet, time.Now())
	caller, err := r.dir.Caller(ctx)
	if err != nil {
		return nil, err
	}
	u, err := r.visibleUser(ctx, caller, name)
	if err != nil {
		return nil, err
	}
	return r.render(u, caller), nil
}

// render is the caller's view of u: the full view for an administrator and
// for the caller's own record, which also carries the caller's organizations.
func (r *REST) render(u *iamv1alpha1.User, caller *directory.Caller) *directoryv1alpha1.User {
	out := view(u, caller.Admin || caller.IsSelf(u.Name))
	if caller.IsSelf(u.Name) {
		out.Organizations = organizations(r.dir.Snapshot().OrganizationsOf(u.Name))
	}
	return out
}

// requestKind is how a list is counted in the directory's metrics: by the
// dearest thing it asks for.
func requestKind(req *query.ListRequest) string {
	switch {
	case req.Filter != nil:
		return directory.KindJSONLogic
	case len(req.Search) > 0:
		return directory.KindSearch
	case req.Org.Set:
		return directory.KindOrg
	default:
		return directory.KindPage
	}
}

// isSelfAlias reports whether name stands for the caller's own user.
func isSelfAlias(name string) bool { return name == "self" || name == "~" }

// visibleUser resolves name for the caller; a user the caller may not see is
// a 404, exactly like one that does not exist.
func (r *REST) visibleUser(ctx context.Context, caller *directory.Caller, name string) (*iamv1alpha1.User, error) {
	if isSelfAlias(name) {
		if caller.User == nil {
			return nil, apierrors.NewNotFound(resource, name)
		}
		return r.dir.User(ctx, caller.User.Name)
	}
	snap := r.dir.Snapshot()
	key := name
	if _, ok := snap.User(name); !ok {
		if id, err := strconv.ParseInt(name, 10, 64); err == nil && id > 0 && isDigits(name) {
			if u, ok := snap.UserByID(id); ok {
				key = u.Name
			}
		}
	}
	if !snap.Visible(caller.Caller, key) {
		return nil, apierrors.NewNotFound(resource, name)
	}
	u, err := r.dir.User(ctx, key)
	if apierrors.IsNotFound(err) {
		return nil, apierrors.NewNotFound(resource, name)
	}
	return u, err
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// Watch streams the users the caller may see, with ADDED and DELETED events
// when a membership change makes a user visible or invisible.
func (r *REST) Watch(ctx context.Context, options *metainternalversion.ListOptions) (watch.Interface, error) {
	caller, err := r.dir.Caller(ctx)
	if err != nil {
		return nil, err
	}
	req, err := r.listRequest(ctx, caller, directory.ListQueryFrom(ctx), options)
	if err != nil {
		return nil, err
	}
	// A watch the caller may not make is refused before its stream starts,
	// with the status a list would have.
	if err := r.dir.Snapshot().Authorize(caller.Caller, req); err != nil {
		return nil, directory.EngineError(err)
	}
	wr := directory.WatchRequest{
		Caller:  caller,
		Request: req,
		View: func(u *iamv1alpha1.User, c *directory.Caller) runtime.Object {
			return view(u, c.Admin || c.IsSelf(u.Name))
		},
		Bookmark: func(rv string) runtime.Object {
			return &directoryv1alpha1.User{ObjectMeta: metav1.ObjectMeta{
				ResourceVersion: rv,
				Annotations:     map[string]string{metav1.InitialEventsAnnotationKey: "true"},
			}}
		},
	}
	if options != nil {
		wr.ResourceVersion = options.ResourceVersion
		// The end of the initial events is a bookmark, sent only to clients
		// that accept bookmarks.
		if options.SendInitialEvents != nil && *options.SendInitialEvents && options.AllowWatchBookmarks {
			wr.SendInitialEvents = true
		}
	}
	if wr.ResourceVersion == "0" {
		wr.ResourceVersion = ""
	}
	return r.dir.Watch(ctx, wr)
}
