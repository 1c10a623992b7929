// compose-check loads docker-compose.yml the way `docker compose config` does (the same
// compose-go project loader: .env, interpolation, schema validation, normalization, consistency
// checks, resolved paths) and prints the normalized project, or the errors and exit status 1.
// Machines without a Docker engine (the tests, CI) use it to check the compose file.
//
// Extra arguments are YAML files (tempo.yaml, loki.yaml) to check strictly: no tabs, parseable,
// no duplicate keys, which their services would otherwise reject only at container start.
//
// Usage: compose-check [-f docker-compose.yml] [--env-file FILE]... [-q] [YAML_FILE...]
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"go.yaml.in/yaml/v4"
)

const composeGo = "github.com/compose-spec/compose-go/v2"

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("compose-check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var files stringList
	fs.Var(&files, "f", "compose file (repeatable: later files override earlier ones, as docker compose -f); the first one's directory is the project directory (default docker-compose.yml)")
	var envFiles stringList
	fs.Var(&envFiles, "env-file", "env file (repeatable); default: .env in the project directory, as docker compose")
	quiet := fs.Bool("q", false, "print only errors and the summary, not the normalized config")
	if err := fs.Parse(args); err != nil {
		return 2
	}

	if len(files) == 0 {
		files = stringList{"docker-compose.yml"}
	}
	named := strings.Join(files, " + ")

	failed := false
	if err := checkCompose(files, envFiles, *quiet, stdout); err != nil {
		fmt.Fprintf(stderr, "compose-check: %s: %v\n", named, err)
		failed = true
	} else {
		fmt.Fprintf(stderr, "compose-check: %s: valid (compose-go %s)\n", named, composeGoVersion())
	}
	for _, path := range fs.Args() {
		if err := checkYAML(path); err != nil {
			fmt.Fprintf(stderr, "compose-check: %s: %v\n", path, err)
			failed = true
		} else {
			fmt.Fprintf(stderr, "compose-check: %s: valid YAML, no tabs, no duplicate keys\n", path)
		}
	}
	if failed {
		return 1
	}
	return 0
}

// checkCompose mirrors the option set of `docker compose config`: OS environment over the env
// file(s), interpolation, normalization and consistency on, paths resolved against the project
// directory, profiles from COMPOSE_PROFILES. Schema validation is the loader's default.
func checkCompose(files []string, envFiles []string, quiet bool, stdout io.Writer) error {
	abs := make([]string, len(files))
	for i, file := range files {
		a, err := filepath.Abs(file)
		if err != nil {
			return err
		}
		abs[i] = a
	}
	opts, err := cli.NewProjectOptions(abs,
		cli.WithWorkingDirectory(filepath.Dir(abs[0])),
		cli.WithOsEnv,
		cli.WithEnvFiles(envFiles...),
		cli.WithDotEnv,
		cli.WithDefaultProfiles(),
		cli.WithInterpolation(true),
		cli.WithNormalization(true),
		cli.WithConsistency(true),
		cli.WithResolvedPaths(true),
	)
	if err != nil {
		return err
	}
	project, err := opts.LoadProject(context.Background())
	if err != nil {
		return err
	}
	out, err := project.MarshalYAML()
	if err != nil {
		return err
	}
	if !quiet {
		_, err = stdout.Write(out)
	}
	return err
}

// checkYAML rejects tabs anywhere (YAML forbids them in indentation, and a tab elsewhere in these
// configs is a typo), then decodes every document into generic maps, which fails on duplicate keys.
func checkYAML(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var problems []string
	for i, line := range bytes.Split(data, []byte("\n")) {
		if bytes.IndexByte(line, '\t') >= 0 {
			problems = append(problems, fmt.Sprintf("line %d: tab character", i+1))
		}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	docs := 0
	for {
		var doc any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			problems = append(problems, err.Error())
			break
		}
		docs++
		if _, ok := doc.(map[string]any); !ok {
			problems = append(problems, fmt.Sprintf("document %d: top level is %T, want a mapping", docs, doc))
		}
	}
	if docs == 0 && len(problems) == 0 {
		problems = append(problems, "no YAML document")
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

func composeGoVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == composeGo {
				return dep.Version
			}
		}
	}
	return "unknown"
}
