package main

import (
	"errors"
	"fmt"
	"log"
	"net"
	"os"
	"strings"
	"time"

	"github.com/resgo/resgo/predict"
	"github.com/resgo/resgo/serve"
)

func runServe(args []string) error {
	fs := newFlagSet("serve", "Serves a checkpoint over HTTP with KServe's v2 routes: POST an image (raw body, multipart\n"+
		"form, or base64 in a v2 JSON request) to /v2/models/NAME/infer for its top classes;\n"+
		"/v2/health/live, /v2/health/ready, /v2/models/NAME and Prometheus /metrics besides.\n"+
		"Concurrent requests are joined into one forward pass. Ctrl-C or SIGTERM stops taking\n"+
		"connections and finishes the requests in flight.")
	var (
		bf       backendFlags
		cf       checkpointFlags
		ckPath   string
		addr     string
		name     string
		maxBatch int
		maxWait  time.Duration
		maxBody  int64
		topK     int
		watch    time.Duration
		drain    time.Duration
		raw      bool
		prep     string
	)
	bf.register(fs)
	bf.inference = true
	cf.register(fs)
	fs.StringVar(&ckPath, "checkpoint", "", "a checkpoint file to serve instead of the newest in --checkpoint-dir")
	fs.StringVar(&addr, "addr", "127.0.0.1:8080", "address to listen on (host:port; :8080 for every interface)")
	fs.StringVar(&name, "name", "", "the model's name in the routes (default: the checkpoint name's first word, e.g. mnist)")
	fs.IntVar(&maxBatch, "max-batch", 64, "most images joined into one forward pass")
	fs.DurationVar(&maxWait, "max-wait", 5*time.Millisecond, "longest a forward pass waits for requests still being read or prepared to join it (a lone request does not wait)")
	fs.Int64Var(&maxBody, "max-body", 8<<20, "largest request body in bytes (larger: 413)")
	fs.IntVar(&topK, "top-k", 5, "classes returned per image (a request's ?top_k= overrides)")
	fs.DurationVar(&watch, "watch", 0, "look for a newer checkpoint in --checkpoint-dir this often and swap it in (0: never)")
	fs.DurationVar(&drain, "drain", 30*time.Second, "on shutdown, how long requests in flight may take to finish")
	fs.BoolVar(&raw, "raw", false, "serve the raw weights instead of their moving averages")
	fs.StringVar(&prep, "preprocess", "auto", "how images are prepared: auto (digit for 1x28x28 models, else resize), digit or resize")
	if err := parse(fs, args); err != nil {
		return err
	}
	p, err := predict.ParsePreprocessing(prep)
	if err != nil {
		return fmt.Errorf("--preprocess: %w", err)
	}
	switch {
	case maxBatch < 1 || maxBatch > predict.MaxBatch:
		return fmt.Errorf("--max-batch %d: must be from 1 to %d", maxBatch, predict.MaxBatch)
	case maxWait < 0:
		return fmt.Errorf("--max-wait %s: must not be negative", maxWait)
	case maxBody < 1:
		return fmt.Errorf("--max-body %d: must be positive", maxBody)
	case topK < 1:
		return fmt.Errorf("--top-k %d: must be positive", topK)
	case watch < 0:
		return fmt.Errorf("--watch %s: must not be negative", watch)
	case drain <= 0:
		return fmt.Errorf("--drain %s: must be positive", drain)
	case watch != 0 && ckPath != "":
		return errors.New("--watch follows --checkpoint-dir; it cannot be combined with --checkpoint")
	case watch != 0 && bf.int8():
		return errors.New("--watch swaps in the checkpoints training writes, which have no int8 calibration: serve an int8 copy (resgo quantize) with --checkpoint")
	}
	src := ckPath
	if src == "" {
		src = cf.dir
	}
	if name == "" {
		name, _, _ = strings.Cut(cf.prefix, "_")
	}
	if maxWait == 0 {
		maxWait = time.Nanosecond // no waiting (zero would take the default)
	}
	be, err := bf.open()
	if err != nil {
		return err
	}
	s, err := serve.New(serve.Config{
		Checkpoint: src, Name: name, MaxBatch: maxBatch, MaxWait: maxWait, MaxBodyBytes: maxBody, TopK: topK, Watch: watch,
		Options: predict.Options{Backend: be, Raw: raw, Int8: bf.int8(), Preprocessing: p, Prefix: cf.prefix, MaxBatch: maxBatch},
		Log:     log.New(os.Stderr, "resgo: ", log.LstdFlags),
	})
	if err != nil {
		return err
	}
	defer s.Close()
	if watch == 0 {
		// Nothing will come to load later: a checkpoint that does not
		// load is an error now, not a server that is never ready.
		if _, err := s.Load(); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--addr %s: %w", addr, err)
	}
	mode := ""
	if bf.int8() {
		mode = ", int8 convolutions"
	}
	logf("listening on http://%s (model %q%s: POST images to /v2/models/%s/infer)", ln.Addr(), name, mode, name)
	ctx, stop := interruptContext()
	defer stop()
	return s.Run(ctx, ln, drain)
}
