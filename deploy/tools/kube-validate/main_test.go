package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestOutputAndExitStatus(t *testing.T) {
	in := `apiVersion: v1
kind: ConfigMap
metadata: {name: ok-one, namespace: dice}
data: {a: b}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: bad-one}
dataa: {a: b}
`
	var out, errOut bytes.Buffer
	rc := run([]string{"--no-default-crds", "-"}, strings.NewReader(in), &out, &errOut)
	if rc != 1 {
		t.Errorf("exit %d, want 1\n%s%s", rc, out.String(), errOut.String())
	}
	want := "ok ConfigMap/dice/ok-one\nerror ConfigMap/bad-one: strict decoding error: unknown field \"dataa\"\n"
	if out.String() != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", out.String(), want)
	}

	out.Reset()
	if rc := run([]string{"--no-default-crds", "--quiet", "-"}, strings.NewReader(strings.SplitN(in, "---", 2)[0]), &out, &errOut); rc != 0 || out.Len() != 0 {
		t.Errorf("a valid object: exit %d, stdout %q; want 0 and nothing", rc, out.String())
	}
	if rc := run([]string{"--no-default-crds", "-"}, strings.NewReader("# nothing\n"), &out, &errOut); rc != 2 {
		t.Errorf("empty input: exit %d, want 2 (an empty render is a mistake, not a pass)", rc)
	}
}
