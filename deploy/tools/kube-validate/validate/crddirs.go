package validate

import (
	"os"
	"path/filepath"
	"strings"
)

// CRDDirs is the repeatable --crds flag of kube-validate and kube-dryrun.
type CRDDirs []string

func (d *CRDDirs) String() string     { return strings.Join(*d, ",") }
func (d *CRDDirs) Set(s string) error { *d = append(*d, s); return nil }

// DefaultCRDDir is the crds/ directory next to the executable (symlinks resolved), where
// scripts/native/build-backends.sh installs the prometheus-operator CRDs; "" when there is none.
func DefaultCRDDir() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	if real, err := filepath.EvalSymlinks(exe); err == nil {
		exe = real
	}
	d := filepath.Join(filepath.Dir(exe), "crds")
	if st, err := os.Stat(d); err == nil && st.IsDir() {
		return d
	}
	return ""
}
