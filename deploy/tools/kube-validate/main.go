// kube-validate checks Kubernetes manifests (multi-document YAML, e.g. `helm template` output) as a
// kube-apiserver would decode and validate them on create, without a server; see package validate
// for what is and is not checked. It prints one line per object, "ok Kind/namespace/name" or
// "error Kind/namespace/name: ...", and exits 1 if any object fails, 2 on a usage or input error.
//
// Custom resource kinds come from CRD files: --crds DIR (repeatable) and, unless --no-default-crds,
// the crds/ directory next to the executable, where scripts/native/build-backends.sh installs the
// prometheus-operator CRDs of the version in .env.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"dice-stack/deploy/tools/kube-validate/validate"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kube-validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var crdDirs validate.CRDDirs
	fs.Var(&crdDirs, "crds", "directory of CustomResourceDefinition YAML files to load (repeatable)")
	noDefault := fs.Bool("no-default-crds", false, "do not load the crds/ directory next to the executable")
	namespace := fs.String("namespace", "default", "namespace of namespaced custom resources that set none (as the request's)")
	quiet := fs.Bool("quiet", false, "print only the objects that fail")
	listKinds := fs.Bool("list-crds", false, "print the loaded custom resource kinds and exit")
	showVersion := fs.Bool("version", false, "print the Kubernetes modules it was built with and exit")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: kube-validate [--crds DIR]... [--no-default-crds] [--namespace NS] [--quiet] [FILE|-]...")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *showVersion {
		fmt.Fprintln(stdout, version())
		return 0
	}
	v := validate.New()
	v.Namespace = *namespace
	if !*noDefault {
		if d := validate.DefaultCRDDir(); d != "" {
			crdDirs = append([]string{d}, crdDirs...)
		}
	}
	for _, d := range crdDirs {
		n, err := v.LoadCRDDir(d)
		if err != nil {
			fmt.Fprintf(stderr, "kube-validate: loading CRDs from %s: %v\n", d, err)
			return 2
		}
		fmt.Fprintf(stderr, "kube-validate: %d CRDs from %s\n", n, d)
	}
	if *listKinds {
		for _, k := range v.KnownCustomKinds() {
			fmt.Fprintln(stdout, k)
		}
		return 0
	}
	inputs := fs.Args()
	if len(inputs) == 0 {
		inputs = []string{"-"}
	}
	failed, total := 0, 0
	for _, in := range inputs {
		var data []byte
		var err error
		if in == "-" {
			data, err = io.ReadAll(stdin)
		} else {
			data, err = os.ReadFile(in)
		}
		if err != nil {
			fmt.Fprintf(stderr, "kube-validate: %v\n", err)
			return 2
		}
		results, err := v.ValidateStream(data)
		if err != nil {
			fmt.Fprintf(stderr, "kube-validate: %s: %v\n", in, err)
			return 2
		}
		for _, r := range results {
			total++
			where := ""
			if r.Source != "" {
				where = " (" + r.Source + ")"
			}
			if r.OK() {
				if !*quiet {
					fmt.Fprintf(stdout, "ok %s%s\n", r.Ref, where)
				}
				continue
			}
			failed++
			for _, e := range r.Errors {
				fmt.Fprintf(stdout, "error %s%s: %s\n", r.Ref, where, e)
			}
		}
	}
	fmt.Fprintf(stderr, "kube-validate: %d objects, %d invalid\n", total, failed)
	if total == 0 {
		fmt.Fprintln(stderr, "kube-validate: no objects in the input")
		return 2
	}
	if failed > 0 {
		return 1
	}
	return 0
}

// version names the k8s.io modules linked in (from the build info), e.g.
// "kube-validate k8s.io/api v0.37.2, k8s.io/apiextensions-apiserver v0.37.2".
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "kube-validate (no build info)"
	}
	var mods []string
	for _, d := range info.Deps {
		switch d.Path {
		case "k8s.io/api", "k8s.io/apimachinery", "k8s.io/apiextensions-apiserver", "k8s.io/client-go":
			mods = append(mods, d.Path+" "+d.Version)
		}
	}
	return "kube-validate " + strings.Join(mods, ", ")
}
