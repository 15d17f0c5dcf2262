package directory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	genericrequest "k8s.io/apiserver/pkg/endpoints/request"

	"github.com/roster-dev/roster/apiserver/query"
)

// MaxQueryBytes bounds the query of a request: no list parameter needs more,
// and a longer one is refused with a 414 before it is parsed.
const MaxQueryBytes = 64 << 10

// writeStatus answers a request the filter refuses with a Status, as the
// generic server answers the requests it refuses.
func writeStatus(w http.ResponseWriter, code int, reason metav1.StatusReason, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(&metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusFailure, Code: int32(code), Reason: reason, Message: message,
	})
}

// ListQuery is the raw query and the organization header of a request. The
// generic API server hands list storage only the Kubernetes list options, so
// a handler-chain filter keeps the rest here for the registry.
type ListQuery struct {
	Path   string
	Values url.Values
	Header http.Header
}

type listQueryKey struct{}

// WithListQuery returns ctx carrying q.
func WithListQuery(ctx context.Context, q ListQuery) context.Context {
	return context.WithValue(ctx, listQueryKey{}, q)
}

// ListQueryFrom returns the query a handler-chain filter stored in ctx.
func ListQueryFrom(ctx context.Context) ListQuery {
	q, _ := ctx.Value(listQueryKey{}).(ListQuery)
	return q
}

// Filter is the directory's handler-chain filter, run after authentication:
//   - it keeps every request's query and organization header in its context
//     for the list storage;
//   - it resolves `users/self` and `users/~` to the caller's own user, so
//     that patches and deletes of `self` name the real object;
//   - it makes writes decode strictly, so that a field the directory does
//     not know is refused rather than silently dropped.
func (d *Directory) Filter(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.URL.RawQuery) > MaxQueryBytes {
			writeStatus(w, http.StatusRequestURITooLong, "RequestURITooLong",
				fmt.Sprintf("the request's query is longer than the directory accepts (%d bytes)", MaxQueryBytes))
			return
		}
		ctx := r.Context()
		q := ListQuery{Path: r.URL.Path, Values: r.URL.Query(), Header: http.Header{}}
		if v := r.Header.Values("X-Organization"); len(v) > 0 {
			q.Header["X-Organization"] = v
		}
		ctx = WithListQuery(ctx, q)
		if info, ok := genericrequest.RequestInfoFrom(ctx); ok && info.IsResourceRequest && (info.Resource == "users" || info.Resource == "memberships") {
			// /readyz fails until the index holds the initial lists; a
			// request that comes anyway is not answered from a partial
			// index.
			if !d.Ready() {
				w.Header().Set("Retry-After", "1")
				writeStatus(w, http.StatusServiceUnavailable, metav1.StatusReasonServiceUnavailable,
					"the directory is still loading its index; retry in a moment")
				return
			}
			ctx = d.withCaller(ctx)
			if info.Resource == "users" && (info.Name == "self" || info.Name == "~") {
				if c, err := d.Caller(ctx); err == nil && c.User != nil {
					resolved := *info
					resolved.Name = c.User.Name
					ctx = genericrequest.WithRequestInfo(ctx, &resolved)
					r.URL.Path = strings.TrimSuffix(r.URL.Path, info.Name) + c.User.Name
				}
			}
			switch r.Method {
			case http.MethodPost, http.MethodPut, http.MethodPatch:
				v := r.URL.Query()
				v.Set("fieldValidation", "Strict")
				r.URL.RawQuery = v.Encode()
			}
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// PageLink is the same request's path and query with another page number.
func PageLink(lq ListQuery, page int) *string {
	v := url.Values{}
	for k, vs := range lq.Values {
		v[k] = vs
	}
	v.Set("page", strconv.Itoa(page))
	s := lq.Path + "?" + v.Encode()
	return &s
}

// EngineError turns a query engine refusal into an API status with the
// engine's exact message.
func EngineError(err error) error {
	var qe *query.Error
	if !errors.As(err, &qe) {
		return apierrors.NewInternalError(err)
	}
	reason := metav1.StatusReasonBadRequest
	switch qe.Status {
	case 403:
		reason = metav1.StatusReasonForbidden
	case 404:
		reason = metav1.StatusReasonNotFound
	}
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status:  metav1.StatusFailure,
		Code:    int32(qe.Status),
		Reason:  reason,
		Message: qe.Message,
	}}
}
