package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/resgo/resgo/checkpoint"
	"github.com/resgo/resgo/internal/atomicfile"
	"github.com/resgo/resgo/interop"
	"github.com/resgo/resgo/model"
	"github.com/resgo/resgo/train"
)

func runExport(args []string) error {
	fs := newFlagSet("export", "Writes a checkpoint's model in another format for other tools to run. --format onnx:\n"+
		"an ONNX model (IR 8, opset 13) with input \"input\" [N, C, H, W] (N dynamic) and output\n"+
		"\"logits\" [N, classes]; the class names, preprocessing and step go in its metadata.\n"+
		"The moving-average weights by default (what eval and predict use).")
	var (
		cf          checkpointFlags
		ckPath, out string
		format      string
		raw         bool
	)
	cf.register(fs)
	fs.StringVar(&ckPath, "checkpoint", "", "a checkpoint file to export instead of the newest in --checkpoint-dir")
	fs.StringVar(&format, "format", "onnx", "the format to write: onnx")
	fs.StringVar(&out, "o", "", "the file to write (default: the checkpoint's name with the format's extension, in the current directory)")
	fs.BoolVar(&raw, "raw", false, "export the raw weights instead of their moving averages")
	if err := parse(fs, args); err != nil {
		return err
	}
	if format != "onnx" {
		return fmt.Errorf("--format %q: the one format written is onnx", format)
	}
	ck, err := findCheckpoint(&checkpoint.Store{Dir: cf.dir, Prefix: cf.prefix}, ckPath)
	if err != nil {
		return err
	}
	mc, err := train.ModelConfig(ck)
	if err != nil {
		return err
	}
	be, err := (&backendFlags{name: "native", threads: 1}).open()
	if err != nil {
		return err
	}
	m, err := model.Build(be, mc)
	if err != nil {
		return fmt.Errorf("%s: %w", ck.Path, err)
	}
	if err := train.LoadWeights(be, m, ck, !raw); err != nil {
		return err
	}
	if out == "" {
		out = strings.TrimSuffix(filepath.Base(ck.Path), filepath.Ext(ck.Path)) + ".onnx"
	}
	meta := map[string]string{"step": strconv.FormatInt(ck.Step, 10), "source": filepath.Base(ck.Path), "model": ck.Meta["model"]}
	weights := "moving-average"
	if raw {
		weights = "raw"
	}
	meta["weights"] = weights
	for _, k := range []string{"labels", "preprocessing"} {
		if v, ok := ck.Meta[k]; ok {
			meta[k] = v
		}
	}
	if strings.HasSuffix(out, ".safetensors") {
		return fmt.Errorf("-o %s: that is a checkpoint's name; an ONNX file is written (-o model.onnx)", out)
	}
	dir, name := filepath.Split(out)
	if dir == "" {
		dir = "."
	}
	if fi, err := os.Stat(out); err == nil && fi.IsDir() {
		return fmt.Errorf("-o %s: is a directory", out)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	// Atomic: a file of the same name is replaced only by a complete one.
	err = atomicfile.Write(dir, name, "."+name+".tmp-", func(w io.Writer) error {
		return interop.ExportONNX(be, m, w, interop.ONNXOptions{Version: buildVersion(), Metadata: meta})
	})
	if err != nil {
		return fmt.Errorf("%s: %w", out, err)
	}
	logf("wrote %s: %s (step %d, %s weights), input [N, %d, %d, %d], output [N, %d]", out, mc.Arch, ck.Step, weights,
		mc.Input[0], mc.Input[1], mc.Input[2], mc.Classes)
	return nil
}
