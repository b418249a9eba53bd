package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

func runVersion(args []string) error {
	fs := newFlagSet("version", "Prints resgo's version (the module version, or the commit it was built from),\nthe Go version, the instruction sets this CPU runs the native kernels in, and what --precision bf16\nruns on.")
	if err := parse(fs, args); err != nil {
		return err
	}
	fmt.Printf("resgo %s\n%s %s/%s, native kernels: %s (default first), backends: %s\n", buildVersion(), runtime.Version(), runtime.GOOS, runtime.GOARCH,
		strings.Join(isaNames(), ", "), strings.Join(backendNames(), ", "))
	bf16 := "AVX512-BF16"
	if bf16Emulated() {
		bf16 = "Go loops (no AVX512-BF16 on this CPU, or none in this build: the same results, many times slower)"
	}
	fmt.Printf("--precision bf16 runs on: %s\n", bf16)
	return nil
}

// buildVersion is the module's version when installed with go install,
// else the commit the binary was built from, when Go recorded it.
func buildVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown version)"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, when, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			when = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = ", with uncommitted changes"
			}
		}
	}
	if rev == "" {
		return "(development build)"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	return fmt.Sprintf("commit %s (%s%s)", rev, when, dirty)
}
