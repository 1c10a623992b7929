// kube-dryrun sends Kubernetes manifests (multi-document YAML, e.g. `helm template` output) to a
// real kube-apiserver as server-side apply with dryRun=All and fieldValidation=Strict, so the API
// server's own type-specific validation judges them: what kube-validate's strict decoding cannot
// see (a Deployment whose selector does not match its template labels, a Service that repeats a
// port). It runs kube-apiserver (k8s.io/kubernetes, the version of this module's go.mod) and an
// embedded etcd (go.etcd.io/etcd/server/v3, the version that Kubernetes release pins) in this one
// process, on 127.0.0.1 ports of its own and a temp dir it removes on every exit path.
//
// Before the dry-run it creates for real what a dry-run cannot create: the namespaces the objects
// name (--namespace for those that name none) and the CustomResourceDefinitions of --crds DIR
// (repeatable) and, unless --no-default-crds, of the crds/ directory next to the executable (the
// prometheus-operator CRDs scripts/native/build-backends.sh installs there), waiting until each is
// Established. It prints "ok Kind/namespace/name" or "error Kind/namespace/name: <the server's
// message>" per object and exits 1 if the server rejects any, 2 on a usage, input or start-up error.
// Progress goes to stderr; the servers' own logs go to the temp dir and their last lines to stderr
// when they fail to start.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"syscall"
	"time"

	"dice-stack/deploy/tools/kube-validate/validate"
	"github.com/spf13/pflag"
	"go.etcd.io/etcd/server/v3/embed"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/apimachinery/pkg/util/wait"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/klog/v2"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
	"k8s.io/kubernetes/cmd/kube-apiserver/app/options"
	"sigs.k8s.io/yaml"
)

const fieldManager = "kube-dryrun"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func progress(stderr io.Writer, format string, args ...any) {
	fmt.Fprintf(stderr, "kube-dryrun: "+format+"\n", args...)
}

// document is one YAML document of the input, sent to the server as it was written (so strict
// field validation sees duplicate keys), with what the report and the request path need.
type document struct {
	raw    []byte
	source string // helm's "# Source:" comment, if any
	obj    *unstructured.Unstructured
}

func (d document) ref(namespace string) string {
	parts := []string{d.obj.GetKind()}
	if namespace != "" {
		parts = append(parts, namespace)
	}
	return strings.Join(append(parts, d.obj.GetName()), "/")
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kube-dryrun", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var crdDirs validate.CRDDirs
	fs.Var(&crdDirs, "crds", "directory of CustomResourceDefinition YAML files to install first (repeatable)")
	noDefault := fs.Bool("no-default-crds", false, "do not install the crds/ directory next to the executable")
	namespace := fs.String("namespace", "default", "namespace of namespaced objects that set none (helm template --namespace)")
	quiet := fs.Bool("quiet", false, "print only the objects the server rejects")
	showVersion := fs.Bool("version", false, "print the Kubernetes and etcd modules it was built with and exit")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: kube-dryrun [--crds DIR]... [--no-default-crds] [--namespace NS] [--quiet] [FILE|-]...")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *showVersion {
		fmt.Fprintln(stdout, version())
		return 0
	}
	if !*noDefault {
		if d := validate.DefaultCRDDir(); d != "" {
			crdDirs = append([]string{d}, crdDirs...)
		}
	}
	var crds [][]byte
	for _, d := range crdDirs {
		files, err := crdFiles(d)
		if err != nil {
			fmt.Fprintf(stderr, "kube-dryrun: CRDs from %s: %v\n", d, err)
			return 2
		}
		crds = append(crds, files...)
	}

	inputs := fs.Args()
	if len(inputs) == 0 {
		inputs = []string{"-"}
	}
	var docs []document
	for _, in := range inputs {
		var data []byte
		var err error
		if in == "-" {
			data, err = io.ReadAll(stdin)
		} else {
			data, err = os.ReadFile(in)
		}
		if err == nil {
			var found []document
			found, err = split(data)
			docs = append(docs, found...)
		}
		if err != nil {
			fmt.Fprintf(stderr, "kube-dryrun: %s: %v\n", in, err)
			return 2
		}
	}
	if len(docs) == 0 {
		fmt.Fprintln(stderr, "kube-dryrun: no objects in the input")
		return 2
	}

	tmp, err := os.MkdirTemp("", "kube-dryrun-")
	if err != nil {
		fmt.Fprintf(stderr, "kube-dryrun: %v\n", err)
		return 2
	}
	defer os.RemoveAll(tmp)

	started := time.Now()
	cfg, stopServers, err := startServers(ctx, tmp, stderr)
	defer stopServers()
	if err != nil {
		fmt.Fprintf(stderr, "kube-dryrun: starting the API server: %v\n", err)
		return 2
	}
	progress(stderr, "kube-apiserver ready on %s after %s", cfg.Host, time.Since(started).Round(100*time.Millisecond))

	failed, err := dryRun(ctx, cfg, docs, crds, *namespace, *quiet, stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "kube-dryrun: %v\n", err)
		return 2
	}
	progress(stderr, "%d objects, %d rejected (%s in all)", len(docs), failed, time.Since(started).Round(100*time.Millisecond))
	if failed > 0 {
		return 1
	}
	return 0
}

// split cuts multi-document YAML into its objects, keeping each document's own bytes; documents
// that hold only comments (helm prints some) are skipped.
func split(data []byte) ([]document, error) {
	reader := k8syaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var docs []document
	for n := 1; ; n++ {
		raw, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", n, err)
		}
		var m map[string]any
		if err := yaml.Unmarshal(raw, &m); err != nil {
			return nil, fmt.Errorf("document %d: %w", n, err)
		}
		if len(m) == 0 {
			continue
		}
		obj := &unstructured.Unstructured{Object: m}
		if obj.GetAPIVersion() == "" || obj.GetKind() == "" || obj.GetName() == "" {
			return nil, fmt.Errorf("document %d: apiVersion, kind and metadata.name are required", n)
		}
		source := ""
		for _, line := range strings.Split(string(raw), "\n") {
			if s, ok := strings.CutPrefix(strings.TrimSpace(line), "# Source: "); ok {
				source = s
				break
			}
		}
		docs = append(docs, document{raw: raw, source: source, obj: obj})
	}
}

// crdFiles reads the .yaml files under dir, its subdirectories included (build-backends.sh
// installs one per operator version: crds/prometheus-operator-vX.Y.Z/).
func crdFiles(dir string) ([][]byte, error) {
	var files [][]byte
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real // WalkDir does not follow a symlinked root
	}
	err := filepath.WalkDir(dir, func(path string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() || !(strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
			return err
		}
		data, err := os.ReadFile(path)
		files = append(files, data)
		return err
	})
	if err == nil && len(files) == 0 {
		err = fmt.Errorf("no .yaml files")
	}
	return files, err
}

// startServers starts etcd and kube-apiserver under tmp and returns a client config of a user in
// system:masters (token authentication over the secure port, as kubectl would connect) and a
// function that stops both and waits for them; it must be called whatever the error.
func startServers(ctx context.Context, tmp string, stderr io.Writer) (*rest.Config, func(), error) {
	var stops []func()
	stopAll := func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
		stops = nil
	}

	// klog (the API server's log) and etcd's zap log go to files: hundreds of lines a start.
	apiserverLog, err := os.Create(filepath.Join(tmp, "kube-apiserver.log"))
	if err != nil {
		return nil, stopAll, err
	}
	stops = append(stops, func() { apiserverLog.Close() })
	klogFlags := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(klogFlags)
	for k, v := range map[string]string{"logtostderr": "false", "alsologtostderr": "false", "stderrthreshold": "FATAL", "one_output": "true"} {
		if err := klogFlags.Set(k, v); err != nil {
			return nil, stopAll, err
		}
	}
	klog.SetOutput(apiserverLog)
	tail := func(what string, path string) error {
		data, _ := os.ReadFile(path)
		lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		if len(lines) > 20 {
			lines = lines[len(lines)-20:]
		}
		fmt.Fprintf(stderr, "kube-dryrun: last lines of the %s log:\n  | %s\n", what, strings.Join(lines, "\n  | "))
		return nil
	}

	progress(stderr, "starting etcd in %s", tmp)
	etcdServer, clientURL, err := startEtcd(filepath.Join(tmp, "etcd"))
	if err != nil {
		tail("etcd", filepath.Join(tmp, "etcd", "etcd.log"))
		return nil, stopAll, fmt.Errorf("etcd: %w", err)
	}
	stops = append(stops, etcdServer.Close)

	token, err := randomHex(16)
	if err != nil {
		return nil, stopAll, err
	}
	tokenFile := filepath.Join(tmp, "tokens.csv")
	if err := os.WriteFile(tokenFile, []byte(token+",kube-dryrun,kube-dryrun,system:masters\n"), 0o600); err != nil {
		return nil, stopAll, err
	}
	saKey := filepath.Join(tmp, "service-account.key")
	if err := writeECKey(saKey); err != nil {
		return nil, stopAll, err
	}
	certDir := filepath.Join(tmp, "certs")

	s := options.NewServerRunOptions()
	flags := pflag.NewFlagSet("kube-apiserver", pflag.ContinueOnError)
	for _, f := range s.Flags().FlagSets {
		flags.AddFlagSet(f)
	}
	// The flags an operator's control plane sets, less what a cluster has and a dry-run needs not:
	// no kubelets, no endpoint reconciling (a loopback address is not a valid endpoint), no
	// authorization (the one user is system:masters anyway). Admission keeps its defaults.
	apiserverArgs := []string{
		"--etcd-servers=" + clientURL,
		"--bind-address=127.0.0.1",
		"--cert-dir=" + certDir,
		"--token-auth-file=" + tokenFile,
		"--authorization-mode=AlwaysAllow",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + saKey,
		"--service-account-signing-key-file=" + saKey,
		"--service-cluster-ip-range=10.96.0.0/16",
		"--endpoint-reconciler-type=none",
	}
	if err := flags.Parse(apiserverArgs); err != nil {
		return nil, stopAll, err
	}
	// A listener of our own on a free port: no race with another process for a port picked earlier.
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, stopAll, err
	}
	s.SecureServing.Listener = listener
	s.SecureServing.BindPort = listener.Addr().(*net.TCPAddr).Port
	if err := s.GenericServerRunOptions.ComponentGlobalsRegistry.Set(); err != nil {
		return nil, stopAll, err
	}

	progress(stderr, "starting kube-apiserver on 127.0.0.1:%d", s.SecureServing.BindPort)
	serverCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	stops = append(stops, func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			fmt.Fprintln(stderr, "kube-dryrun: kube-apiserver did not stop within 30s")
		}
	})
	go func() {
		done <- runAPIServer(serverCtx, s)
	}()

	cfg := &rest.Config{
		Host:        fmt.Sprintf("https://127.0.0.1:%d", s.SecureServing.BindPort),
		BearerToken: token,
		// The serving certificate is self-signed, made at start into the temp dir, and the address
		// is loopback: nothing to verify it against that the server did not make itself.
		TLSClientConfig: rest.TLSClientConfig{Insecure: true},
		QPS:             -1, // no client-side rate limit: one client, a few dozen requests
		Timeout:         30 * time.Second,
	}
	client, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, stopAll, err
	}
	var lastBody string
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		select {
		case err := <-done:
			done <- err // for the stop function
			if err == nil {
				err = errors.New("exited")
			}
			return false, err
		default:
		}
		body, err := client.RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		if err != nil {
			lastBody = string(body)
			return false, nil
		}
		return true, nil
	})
	if err != nil {
		tail("kube-apiserver", apiserverLog.Name())
		if lastBody != "" {
			fmt.Fprintf(stderr, "kube-dryrun: last /readyz answer:\n%s\n", lastBody)
		}
		return nil, stopAll, fmt.Errorf("waiting for /readyz: %w", err)
	}
	return cfg, stopAll, nil
}

// runAPIServer is app.Run (cmd/kube-apiserver/app/server.go, k8s.io/kubernetes v1.37.2) with the
// options parsed above and our context, so it stops when we cancel it instead of on a signal.
func runAPIServer(ctx context.Context, s *options.ServerRunOptions) error {
	completed, err := s.Complete(ctx)
	if err != nil {
		return err
	}
	if errs := completed.Validate(); len(errs) != 0 {
		return utilerrors.NewAggregate(errs)
	}
	return app.Run(ctx, completed)
}

// startEtcd starts a one-member etcd in dir with client and peer URLs on free loopback ports.
func startEtcd(dir string) (*embed.Etcd, string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, "", err
	}
	ports, err := freePorts(2)
	if err != nil {
		return nil, "", err
	}
	clientURL := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", ports[0])}
	peerURL := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", ports[1])}
	cfg := embed.NewConfig()
	cfg.Name = "kube-dryrun"
	cfg.Dir = filepath.Join(dir, "data")
	cfg.ListenClientUrls = []url.URL{clientURL}
	cfg.AdvertiseClientUrls = []url.URL{clientURL}
	cfg.ListenPeerUrls = []url.URL{peerURL}
	cfg.AdvertisePeerUrls = []url.URL{peerURL}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.Logger = "zap"
	cfg.LogLevel = "warn"
	cfg.LogOutputs = []string{filepath.Join(dir, "etcd.log")}
	// a throwaway store: no fsync wait per write
	cfg.UnsafeNoFsync = true
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, "", err
	}
	select {
	case <-e.Server.ReadyNotify():
		return e, clientURL.String(), nil
	case err := <-e.Err():
		e.Close()
		return nil, "", err
	case <-time.After(time.Minute):
		e.Close()
		return nil, "", errors.New("not ready after 1m")
	}
}

// freePorts returns n loopback ports that were free a moment ago (etcd opens its own listeners).
func freePorts(n int) ([]int, error) {
	var ports []int
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// writeECKey writes a new P-256 key, the service-account token signing key the API server requires.
func writeECKey(path string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600)
}

// dryRun installs the CRDs and namespaces for real, then applies every document with dryRun=All
// and reports each; it returns how many the server rejected.
func dryRun(ctx context.Context, cfg *rest.Config, docs []document, crds [][]byte, defaultNamespace string, quiet bool, stdout, stderr io.Writer) (int, error) {
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return 0, err
	}
	disco, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return 0, err
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disco))

	if len(crds) > 0 {
		n, err := installCRDs(ctx, dyn, crds)
		if err != nil {
			return 0, fmt.Errorf("installing the CRDs: %w", err)
		}
		progress(stderr, "%d CRDs installed and Established", n)
		mapper.Reset()
	}

	type target struct {
		doc       document
		resource  dynamic.ResourceInterface
		namespace string
		err       error
	}
	targets := make([]target, len(docs))
	namespaces := map[string]bool{}
	for i, d := range docs {
		gvk := d.obj.GroupVersionKind()
		targets[i].doc = d
		mapping, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			targets[i].err = fmt.Errorf("the API server serves no %s %s: %w", gvk.GroupVersion(), gvk.Kind, err)
			continue
		}
		if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
			ns := d.obj.GetNamespace()
			if ns == "" {
				ns = defaultNamespace
			}
			namespaces[ns] = true
			targets[i].namespace = ns
			targets[i].resource = dyn.Resource(mapping.Resource).Namespace(ns)
		} else {
			targets[i].resource = dyn.Resource(mapping.Resource)
		}
	}
	// A dry-run Namespace is not created, so the objects in it would be refused (NamespaceLifecycle).
	names := make([]string, 0, len(namespaces))
	for ns := range namespaces {
		names = append(names, ns)
	}
	sort.Strings(names)
	nsResource := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"})
	for _, ns := range names {
		obj := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}}}
		if _, err := nsResource.Create(ctx, obj, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return 0, fmt.Errorf("creating namespace %s: %w", ns, err)
		}
	}
	if len(names) > 0 {
		progress(stderr, "namespaces created: %s", strings.Join(names, ", "))
	}

	force := true
	failed := 0
	for _, t := range targets {
		ref := t.doc.ref(t.namespace)
		where := ""
		if t.doc.source != "" {
			where = " (" + t.doc.source + ")"
		}
		err := t.err
		if err == nil {
			_, err = t.resource.Patch(ctx, t.doc.obj.GetName(), types.ApplyPatchType, t.doc.raw, metav1.PatchOptions{
				DryRun:          []string{metav1.DryRunAll},
				FieldManager:    fieldManager,
				FieldValidation: metav1.FieldValidationStrict,
				Force:           &force,
			})
		}
		if err != nil {
			failed++
			fmt.Fprintf(stdout, "error %s%s: %s\n", ref, where, strings.ReplaceAll(err.Error(), "\n", " "))
			continue
		}
		if !quiet {
			fmt.Fprintf(stdout, "ok %s%s\n", ref, where)
		}
	}
	return failed, nil
}

// installCRDs creates every CustomResourceDefinition of the files and waits until each is Established.
func installCRDs(ctx context.Context, dyn dynamic.Interface, files [][]byte) (int, error) {
	crdResource := dyn.Resource(schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"})
	var names []string
	for _, data := range files {
		docs, err := split(data)
		if err != nil {
			return 0, err
		}
		for _, d := range docs {
			if d.obj.GetKind() != "CustomResourceDefinition" {
				continue
			}
			if _, err := crdResource.Create(ctx, d.obj, metav1.CreateOptions{FieldValidation: metav1.FieldValidationStrict}); err != nil {
				return 0, fmt.Errorf("%s: %w", d.obj.GetName(), err)
			}
			names = append(names, d.obj.GetName())
		}
	}
	for _, name := range names {
		err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			crd, err := crdResource.Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			conditions, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
			for _, c := range conditions {
				if m, ok := c.(map[string]any); ok && m["type"] == "Established" && m["status"] == "True" {
					return true, nil
				}
			}
			return false, nil
		})
		if err != nil {
			return 0, fmt.Errorf("%s not Established: %w", name, err)
		}
	}
	return len(names), nil
}

// version names the Kubernetes and etcd modules linked in, e.g.
// "kube-dryrun k8s.io/kubernetes v1.37.2, go.etcd.io/etcd/server/v3 v3.7.0".
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "kube-dryrun (no build info)"
	}
	var mods []string
	for _, d := range info.Deps {
		switch d.Path {
		case "k8s.io/kubernetes", "go.etcd.io/etcd/server/v3":
			mods = append(mods, d.Path+" "+d.Version)
		}
	}
	return "kube-dryrun " + strings.Join(mods, ", ")
}
