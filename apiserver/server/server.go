package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
}

// New builds the server: the directory's cache and the users storage.
func (c CompletedConfig) New() (*Server, error) {
	dir, err := directory.New(c.rest, clientScheme, c.directory)
	if err != nil {
		return nil, err
	}
	c.generic.BuildHandlerChainFunc = func(h http.Handler, gc *genericapiserver.Config) http.Handler {
		return genericapiserver.DefaultBuildHandlerChain(dir.Filter(h), gc)
	}
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
	group.VersionedResourcesStorageMap[directoryv1alpha1.SchemeGroupVersion.Version] = map[string]rest.Storage{
		"users":       users,
		"memberships": membershipstorage.NewREST(dir),
	}
	if err := generic.InstallAPIGroup(&group); err != nil {
		return nil, fmt.Errorf("installing %s: %w", directoryv1alpha1.GroupName, err)
	}
	generic.AddPostStartHookOrDie("start-directory-cache", func(hc genericapiserver.PostStartHookContext) error {
		go func() {
			if err := dir.Start(hc); err != nil {
				klog.ErrorS(err, "The directory's cache stopped")
			}
		}()
		go func() {
			if dir.WaitForCacheSync(hc) {
				synced.Store(true)
			}
		}()
		return nil
	})
	return &Server{Generic: generic, Directory: dir}, nil
}

// Run serves until ctx ends.
func (s *Server) Run(ctx context.Context) error {
	return s.Generic.PrepareRun().RunWithContext(ctx)
}
