package server

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	iamv1alpha1 "github.com/roster-dev/roster/api/v1alpha1"
	directoryv1alpha1 "github.com/roster-dev/roster/apiserver/apis/directory/v1alpha1"
)

var (
	// Scheme holds the types the directory serves.
	Scheme = runtime.NewScheme()
	// Codecs encodes and decodes the directory's types.
	Codecs = serializer.NewCodecFactory(Scheme)
	// clientScheme holds the types the directory reads and writes in kube-apiserver.
	clientScheme = runtime.NewScheme()
)

func init() {
	utilruntime.Must(directoryv1alpha1.AddToScheme(Scheme))
	metav1.AddToGroupVersion(Scheme, schema.GroupVersion{Version: "v1"})
	Scheme.AddUnversionedTypes(schema.GroupVersion{Group: "", Version: "v1"},
		&metav1.Status{}, &metav1.APIVersions{}, &metav1.APIGroupList{}, &metav1.APIGroup{}, &metav1.APIResourceList{})

	utilruntime.Must(clientgoscheme.AddToScheme(clientScheme))
	utilruntime.Must(iamv1alpha1.AddToScheme(clientScheme))
}
