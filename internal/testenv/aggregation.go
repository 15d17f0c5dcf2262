package testenv

// This file wires Roster's directory server into a kube-apiserver that Roster
// runs itself: the front-proxy (aggregation layer) certificates and flags, and
// the registration of the directory through an APIService.

import (
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/controller-runtime/pkg/client"

	directoryv1alpha1 "github.com/roster-dev/roster/apiserver/apis/directory/v1alpha1"
	"github.com/roster-dev/roster/internal/pki"
)

// The names the directory is registered under.
const (
	Namespace   = "roster-system"
	ServiceName = "roster-directory"
	// FrontProxyClientName is the common name of kube-apiserver's front-proxy
	// client certificate; the directory trusts only it.
	FrontProxyClientName = "front-proxy-client"
	// GroupPriorityMinimum puts directory.roster.dev before the CRD group
	// iam.roster.dev (1000), so plain `kubectl get users` reaches the directory.
	GroupPriorityMinimum = 2000
)

// Aggregation holds the certificates that connect kube-apiserver and the
// directory server.
type Aggregation struct {
	// Dir is where the files are written.
	Dir string
	// FrontProxyCAFile verifies kube-apiserver's front-proxy client certificate.
	FrontProxyCAFile string
	// FrontProxyCertFile and FrontProxyKeyFile are kube-apiserver's client certificate.
	FrontProxyCertFile, FrontProxyKeyFile string
	// ServingCertFile and ServingKeyFile are the directory's serving certificate,
	// valid for the Service name and for localhost.
	ServingCertFile, ServingKeyFile string
	// ServingCA signs the serving certificate: the APIService's caBundle.
	ServingCA []byte
}

// NewAggregation writes fresh certificates into dir.
func NewAggregation(dir string) (*Aggregation, error) {
	a := &Aggregation{Dir: dir}
	frontCA, err := pki.NewCA("roster-front-proxy-ca")
	if err != nil {
		return nil, err
	}
	caPair, err := frontCA.Pair()
	if err != nil {
		return nil, err
	}
	if a.FrontProxyCAFile, _, err = caPair.Write(dir, "front-proxy-ca"); err != nil {
		return nil, err
	}
	client, err := frontCA.ClientCert(FrontProxyClientName)
	if err != nil {
		return nil, err
	}
	if a.FrontProxyCertFile, a.FrontProxyKeyFile, err = client.Write(dir, "front-proxy-client"); err != nil {
		return nil, err
	}
	servingCA, err := pki.NewCA("roster-directory-ca")
	if err != nil {
		return nil, err
	}
	a.ServingCA = servingCA.CertPEM()
	serving, err := servingCA.ServingCert(ServiceName,
		[]string{ServiceName + "." + Namespace + ".svc", ServiceName + "." + Namespace + ".svc.cluster.local", "localhost"},
		[]net.IP{net.ParseIP("127.0.0.1")})
	if err != nil {
		return nil, err
	}
	if a.ServingCertFile, a.ServingKeyFile, err = serving.Write(dir, "directory-serving"); err != nil {
		return nil, err
	}
	return a, nil
}

// APIServerFlags are the kube-apiserver flags of the aggregation layer.
func (a *Aggregation) APIServerFlags() map[string]string {
	return map[string]string{
		"requestheader-client-ca-file":       a.FrontProxyCAFile,
		"requestheader-allowed-names":        FrontProxyClientName,
		"requestheader-username-headers":     "X-Remote-User",
		"requestheader-group-headers":        "X-Remote-Group",
		"requestheader-extra-headers-prefix": "X-Remote-Extra-",
		"proxy-client-cert-file":             a.FrontProxyCertFile,
		"proxy-client-key-file":              a.FrontProxyKeyFile,
	}
}

var apiServiceGVK = schema.GroupVersionKind{Group: "apiregistration.k8s.io", Version: "v1", Kind: "APIService"}

// APIServiceName is the name of the directory's APIService.
var APIServiceName = directoryv1alpha1.SchemeGroupVersion.Version + "." + directoryv1alpha1.GroupName

// Register makes kube-apiserver route directory.roster.dev to a directory
// server listening on localhost:port: an ExternalName Service pointing at
// localhost (no aggregator routing through endpoints is needed) and an
// APIService whose caBundle verifies the serving certificate. It also grants
// every authenticated user the verbs of the directory, which does the
// fine-grained checks itself. It is idempotent.
func Register(ctx context.Context, c client.Client, port int, caBundle []byte) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: Namespace}}
	if err := c.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating namespace %s: %w", Namespace, err)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: ServiceName, Namespace: Namespace},
		Spec: corev1.ServiceSpec{
			Type:         corev1.ServiceTypeExternalName,
			ExternalName: "localhost",
			Ports:        []corev1.ServicePort{{Name: "https", Port: int32(port)}},
		},
	}
	if err := apply(ctx, c, svc); err != nil {
		return fmt.Errorf("registering service %s: %w", ServiceName, err)
	}
	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "roster-directory-user"},
		Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{directoryv1alpha1.GroupName},
			Resources: []string{"users", "memberships"},
			Verbs:     []string{"get", "list", "watch", "patch", "update", "create", "delete"},
		}},
	}
	if err := apply(ctx, c, role); err != nil {
		return err
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "roster-directory-user"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "Group", Name: "system:authenticated"}},
	}
	if err := apply(ctx, c, binding); err != nil {
		return err
	}
	api := &unstructured.Unstructured{}
	api.SetGroupVersionKind(apiServiceGVK)
	api.SetName(APIServiceName)
	api.Object["spec"] = map[string]any{
		"group":                directoryv1alpha1.GroupName,
		"version":              directoryv1alpha1.SchemeGroupVersion.Version,
		"groupPriorityMinimum": int64(GroupPriorityMinimum),
		"versionPriority":      int64(15),
		"caBundle":             base64.StdEncoding.EncodeToString(caBundle),
		"service": map[string]any{
			"namespace": Namespace,
			"name":      ServiceName,
			"port":      int64(port),
		},
	}
	if err := apply(ctx, c, api); err != nil {
		return fmt.Errorf("registering APIService %s: %w", APIServiceName, err)
	}
	return nil
}

// apply creates obj, or replaces the existing object's content with it.
func apply(ctx context.Context, c client.Client, obj client.Object) error {
	err := c.Create(ctx, obj)
	if !apierrors.IsAlreadyExists(err) {
		return err
	}
	existing := obj.DeepCopyObject().(client.Object)
	if err := c.Get(ctx, client.ObjectKeyFromObject(obj), existing); err != nil {
		return err
	}
	obj.SetResourceVersion(existing.GetResourceVersion())
	return c.Update(ctx, obj)
}

// Available reports whether kube-apiserver reaches the directory: the
// APIService's Available condition.
func Available(ctx context.Context, c client.Client) (bool, string, error) {
	api := &unstructured.Unstructured{}
	api.SetGroupVersionKind(apiServiceGVK)
	if err := c.Get(ctx, client.ObjectKey{Name: APIServiceName}, api); err != nil {
		return false, "", err
	}
	conds, _, _ := unstructured.NestedSlice(api.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Available" {
			return m["status"] == "True", fmt.Sprint(m["message"]), nil
		}
	}
	return false, "no Available condition yet", nil
}

// portOf returns the port of a host:port address.
func portOf(addr net.Addr) int {
	_, p, _ := net.SplitHostPort(addr.String())
	n, _ := strconv.Atoi(p)
	return n
}

// Discovered reports whether kube-apiserver's discovery resolves the plain
// resource name "users" to the directory, as kubectl resolves it: the group
// must be listed with its resources and win over iam.roster.dev by priority.
func Discovered(cfg *rest.Config) (bool, string) {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return false, err.Error()
	}
	groups, err := restmapper.GetAPIGroupResources(dc)
	if err != nil && len(groups) == 0 {
		return false, err.Error()
	}
	gvr, err := restmapper.NewDiscoveryRESTMapper(groups).ResourceFor(schema.GroupVersionResource{Resource: "users"})
	if err != nil {
		return false, fmt.Sprintf("discovery does not resolve users yet: %v", err)
	}
	if gvr.Group != directoryv1alpha1.GroupName {
		return false, fmt.Sprintf("discovery resolves users to %s, not yet to %s", gvr.GroupResource(), directoryv1alpha1.GroupName)
	}
	return true, ""
}
