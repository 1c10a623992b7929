// Package validate checks Kubernetes manifests (for example `helm template` output) the way a
// kube-apiserver decodes and validates a create request, without a server:
//
//   - built-in kinds: strict decoding (unknown and duplicate fields are errors, as with
//     `kubectl apply --validate=strict` / fieldValidation=Strict) into the k8s.io/api types that
//     client-go's scheme registers for the apiVersion/kind; the group/version must be one a
//     kube-apiserver of the target version serves by default; object metadata is validated with
//     k8s.io/apimachinery's ObjectMeta rules.
//   - custom resources: the request path of k8s.io/apiextensions-apiserver for the CRD's served
//     version: unknown fields found by structural pruning (customresource_handler.go, unstructured
//     DefaultConverter) are errors, then the registry strategy's Validate (OpenAPI v3 schema,
//     embedded resources, list-type invariants, x-kubernetes-validations CEL rules).
//   - CustomResourceDefinitions: apiextensions' own CRD validation; a CRD in the input also makes its
//     custom resources known to the objects after it.
//
// What it cannot see without the API server's per-type validation (k8s.io/kubernetes/pkg/apis/*/
// validation): semantic rules of built-in kinds, such as a Deployment selector that does not match
// its template labels.
package validate

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	apiextensionsinternal "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsinstall "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/install"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	crdvalidation "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/validation"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	schemaobjectmeta "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/objectmeta"
	structuralpruning "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apiextensions-apiserver/pkg/registry/customresource"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/util/validation/field"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"
)

// KubeVersion is the kube-apiserver release whose served APIs are checked (a removed or
// off-by-default group/version is an error). k8s.io/api v0.37.x is Kubernetes 1.37.
type KubeVersion struct{ Major, Minor int }

var DefaultKubeVersion = KubeVersion{1, 37}

// Result is the verdict on one object of the input.
type Result struct {
	// Ref is Kind/namespace/name (Kind/name when no namespace is set), or "document N" when the
	// document could not be read far enough to name it.
	Ref string
	// Source is the "# Source:" comment helm template writes above each document, if any.
	Source string
	Errors []string
}

func (r Result) OK() bool { return len(r.Errors) == 0 }

// Validator holds the known custom resource kinds and the target Kubernetes version.
type Validator struct {
	Kube KubeVersion
	// Namespace is given to namespaced custom resources without metadata.namespace, as the API server
	// takes it from the request path (helm template leaves it out unless a chart sets it).
	Namespace string

	scheme  *runtime.Scheme
	strict  *json.Serializer
	crdConv *runtime.Scheme
	crds    map[schema.GroupVersionKind]*customKind
	crdFrom map[schema.GroupKind]string
}

type customKind struct {
	namespaced bool
	structural *structuralschema.Structural
	strategy   interface {
		Validate(ctx context.Context, obj runtime.Object) field.ErrorList
	}
}

// New returns a validator that knows the built-in kinds of client-go's scheme plus
// apiextensions.k8s.io (CustomResourceDefinition).
func New() *Validator {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := apiextensionsv1.AddToScheme(s); err != nil {
		panic(err)
	}
	conv := runtime.NewScheme()
	apiextensionsinstall.Install(conv)
	return &Validator{
		Kube:      DefaultKubeVersion,
		Namespace: "default",
		scheme:    s,
		strict: json.NewSerializerWithOptions(json.DefaultMetaFactory, s, s,
			json.SerializerOptions{Yaml: false, Pretty: false, Strict: true}),
		crdConv: conv,
		crds:    map[schema.GroupVersionKind]*customKind{},
		crdFrom: map[schema.GroupKind]string{},
	}
}

// LoadCRDDir loads every CustomResourceDefinition in the *.yaml, *.yml and *.json files under dir
// (recursively) and returns how many it loaded.
func (v *Validator) LoadCRDDir(dir string) (int, error) {
	n := 0
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		ext := strings.ToLower(filepath.Ext(path))
		if d.IsDir() || (ext != ".yaml" && ext != ".yml" && ext != ".json") {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		docs, err := splitDocuments(data)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		for i, doc := range docs {
			if doc.empty {
				continue
			}
			crd, errs := v.decodeCRD(doc.data)
			if len(errs) == 0 {
				errs = v.AddCRD(crd, path)
			}
			if len(errs) > 0 {
				return fmt.Errorf("%s (document %d): %s", path, i+1, strings.Join(errs, "; "))
			}
			n++
		}
		return nil
	})
	return n, err
}

func (v *Validator) decodeCRD(data []byte) (*apiextensionsv1.CustomResourceDefinition, []string) {
	js, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return nil, []string{err.Error()}
	}
	obj, gvk, err := v.strict.Decode(js, nil, nil)
	if err != nil {
		return nil, []string{err.Error()}
	}
	crd, ok := obj.(*apiextensionsv1.CustomResourceDefinition)
	if !ok {
		return nil, []string{fmt.Sprintf("expected apiextensions.k8s.io/v1 CustomResourceDefinition, got %s", gvk)}
	}
	return crd, nil
}

// AddCRD validates crd as the API server would on create and makes its served versions known.
func (v *Validator) AddCRD(crd *apiextensionsv1.CustomResourceDefinition, from string) []string {
	v.scheme.Default(crd) // the API server applies the v1 defaults before converting
	internal := &apiextensionsinternal.CustomResourceDefinition{}
	if err := v.crdConv.Convert(crd, internal, nil); err != nil {
		return []string{fmt.Sprintf("converting the CRD: %v", err)}
	}
	if errs := crdvalidation.ValidateCustomResourceDefinition(context.Background(), internal); len(errs) > 0 {
		return fieldErrors(errs)
	}
	gk := schema.GroupKind{Group: internal.Spec.Group, Kind: internal.Spec.Names.Kind}
	if prev, ok := v.crdFrom[gk]; ok && prev != from {
		return []string{fmt.Sprintf("%s is already defined by %s", gk, prev)}
	}
	v.crdFrom[gk] = from
	namespaced := internal.Spec.Scope == apiextensionsinternal.NamespaceScoped
	for _, ver := range internal.Spec.Versions {
		if !ver.Served {
			continue
		}
		gvk := schema.GroupVersionKind{Group: gk.Group, Version: ver.Name, Kind: gk.Kind}
		val, err := apiextensionsinternal.GetSchemaForVersion(internal, ver.Name)
		if err != nil || val == nil || val.OpenAPIV3Schema == nil {
			return []string{fmt.Sprintf("%s: no OpenAPI v3 schema", gvk)}
		}
		structural, err := structuralschema.NewStructural(val.OpenAPIV3Schema)
		if err != nil {
			return []string{fmt.Sprintf("%s: schema is not structural: %v", gvk, err)}
		}
		schemaValidator, _, err := apiservervalidation.NewSchemaValidator(val.OpenAPIV3Schema)
		if err != nil {
			return []string{fmt.Sprintf("%s: %v", gvk, err)}
		}
		var statusValidator apiservervalidation.SchemaValidator
		subs, _ := apiextensionsinternal.GetSubresourcesForVersion(internal, ver.Name)
		var status *apiextensionsinternal.CustomResourceSubresourceStatus
		var scale *apiextensionsinternal.CustomResourceSubresourceScale
		if subs != nil {
			status, scale = subs.Status, subs.Scale
		}
		if status != nil {
			if s, ok := val.OpenAPIV3Schema.Properties["status"]; ok {
				statusValidator, _, err = apiservervalidation.NewSchemaValidator(&s)
				if err != nil {
					return []string{fmt.Sprintf("%s status: %v", gvk, err)}
				}
			}
		}
		var selectable []apiextensionsv1.SelectableField
		for _, cv := range crd.Spec.Versions {
			if cv.Name == ver.Name {
				selectable = cv.SelectableFields
			}
		}
		strategy := customresource.NewStrategy(v.scheme, namespaced, gvk, schemaValidator, statusValidator,
			structural, status, scale, selectable)
		v.crds[gvk] = &customKind{namespaced: namespaced, structural: structural, strategy: strategy}
	}
	return nil
}

// KnownCustomKinds lists the loaded custom resource group/version/kinds, sorted.
func (v *Validator) KnownCustomKinds() []string {
	var out []string
	for gvk := range v.crds {
		out = append(out, gvk.GroupVersion().String()+" "+gvk.Kind)
	}
	sort.Strings(out)
	return out
}

type document struct {
	data   []byte
	source string
	empty  bool
}

var sourceComment = regexp.MustCompile(`(?m)^# Source: (.+)$`)

func splitDocuments(data []byte) ([]document, error) {
	reader := utilyaml.NewYAMLReader(bufioReader(data))
	var docs []document
	for {
		chunk, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return docs, err
		}
		d := document{data: chunk}
		if m := sourceComment.FindSubmatch(chunk); m != nil {
			d.source = string(m[1])
		}
		js, err := yaml.YAMLToJSON(chunk)
		d.empty = err == nil && (len(bytes.TrimSpace(js)) == 0 || string(bytes.TrimSpace(js)) == "null")
		docs = append(docs, d)
	}
}

// ValidateStream validates every document of a multi-document YAML stream, in order: a
// CustomResourceDefinition in the stream applies to the documents after it.
func (v *Validator) ValidateStream(data []byte) ([]Result, error) {
	docs, err := splitDocuments(data)
	if err != nil {
		return nil, fmt.Errorf("reading the YAML stream: %w", err)
	}
	var results []Result
	for i, doc := range docs {
		if doc.empty {
			continue
		}
		r := v.validateDocument(doc.data)
		for i, e := range r.Errors {
			// one line per problem: yaml's multi-line messages ("unmarshal errors:\n  line 8: ...")
			r.Errors[i] = strings.Join(strings.Fields(e), " ")
		}
		r.Source = doc.source
		if r.Ref == "" {
			r.Ref = fmt.Sprintf("document %d", i+1)
		}
		results = append(results, r)
	}
	return results, nil
}

func (v *Validator) validateDocument(data []byte) Result {
	var r Result
	// Duplicate keys are errors (YAMLToJSONStrict), as for the API server's strict field validation.
	js, strictErr := yaml.YAMLToJSONStrict(data)
	if strictErr != nil {
		// name the object from a lenient read, then report the strict error
		if lenient, err := yaml.YAMLToJSON(data); err == nil {
			js = lenient
		}
	}
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"metadata"`
	}
	if err := yaml.Unmarshal(js, &head); err != nil {
		r.Errors = append(r.Errors, fmt.Sprintf("not a Kubernetes object: %v", err))
		return r
	}
	r.Ref = ref(head.Kind, head.Metadata.Namespace, head.Metadata.Name)
	if strictErr != nil {
		r.Errors = append(r.Errors, fmt.Sprintf("strict decoding error: %v", strictErr))
		return r
	}
	if head.APIVersion == "" || head.Kind == "" {
		r.Errors = append(r.Errors, "apiVersion and kind are required")
		return r
	}
	gv, err := schema.ParseGroupVersion(head.APIVersion)
	if err != nil {
		r.Errors = append(r.Errors, fmt.Sprintf("apiVersion: %v", err))
		return r
	}
	gvk := gv.WithKind(head.Kind)

	if ck, ok := v.crds[gvk]; ok {
		r.Errors = v.validateCustom(js, gvk, ck)
		return r
	}
	if !v.scheme.Recognizes(gvk) {
		msg := fmt.Sprintf("unknown kind %s: neither a built-in kind of Kubernetes %d.%d (k8s.io/api) nor a loaded CRD",
			gvk.GroupVersion().String()+" "+gvk.Kind, v.Kube.Major, v.Kube.Minor)
		if other := v.customVersions(gvk.GroupKind()); len(other) > 0 {
			msg += fmt.Sprintf(" (the CRD serves %s)", strings.Join(other, ", "))
		}
		r.Errors = append(r.Errors, msg)
		return r
	}
	obj, _, err := v.strict.Decode(js, nil, nil)
	if err != nil {
		// A strict decoding error lists every unknown or duplicate field with its path.
		r.Errors = append(r.Errors, err.Error())
		return r
	}
	r.Errors = append(r.Errors, v.servedErrors(gvk, obj)...)
	r.Errors = append(r.Errors, metadataErrors(obj, gvk)...)
	if crd, ok := obj.(*apiextensionsv1.CustomResourceDefinition); ok && len(r.Errors) == 0 {
		r.Errors = append(r.Errors, v.AddCRD(crd, "input "+r.Ref)...)
	}
	return r
}

func (v *Validator) customVersions(gk schema.GroupKind) []string {
	var out []string
	for gvk := range v.crds {
		if gvk.GroupKind() == gk {
			out = append(out, gvk.GroupVersion().String())
		}
	}
	sort.Strings(out)
	return out
}

// validateCustom mirrors the create path of a custom resource in k8s.io/apiextensions-apiserver
// v0.37: unstructuredDefaulter/DefaultConverter prune unknown fields (reported as errors under
// fieldValidation=Strict), ObjectMeta is coerced, then customResourceStrategy.Validate runs.
func (v *Validator) validateCustom(js []byte, gvk schema.GroupVersionKind, ck *customKind) []string {
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(js); err != nil {
		return []string{err.Error()}
	}
	var errs []string
	_, _, metaUnknown, err := schemaobjectmeta.GetObjectMetaWithOptions(u.Object, schemaobjectmeta.ObjectMetaOptions{ReturnUnknownFieldPaths: true})
	if err != nil {
		return []string{fmt.Sprintf("metadata: %v", err)}
	}
	unknown := append([]string{}, metaUnknown...)
	unknown = append(unknown, structuralpruning.PruneWithOptions(u.Object, ck.structural, true,
		structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})...)
	ferr, paths := schemaobjectmeta.CoerceWithOptions(nil, u.Object, ck.structural, false,
		schemaobjectmeta.CoerceOptions{ReturnUnknownFieldPaths: true})
	if ferr != nil {
		errs = append(errs, ferr.Error())
	}
	unknown = append(unknown, paths...)
	sort.Strings(unknown)
	for _, p := range unknown {
		errs = append(errs, fmt.Sprintf("strict decoding error: unknown field %q", p))
	}
	if ck.namespaced && u.GetNamespace() == "" {
		u.SetNamespace(v.Namespace)
	}
	errs = append(errs, fieldErrors(ck.strategy.Validate(context.Background(), u))...)
	return errs
}

type lifecycle interface {
	APILifecycleIntroduced() (major, minor int)
}
type removed interface {
	APILifecycleRemoved() (major, minor int)
}

// servedErrors: is this group/version served by default by the target kube-apiserver? k8s.io/api
// keeps types of versions the server no longer serves (extensions/v1beta1, ...). The rules mirror
// the API server: an API is not served from its APILifecycleRemoved release on
// (staging/src/k8s.io/apiserver/pkg/registry/rest/... via prerelease-lifecycle-gen), alpha APIs are
// off by default, and beta APIs introduced in 1.24 or later are off by default (KEP-3136).
func (v *Validator) servedErrors(gvk schema.GroupVersionKind, obj runtime.Object) []string {
	var errs []string
	if rm, ok := obj.(removed); ok {
		if maj, min := rm.APILifecycleRemoved(); before(maj, min, v.Kube) {
			errs = append(errs, fmt.Sprintf("%s %s is no longer served since Kubernetes %d.%d",
				gvk.GroupVersion(), gvk.Kind, maj, min))
			return errs
		}
	}
	switch {
	case strings.Contains(gvk.Version, "alpha"):
		errs = append(errs, fmt.Sprintf("%s is an alpha API, off by default in kube-apiserver", gvk.GroupVersion()))
	case strings.Contains(gvk.Version, "beta"):
		if in, ok := obj.(lifecycle); ok {
			if maj, min := in.APILifecycleIntroduced(); !before(maj, min, KubeVersion{1, 24}) {
				errs = append(errs, fmt.Sprintf("%s %s is a beta API introduced in %d.%d: off by default since 1.24 (KEP-3136)",
					gvk.GroupVersion(), gvk.Kind, maj, min))
			}
		}
	}
	return errs
}

func before(major, minor int, k KubeVersion) bool {
	return major < k.Major || (major == k.Major && minor <= k.Minor)
}

// metadataErrors applies the ObjectMeta rules every built-in kind shares
// (k8s.io/apimachinery/pkg/api/validation ValidateObjectMeta: name, generateName, labels,
// annotations, owner references, finalizers). The namespace requirement is left out: the scope of a
// built-in kind is the server's (a RESTMapper) and helm template omits the namespace anyway.
// Names: DNS-1123 subdomain, except the kinds whose validation in k8s.io/kubernetes
// pkg/apis/core/validation uses a DNS-1123/1035 label (Namespace, Service).
func metadataErrors(obj runtime.Object, gvk schema.GroupVersionKind) []string {
	accessor, ok := obj.(interface {
		GetName() string
		GetNamespace() string
		GetLabels() map[string]string
		GetAnnotations() map[string]string
	})
	if !ok {
		return nil
	}
	nameFn := apimachineryvalidation.NameIsDNSSubdomain
	if gvk.Group == "" {
		switch gvk.Kind {
		case "Service":
			nameFn = apimachineryvalidation.NameIsDNS1035Label
		case "Namespace":
			nameFn = apimachineryvalidation.NameIsDNSLabel
		}
	}
	var errs field.ErrorList
	md := field.NewPath("metadata")
	if accessor.GetName() == "" {
		errs = append(errs, field.Required(md.Child("name"), "name is required"))
	} else {
		for _, msg := range nameFn(accessor.GetName(), false) {
			errs = append(errs, field.Invalid(md.Child("name"), accessor.GetName(), msg))
		}
	}
	if ns := accessor.GetNamespace(); ns != "" {
		for _, msg := range apimachineryvalidation.ValidateNamespaceName(ns, false) {
			errs = append(errs, field.Invalid(md.Child("namespace"), ns, msg))
		}
	}
	errs = append(errs, metav1validation.ValidateLabels(accessor.GetLabels(), md.Child("labels"))...)
	errs = append(errs, apimachineryvalidation.ValidateAnnotations(accessor.GetAnnotations(), md.Child("annotations"))...)
	return fieldErrors(errs)
}

func fieldErrors(errs field.ErrorList) []string {
	out := make([]string, 0, len(errs))
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

func ref(kind, namespace, name string) string {
	if kind == "" {
		kind = "?"
	}
	if name == "" {
		name = "?"
	}
	if namespace == "" {
		return kind + "/" + name
	}
	return kind + "/" + namespace + "/" + name
}

func bufioReader(data []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(data)) }
