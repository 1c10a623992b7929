package validate

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// crdDir finds the prometheus-operator CRDs the way scripts/native/build-backends.sh installs them:
// $KUBE_VALIDATE_CRDS, else the Go module at PROMETHEUS_OPERATOR_VERSION from the repository's .env
// (go mod download: from the module cache, or the proxy once).
func crdDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("KUBE_VALIDATE_CRDS"); d != "" {
		return d
	}
	version := envVersion(t, "PROMETHEUS_OPERATOR_VERSION")
	cmd := exec.Command("go", "mod", "download", "-json", "github.com/prometheus-operator/prometheus-operator@v"+version)
	cmd.Env = append(os.Environ(), "GOFLAGS=", "GOWORK=off")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go mod download prometheus-operator v%s: %v\n%s", version, err, out)
	}
	var mod struct{ Dir, Error string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		t.Fatalf("go mod download: %v %s", err, mod.Error)
	}
	return filepath.Join(mod.Dir, "example", "prometheus-operator-crd")
}

func envVersion(t *testing.T, key string) string {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "..", "..", ".env"))
	if err != nil {
		t.Fatalf("reading the repository's .env: %v", err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(strings.TrimSpace(s.Text()), key+"="); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("%s not in .env", key)
	return ""
}

func newValidator(t *testing.T) *Validator {
	t.Helper()
	v := New()
	n, err := v.LoadCRDDir(crdDir(t))
	if err != nil {
		t.Fatal(err)
	}
	if n < 8 {
		t.Fatalf("loaded %d prometheus-operator CRDs, expected at least 8", n)
	}
	return v
}

func validateFile(t *testing.T, v *Validator, name string) []Result {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	results, err := v.ValidateStream(data)
	if err != nil {
		t.Fatal(err)
	}
	return results
}

func TestValidManifestsPass(t *testing.T) {
	v := newValidator(t)
	results := validateFile(t, v, "deployment-valid.yaml")
	want := []string{"Deployment/dice-api", "PrometheusRule/dice-slo", "ServiceMonitor/dice-api"}
	if len(results) != len(want) {
		t.Fatalf("got %d results, want %d: %+v", len(results), len(want), results)
	}
	for i, r := range results {
		if r.Ref != want[i] || !r.OK() {
			t.Errorf("result %d: got %s %v, want %s with no error", i, r.Ref, r.Errors, want[i])
		}
	}
}

// Each fixture is the valid one with a single mistake; the error must name the object and the
// offending field (or the reason), so a chart author can find it.
func TestRejects(t *testing.T) {
	v := newValidator(t)
	cases := []struct {
		file, ref string
		want      []string // substrings, all in one of the object's errors
	}{
		{"deployment-unknown-field.yaml", "Deployment/dice-api", []string{`unknown field "spec.template.spec.containers[0].imagePulPolicy"`}},
		{"deployment-wrong-type.yaml", "Deployment/dice-api", []string{"spec.replicas", "int32"}},
		{"deployment-duplicate-field.yaml", "Deployment/dice-api", []string{`"replicas"`, "already set"}},
		{"prometheusrule-unknown-field.yaml", "PrometheusRule/dice-slo", []string{`unknown field "spec.groups[0].rules[0].forr"`}},
		{"prometheusrule-schema.yaml", "PrometheusRule/dice-slo", []string{"spec.groups[0].name", "Required"}},
		{"prometheusrule-schema.yaml", "PrometheusRule/dice-slo", []string{"spec.groups[0].interval", "should match"}},
		{"unknown-kind.yaml", "DiceTable/table", []string{"unknown kind dice.example.com/v1 DiceTable"}},
		{"removed-api.yaml", "Deployment/dice-api", []string{"extensions/v1beta1 Deployment is no longer served since Kubernetes 1.16"}},
		{"service-bad-name.yaml", "Service/dice.api", []string{"metadata.name", "DNS-1035"}},
		{"prometheusagent-cel.yaml", "PrometheusAgent/agent", []string{"replicas cannot be set when mode is DaemonSet"}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			results := validateFile(t, v, c.file)
			if len(results) != 1 {
				t.Fatalf("got %d results, want 1", len(results))
			}
			r := results[0]
			if r.Ref != c.ref {
				t.Errorf("ref %q, want %q", r.Ref, c.ref)
			}
			if r.OK() {
				t.Fatalf("%s passed; want an error containing %q", c.file, c.want)
			}
			if !anyContainsAll(r.Errors, c.want) {
				t.Errorf("no error contains all of %q:\n%s", c.want, strings.Join(r.Errors, "\n"))
			}
		})
	}
}

func TestCRDInTheStreamDefinesItsKind(t *testing.T) {
	v := New()
	results := validateFile(t, v, "crd-with-cr.yaml")
	if len(results) != 3 {
		t.Fatalf("got %d results: %+v", len(results), results)
	}
	if !results[0].OK() || !results[1].OK() {
		t.Fatalf("the CRD and the valid Die must pass: %+v", results[:2])
	}
	if !anyContainsAll(results[2].Errors, []string{"spec.sides", "less than or equal to 120"}) ||
		!anyContainsAll(results[2].Errors, []string{"a die has an even number of sides"}) {
		t.Errorf("Die/d121: want the maximum and the CEL rule to fail, got:\n%s", strings.Join(results[2].Errors, "\n"))
	}
	// Without the CRD the kind is unknown: the CRD, not a lenient default, made it pass.
	data, _ := os.ReadFile(filepath.Join("testdata", "crd-with-cr.yaml"))
	docs := strings.SplitN(string(data), "\n---\n", 2)
	results, err := New().ValidateStream([]byte(docs[1]))
	if err != nil {
		t.Fatal(err)
	}
	if results[0].OK() || !anyContainsAll(results[0].Errors, []string{"unknown kind games.example.com/v1 Die"}) {
		t.Errorf("Die without its CRD: %+v", results[0])
	}
}

func anyContainsAll(errs []string, subs []string) bool {
	for _, e := range errs {
		ok := true
		for _, s := range subs {
			ok = ok && strings.Contains(e, s)
		}
		if ok {
			return true
		}
	}
	return false
}
