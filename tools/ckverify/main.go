// Command ckverify checks resgo checkpoint files and directories, for
// crash-safety tests such as bench/killcampaign.sh.
//
// Usage:
//
//	ckverify [--allow-temps] PATH...
//	ckverify --same A B
//
// For each PATH that is a file, ckverify loads it with checkpoint.Load
// (which validates the whole file), checks that the step in its name
// (<prefix>-<step>.safetensors) equals the step stored in it and that
// every tensor value is finite, and prints "ok PATH step N, T tensors" or
// "BAD PATH: reason". A directory is checked file by file, and may hold
// nothing but checkpoints, the "checkpoint" index file (valid JSON that
// names only files present), a ".lock" file and "previous-*"
// subdirectories (checked the same way); ".tmp-*" files, which a writer
// killed mid-write leaves behind, are accepted only with --allow-temps.
// A directory with no checkpoint prints "ok DIR: no checkpoints".
//
// With --same, ckverify loads two checkpoint files and compares them: the
// same metadata (every key and value), the same tensor names and shapes,
// and the same values bit for bit. It prints the first difference.
//
// The exit status is 0 if everything checked is good (or identical), 1 if
// anything is bad (or differs), 2 on a usage error.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/resgo/resgo/checkpoint"
)

const (
	ext        = ".safetensors"
	tempPrefix = checkpoint.TempPrefix
	lockFile   = checkpoint.LockFile
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ckverify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	for _, a := range args {
		if a == "-h" || a == "-help" || a == "--help" {
			fs.SetOutput(stdout) // asked for: usage on stdout, exit 0
		}
	}
	allowTemps := fs.Bool("allow-temps", false, "accept stale "+tempPrefix+"* files in directories (a killed writer leaves them)")
	same := fs.Bool("same", false, "compare two checkpoint files: metadata, names, shapes and values bit for bit")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage:\n  ckverify [--allow-temps] PATH...   validate checkpoint files and directories\n  ckverify --same A B                compare two checkpoints bit for bit\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *same {
		if fs.NArg() != 2 || *allowTemps {
			fmt.Fprintln(stderr, "ckverify: --same takes exactly two checkpoint files and no other flag")
			return 2
		}
		if err := compare(fs.Arg(0), fs.Arg(1)); err != nil {
			fmt.Fprintf(stdout, "DIFFERENT %s %s: %v\n", fs.Arg(0), fs.Arg(1), err)
			return 1
		}
		fmt.Fprintf(stdout, "same %s %s\n", fs.Arg(0), fs.Arg(1))
		return 0
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	v := verifier{out: stdout, allowTemps: *allowTemps}
	for _, p := range fs.Args() {
		v.path(p)
	}
	if v.bad > 0 {
		return 1
	}
	return 0
}

type verifier struct {
	out        io.Writer
	allowTemps bool
	bad        int
}

func (v *verifier) fail(path, format string, args ...any) {
	v.bad++
	fmt.Fprintf(v.out, "BAD %s: %s\n", path, fmt.Sprintf(format, args...))
}

func (v *verifier) path(p string) {
	fi, err := os.Stat(p)
	if err != nil {
		v.fail(p, "%v", err)
		return
	}
	if fi.IsDir() {
		v.dir(p)
		return
	}
	v.file(p)
}

// dir checks every entry of a checkpoint directory.
func (v *verifier) dir(dir string) {
	des, err := os.ReadDir(dir)
	if err != nil {
		v.fail(dir, "%v", err)
		return
	}
	present := map[string]bool{}
	checkpoints := 0
	hasIndex := false
	for _, de := range des {
		name := de.Name()
		p := filepath.Join(dir, name)
		present[name] = true
		switch {
		case de.IsDir() && strings.HasPrefix(name, "previous-"):
			v.dir(p)
		case de.IsDir():
			v.fail(p, "unexpected directory")
		case !de.Type().IsRegular():
			v.fail(p, "not a regular file (%v)", de.Type())
		case strings.HasPrefix(name, tempPrefix):
			if !v.allowTemps {
				v.fail(p, "stale temp file (a writer was interrupted; pass --allow-temps to accept)")
			}
		case name == lockFile:
		case name == checkpoint.IndexFile:
			hasIndex = true
		case strings.HasSuffix(name, ext):
			checkpoints++
			v.file(p)
		default:
			v.fail(p, "unexpected file in a checkpoint directory")
		}
	}
	if hasIndex {
		v.index(filepath.Join(dir, checkpoint.IndexFile), present)
	}
	if checkpoints == 0 {
		fmt.Fprintf(v.out, "ok %s: no checkpoints\n", dir)
	}
}

// index checks that the index file is JSON and names only files present.
// The store writes it before pruning, so even a writer killed at any
// point leaves an index naming existing files (possibly not the newest).
func (v *verifier) index(path string, present map[string]bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		v.fail(path, "%v", err)
		return
	}
	var idx struct {
		Latest string   `json:"latest"`
		All    []string `json:"all"`
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		v.fail(path, "index is not valid JSON: %v", err)
		return
	}
	for _, n := range append([]string{idx.Latest}, idx.All...) {
		if n != "" && !present[n] {
			v.fail(path, "index names %q, which is not in the directory", n)
			return
		}
	}
}

// file checks one checkpoint file: checkpoint.Load validates the layout,
// the checksum, finite values and the step in the name; ckverify insists
// the name has a step at all.
func (v *verifier) file(path string) {
	if _, ok := checkpoint.StepFromName(path); !ok {
		v.fail(path, "name %q is not <prefix>-<step>%s", filepath.Base(path), ext)
		return
	}
	ck, err := checkpoint.Load(path)
	if err != nil {
		v.fail(path, "%v", err)
		return
	}
	fmt.Fprintf(v.out, "ok %s step %d, %d tensors\n", path, ck.Step, len(ck.Tensors))
}

// compare loads two checkpoints and returns their first difference.
func compare(a, b string) error {
	ca, err := checkpoint.Load(a)
	if err != nil {
		return err
	}
	cb, err := checkpoint.Load(b)
	if err != nil {
		return err
	}
	if ca.Step != cb.Step {
		return fmt.Errorf("step %d != %d", ca.Step, cb.Step)
	}
	if err := sameKeys("metadata", keys(ca.Meta), keys(cb.Meta)); err != nil {
		return err
	}
	for _, k := range sortedKeys(ca.Meta) {
		if ca.Meta[k] != cb.Meta[k] {
			return fmt.Errorf("metadata %q: %q != %q", k, ca.Meta[k], cb.Meta[k])
		}
	}
	if err := sameKeys("tensor", keys(ca.Tensors), keys(cb.Tensors)); err != nil {
		return err
	}
	for _, name := range sortedKeys(ca.Tensors) {
		ta, tb := ca.Tensors[name], cb.Tensors[name]
		if !slices.Equal(ta.Shape, tb.Shape) {
			return fmt.Errorf("tensor %q: shape %v != %v", name, ta.Shape, tb.Shape)
		}
		if len(ta.Data) != len(tb.Data) {
			return fmt.Errorf("tensor %q: %d != %d elements", name, len(ta.Data), len(tb.Data))
		}
		for i := range ta.Data {
			if math.Float32bits(ta.Data[i]) != math.Float32bits(tb.Data[i]) {
				return fmt.Errorf("tensor %q element %d: %v (%#08x) != %v (%#08x)", name, i,
					ta.Data[i], math.Float32bits(ta.Data[i]), tb.Data[i], math.Float32bits(tb.Data[i]))
			}
		}
	}
	return nil
}

// sameKeys reports the first name (in sorted order) present on one side only.
func sameKeys(what string, a, b map[string]bool) error {
	for _, k := range sortedKeys(a) {
		if !b[k] {
			return fmt.Errorf("%s %q only in the first", what, k)
		}
	}
	for _, k := range sortedKeys(b) {
		if !a[k] {
			return fmt.Errorf("%s %q only in the second", what, k)
		}
	}
	return nil
}

func keys[V any](m map[string]V) map[string]bool {
	s := make(map[string]bool, len(m))
	for k := range m {
		s[k] = true
	}
	return s
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
