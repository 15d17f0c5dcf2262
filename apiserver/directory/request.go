package directory

import (
	"context"
	"net/http"
	"net/url"
)

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

// WithListQueryFilter is the handler-chain filter that stores every request's
// query and organization header in its context.
func WithListQueryFilter(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := ListQuery{Path: r.URL.Path, Values: r.URL.Query(), Header: http.Header{}}
		if v := r.Header.Values("X-Organization"); len(v) > 0 {
			q.Header["X-Organization"] = v
		}
		next.ServeHTTP(w, r.WithContext(WithListQuery(r.Context(), q)))
	})
}
