package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/authenticatorfactory"
	"k8s.io/apiserver/pkg/registry/rest"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/apiserver/pkg/server/healthz"
	restclient "k8s.io/client-go/rest"
	"k8s.io/klog/v2"

	directoryv1alpha1 "github.com/roster-dev/roster/apiserver/apis/directory/v1alpha1"
	"github.com/roster-dev/roster/apiserver/directory"
	membershipstorage "github.com/roster-dev/roster/apiserver/registry/membership"
	userstorage "github.com/roster-dev/roster/apiserver/registry/user"
)

// Config is the directory server's configuration.
type Config struct {
	Generic *genericapiserver.Config
	// Rest reaches kube-apiserver with the server's own credentials.
	Rest      *restclient.Config
	Directory directory.Options
}

// CompletedConfig is a Config with every default filled in.
type CompletedConfig struct {
	generic   genericapiserver.CompletedConfig
	rest      *restclient.Config
	directory directory.Options
}

// Complete fills in the defaults.
func (c *Config) Complete() CompletedConfig {
	return CompletedConfig{generic: c.Generic.Complete(nil), rest: c.Rest, directory: c.Directory}
}

// Server is the running directory server.
type Server struct {
	Generic   *genericapiserver.GenericAPIServer
	Directory *directory.Directory
	// synced is set once the directory's index holds the initial lists.
	synced *atomic.Bool
}

// New builds the server: the directory's cache and the users storage.
func (c CompletedConfig) New() (*Server, error) {
	dir, err := directory.New(c.rest, clientScheme, c.directory)
	if err != nil {
		return nil, err
	}
	c.generic.BuildHandlerChainFunc = func(h http.Handler, gc *genericapiserver.Config) http.Handler {
		return untilAuthenticationLoads(genericapiserver.DefaultBuildHandlerChain(dir.Filter(h), gc), gc.Authentication.RequestHeaderConfig)
	}
	c.generic.ReadyzChecks = append(c.generic.ReadyzChecks, healthz.NamedCheck("directory-authentication", func(*http.Request) error {
		if !requestHeaderLoaded(c.generic.Authentication.RequestHeaderConfig) {
			return errors.New("the front proxy's CA (kube-system/extension-apiserver-authentication) is not loaded yet")
		}
		return nil
	}))
	var synced atomic.Bool
	c.generic.ReadyzChecks = append(c.generic.ReadyzChecks, healthz.NamedCheck("directory-cache", func(*http.Request) error {
		if !synced.Load() {
			return errors.New("the directory's cache has not synced yet")
		}
		return nil
	}))
	generic, err := c.generic.New("roster-directory", genericapiserver.NewEmptyDelegate())
	if err != nil {
		return nil, err
	}
	users, err := userstorage.NewREST(dir)
	if err != nil {
		return nil, fmt.Errorf("the users storage: %w", err)
	}
	group := genericapiserver.NewDefaultAPIGroupInfo(directoryv1alpha1.GroupName, Scheme, metav1.ParameterCodec, Codecs)
	group.NegotiatedSerializer = directCodecs{Codecs}
	group.VersionedResourcesStorageMap[directoryv1alpha1.SchemeGroupVersion.Version] = map[string]rest.Storage{
		"users":       users,
		"memberships": membershipstorage.NewREST(dir),
	}
	if err := generic.InstallAPIGroup(&group); err != nil {
		return nil, fmt.Errorf("installing %s: %w", directoryv1alpha1.GroupName, err)
	}
	return &Server{Generic: generic, Directory: dir, synced: &synced}, nil
}

// Run serves until ctx ends. The directory's cache starts loading first:
// the lists from kube-apiserver, the longest part of a start, overlap the
// generic server's own preparation (its OpenAPI documents, its listener).
func (s *Server) Run(ctx context.Context) error {
	go func() {
		if err := s.Directory.Start(ctx); err != nil {
			klog.ErrorS(err, "The directory's cache stopped")
		}
	}()
	go func() {
		if s.Directory.WaitForCacheSync(ctx) {
			s.synced.Store(true)
		}
	}()
	return s.Generic.PrepareRun().RunWithContext(ctx)
}

// untilAuthenticationLoads answers the directory's resources with a 503 and
// Retry-After until the server knows kube-apiserver's front-proxy CA, which
// it loads from kube-system/extension-apiserver-authentication after it
// starts serving. Before that, a request kube-apiserver proxies for its caller
// would be taken for an anonymous one and refused with a 403: during a
// rolling update, clients would see their rights vanish for a moment.
func untilAuthenticationLoads(next http.Handler, rh *authenticatorfactory.RequestHeaderConfig) http.Handler {
	var loaded atomic.Bool
	prefix := "/apis/" + directoryv1alpha1.GroupName + "/"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !loaded.Load() && strings.HasPrefix(r.URL.Path, prefix) {
			if !requestHeaderLoaded(rh) {
				w.Header().Set("Retry-After", "1")
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusServiceUnavailable)
				_ = json.NewEncoder(w).Encode(metav1.Status{
					TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
					Status:   metav1.StatusFailure, Code: http.StatusServiceUnavailable, Reason: metav1.StatusReasonServiceUnavailable,
					Message: "the directory is still loading kube-apiserver's front-proxy CA; retry in a moment",
				})
				return
			}
			loaded.Store(true)
		}
		next.ServeHTTP(w, r)
	})
}

// requestHeaderLoaded reports whether the front-proxy CA is known (true when
// the server does not trust a front proxy at all).
func requestHeaderLoaded(rh *authenticatorfactory.RequestHeaderConfig) bool {
	return rh == nil || rh.CAContentProvider == nil || len(rh.CAContentProvider.CurrentCABundleContent()) > 0
}
