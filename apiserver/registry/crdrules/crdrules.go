// Package crdrules validates objects of Roster's CRDs inside the directory
// exactly as kube-apiserver validates them: the CRD's structural OpenAPI
// schema, its list-type invariants and its CEL rules (x-kubernetes-validations),
// with validation ratcheting on update. The schema is the CRD manifest itself,
// embedded from config/crd/bases, so the directory's rules and the CRD's
// cannot drift apart.
package crdrules

import (
	"context"
	"fmt"

	"k8s.io/apiextensions-apiserver/pkg/apihelpers"
	apiextensionsinternal "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apiextensions-apiserver/pkg/registry/customresource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	"github.com/roster-dev/roster/config"
)

// Validator validates one version of one CRD.
type Validator struct {
	kind       schema.GroupVersionKind
	structural *structuralschema.Structural
	strategy   interface {
		Validate(ctx context.Context, obj runtime.Object) field.ErrorList
		ValidateUpdate(ctx context.Context, obj, old runtime.Object) field.ErrorList
	}
}

// New builds the validator of the CRD named crdName (users.iam.roster.dev) at
// version, from the manifest embedded in the binary.
func New(crdName, version string) (*Validator, error) {
	manifest, err := config.CRD(crdName)
	if err != nil {
		return nil, err
	}
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := yaml.UnmarshalStrict(manifest, crd); err != nil {
		return nil, fmt.Errorf("reading the CRD %s: %w", crdName, err)
	}
	v1Schema, err := apihelpers.GetSchemaForVersion(crd, version)
	if err != nil || v1Schema == nil {
		return nil, fmt.Errorf("the CRD %s has no schema for %s: %v", crdName, version, err)
	}
	internal := &apiextensionsinternal.CustomResourceValidation{}
	if err := apiextensionsv1.Convert_v1_CustomResourceValidation_To_apiextensions_CustomResourceValidation(v1Schema, internal, nil); err != nil {
		return nil, fmt.Errorf("converting the schema of %s: %w", crdName, err)
	}
	structural, err := structuralschema.NewStructural(internal.OpenAPIV3Schema)
	if err != nil {
		return nil, fmt.Errorf("the schema of %s is not structural: %w", crdName, err)
	}
	schemaValidator, _, err := apiservervalidation.NewSchemaValidator(internal.OpenAPIV3Schema)
	if err != nil {
		return nil, fmt.Errorf("compiling the schema of %s: %w", crdName, err)
	}
	kind := schema.GroupVersionKind{Group: crd.Spec.Group, Version: version, Kind: crd.Spec.Names.Kind}
	return &Validator{
		kind:       kind,
		structural: structural,
		strategy: customresource.NewStrategy(unstructuredTyper{}, crd.Spec.Scope == apiextensionsv1.NamespaceScoped,
			kind, schemaValidator, nil, structural, nil, nil, nil),
	}, nil
}

// Validate checks obj, a typed object of the CRD's kind, as kube-apiserver
// would on a create (old == nil) or an update from old. Errors name the CRD's
// fields (spec.email).
func (v *Validator) Validate(ctx context.Context, obj, old runtime.Object) (field.ErrorList, error) {
	u, err := v.Unstructured(obj)
	if err != nil {
		return nil, err
	}
	var uOld *unstructured.Unstructured
	if old != nil {
		if uOld, err = v.Unstructured(old); err != nil {
			return nil, err
		}
	}
	return v.ValidateUnstructured(ctx, u, uOld), nil
}

// ValidateUnstructured checks u as kube-apiserver would on a create (old ==
// nil) or an update from old.
func (v *Validator) ValidateUnstructured(ctx context.Context, u, old *unstructured.Unstructured) field.ErrorList {
	if old == nil {
		return v.strategy.Validate(ctx, u)
	}
	return v.strategy.ValidateUpdate(ctx, u, old)
}

// Unstructured converts obj, a typed object of the CRD's kind, to what
// kube-apiserver validates: its JSON with the schema's defaults applied, as
// kube-apiserver applies them when it decodes a request.
func (v *Validator) Unstructured(obj runtime.Object) (*unstructured.Unstructured, error) {
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, fmt.Errorf("converting a %s to check it: %w", v.kind.Kind, err)
	}
	u := &unstructured.Unstructured{Object: content}
	u.SetGroupVersionKind(v.kind)
	structuraldefaulting.Default(u.Object, v.structural)
	return u, nil
}

// unstructuredTyper names unstructured objects by their own apiVersion and kind.
type unstructuredTyper struct{}

func (unstructuredTyper) ObjectKinds(obj runtime.Object) ([]schema.GroupVersionKind, bool, error) {
	return []schema.GroupVersionKind{obj.GetObjectKind().GroupVersionKind()}, false, nil
}

func (unstructuredTyper) Recognizes(schema.GroupVersionKind) bool { return true }
