package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/resgo/resgo/checkpoint"
	"github.com/resgo/resgo/predict"
)

// Config configures a server; see New for the defaults of zero values.
type Config struct {
	// Checkpoint is a checkpoint file, or a directory whose newest good
	// checkpoint is served.
	Checkpoint string
	// Name is the model's name in the routes (/v2/models/{Name}/infer).
	Name string
	// Options load the model (backend, raw weights, preprocessing, the
	// checkpoints' prefix in a directory).
	Options predict.Options
	// MaxBatch images are joined into one forward pass at most: those
	// queued, then those of requests still being read or prepared, for
	// at most MaxWait (defaults 64 and 5 ms; zero values take the
	// defaults throughout). A lone request does not wait.
	MaxBatch int
	MaxWait  time.Duration
	// MaxBodyBytes bounds a request's body (default 8 MiB): past it, 413.
	MaxBodyBytes int64
	// TopK classes are returned for each image (default 5).
	TopK int
	// Watch, when positive, looks for a newer checkpoint in the directory
	// this often and swaps it in (Checkpoint must be a directory).
	Watch time.Duration
	// Log receives status lines; nil means the standard logger.
	Log *log.Logger
}

// loaded is a model being served.
type loaded struct {
	c    *predict.Classifier
	path string
	step int64
}

// Server answers inference requests. New starts its batcher; Run loads
// the model and serves until its context ends. To serve Handler from an
// http.Server of your own, call Load (or LoadAndWatch), and Close when
// done.
type Server struct {
	cfg         Config
	model       atomic.Pointer[loaded]
	loadErr     atomic.Pointer[error]
	batcher     *batcher
	stopBatcher context.CancelFunc
	batcherDone chan struct{}
	metrics     *metrics
	mux         *http.ServeMux
	// preparing bounds the images decoded and prepared at once.
	preparing chan struct{}
}

// New makes a server; it is not ready until Load succeeds.
func New(cfg Config) (*Server, error) {
	if cfg.Checkpoint == "" {
		return nil, errors.New("serve: no checkpoint given")
	}
	if cfg.Name == "" {
		cfg.Name = "model"
	}
	if cfg.MaxBatch == 0 {
		cfg.MaxBatch = 64
	}
	if cfg.MaxWait == 0 {
		cfg.MaxWait = 5 * time.Millisecond
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = 8 << 20
	}
	if cfg.TopK == 0 {
		cfg.TopK = 5
	}
	if cfg.Log == nil {
		cfg.Log = log.Default()
	}
	if cfg.Options.MaxBatch == 0 {
		// Passes are no larger than the batcher makes them, and memory
		// is checked for that size.
		cfg.Options.MaxBatch = cfg.MaxBatch
	}
	switch {
	case cfg.MaxBatch < 1 || cfg.MaxBatch > predict.MaxBatch:
		return nil, fmt.Errorf("serve: maximum batch %d: must be from 1 to %d", cfg.MaxBatch, predict.MaxBatch)
	case cfg.MaxWait < 0:
		return nil, fmt.Errorf("serve: maximum wait %s: must not be negative", cfg.MaxWait)
	case cfg.MaxBodyBytes < 1:
		return nil, fmt.Errorf("serve: maximum body %d bytes: must be positive", cfg.MaxBodyBytes)
	case cfg.TopK < 1:
		return nil, fmt.Errorf("serve: top-k %d: must be positive", cfg.TopK)
	case cfg.Watch < 0:
		return nil, fmt.Errorf("serve: watch interval %s: must not be negative", cfg.Watch)
	}
	s := &Server{cfg: cfg, metrics: newMetrics(), preparing: make(chan struct{}, runtime.NumCPU()), batcherDone: make(chan struct{})}
	s.batcher = &batcher{jobs: make(chan *job, 4*cfg.MaxBatch), maxBatch: cfg.MaxBatch, maxWait: cfg.MaxWait, metrics: s.metrics}
	var bctx context.Context
	bctx, s.stopBatcher = context.WithCancel(context.Background())
	go func() { defer close(s.batcherDone); s.batcher.run(bctx) }()
	s.routes()
	return s, nil
}

// Close stops the batcher: requests still waiting are answered with an
// error. Call it after the HTTP server has stopped.
func (s *Server) Close() {
	s.stopBatcher()
	<-s.batcherDone
}

// Handler is the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.mux }

// Run loads the model (and, with Watch, keeps looking for newer ones) in
// the background and serves on ln until ctx is cancelled; then it stops
// taking connections, lets requests in flight finish (up to drain), and
// returns.
func (s *Server) Run(ctx context.Context, ln net.Listener, drain time.Duration) error {
	wctx, stopWatching := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); s.LoadAndWatch(wctx) }()
	srv := &http.Server{
		Handler:           s.mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          s.cfg.Log,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	var err error
	select {
	case err = <-errc:
	case <-ctx.Done():
		s.cfg.Log.Printf("shutting down: finishing the requests in flight (up to %s)", drain)
		sctx, cancel := context.WithTimeout(context.Background(), drain)
		err = srv.Shutdown(sctx)
		cancel()
		if err != nil {
			srv.Close() // the drain ran out: cut the rest
			err = fmt.Errorf("requests still running after the %s drain were cut off: %w", drain, err)
		}
	}
	stopWatching()
	wg.Wait()
	s.Close()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// LoadAndWatch loads the model, then with Watch looks for a newer
// checkpoint every interval until ctx is done. A failed first load
// leaves the server unready (and is retried at each interval when
// watching); a failed reload keeps the model being served.
func (s *Server) LoadAndWatch(ctx context.Context) {
	if s.current() == nil {
		s.Load()
	}
	if s.cfg.Watch <= 0 {
		return
	}
	t := time.NewTicker(s.cfg.Watch)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.Load()
		}
	}
}

// Load reads the checkpoint (the newest good one in a directory) and
// serves it, unless it is the one already served. It reports whether a
// new model was swapped in, and why loading failed.
func (s *Server) Load() (bool, error) {
	cur := s.model.Load()
	if cur != nil && s.newest() == cur.path {
		return false, nil // nothing newer: no need to read it again
	}
	c, err := predict.Load(s.cfg.Checkpoint, s.cfg.Options)
	if err != nil {
		s.metrics.reloads.WithLabelValues("error").Inc()
		if cur == nil {
			s.loadErr.Store(&err)
		}
		s.cfg.Log.Printf("loading %s: %v", s.cfg.Checkpoint, err)
		return false, err
	}
	if cur != nil && cur.path == c.Path && cur.step == c.Step {
		return false, nil
	}
	s.model.Store(&loaded{c: c, path: c.Path, step: c.Step})
	s.loadErr.Store(nil)
	s.metrics.reloads.WithLabelValues("ok").Inc()
	s.metrics.modelStep.Set(float64(c.Step))
	s.cfg.Log.Printf("serving %s (step %d) as %q", c.Path, c.Step, s.cfg.Name)
	return true, nil
}

// newest names the newest checkpoint file of a directory (its name holds
// its step), or "" when Checkpoint is a file or the directory cannot be
// listed.
func (s *Server) newest() string {
	if fi, err := os.Stat(s.cfg.Checkpoint); err != nil || !fi.IsDir() {
		return ""
	}
	e, ok, err := (&checkpoint.Store{Dir: s.cfg.Checkpoint, Prefix: s.cfg.Options.Prefix}).Latest()
	if err != nil || !ok {
		return ""
	}
	return e.Path
}

// current is the model being served, or nil before the first load.
func (s *Server) current() *loaded { return s.model.Load() }

// classify prepares nothing: it queues prepared inputs for the batcher
// and waits for their answers (or for the caller to give up).
func (s *Server) classify(ctx context.Context, m *loaded, a *arrival, inputs []float32, n int) ([][]predict.Prediction, error) {
	j := &job{m: m, inputs: inputs, n: n, queued: time.Now(), done: make(chan jobResult, 1), counted: true}
	s.metrics.queueDepth.Add(float64(n))
	select {
	case s.batcher.jobs <- j:
		a.sent = true // the batcher counts it off as it takes the job
	case <-ctx.Done():
		s.metrics.queueDepth.Sub(float64(n))
		return nil, ctx.Err()
	}
	select {
	case r := <-j.done:
		return r.preds, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// httpError is an error with the status code it is answered with.
type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

func errorf(code int, format string, a ...any) error {
	return &httpError{code: code, msg: fmt.Sprintf(format, a...)}
}

// statusRecorder remembers the status code a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.code = code
	r.ResponseWriter.WriteHeader(code)
}

// counted wraps a handler so that its requests are counted by route and
// status code.
func (s *Server) counted(route string, h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		if err := h(rec, r); err != nil {
			code := http.StatusInternalServerError
			var he *httpError
			var mbe *http.MaxBytesError
			switch {
			case errors.As(err, &he):
				code = he.code
			case errors.As(err, &mbe):
				code = http.StatusRequestEntityTooLarge
				err = fmt.Errorf("request body larger than %d bytes", mbe.Limit)
			case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
				code = statusClientClosed // counted, but the client is gone
			case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
				code = http.StatusServiceUnavailable
			}
			writeJSON(rec, code, map[string]string{"error": err.Error()})
		}
		s.metrics.requests.WithLabelValues(route, strconv.Itoa(rec.code)).Inc()
	})
}

// statusClientClosed counts requests whose client went away before the
// answer (nginx's convention; nothing is sent).
const statusClientClosed = 499

// writeJSON encodes v first, so that a value that cannot be encoded is a
// 500 rather than a 200 with an empty body.
func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code = http.StatusInternalServerError
		b, _ = json.Marshal(map[string]string{"error": "encoding the answer: " + err.Error()})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n')) // the client may be gone; nothing to do then
}

func (s *Server) routes() {
	s.mux = http.NewServeMux()
	s.mux.Handle("GET /v2/health/live", s.counted("live", func(w http.ResponseWriter, r *http.Request) error {
		writeJSON(w, http.StatusOK, map[string]bool{"live": true})
		return nil
	}))
	ready := s.counted("ready", s.ready)
	s.mux.Handle("GET /v2/health/ready", ready)
	s.mux.Handle("GET /v2/models/{name}/ready", s.counted("model_ready", s.withModel(s.ready)))
	s.mux.Handle("GET /v2", s.counted("server_metadata", func(w http.ResponseWriter, r *http.Request) error {
		writeJSON(w, http.StatusOK, map[string]any{"name": "resgo", "version": "v2", "extensions": []string{}})
		return nil
	}))
	s.mux.Handle("GET /v2/models/{name}", s.counted("model_metadata", s.withModel(s.metadata)))
	s.mux.Handle("POST /v2/models/{name}/infer", s.counted("infer", s.withModel(s.infer)))
	// Other methods get a JSON 405 too (the mux's own is plain text).
	s.mux.Handle("/v2/models/{name}/infer", s.counted("infer", func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Allow", "POST")
		return errorf(http.StatusMethodNotAllowed, "%s: use POST", r.Method)
	}))
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{}))
	s.mux.Handle("GET /{$}", s.counted("page", s.page))
}

// withModel answers 404 for a name that is not the model's.
func (s *Server) withModel(h func(http.ResponseWriter, *http.Request) error) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		if name := r.PathValue("name"); name != s.cfg.Name {
			return errorf(http.StatusNotFound, "unknown model %q (this server serves %q)", name, s.cfg.Name)
		}
		return h(w, r)
	}
}

func (s *Server) ready(w http.ResponseWriter, r *http.Request) error {
	if m := s.current(); m != nil {
		writeJSON(w, http.StatusOK, map[string]any{"ready": true, "model_version": strconv.FormatInt(m.step, 10)})
		return nil
	}
	reason := "the model is loading"
	if e := s.loadErr.Load(); e != nil {
		reason = "the model failed to load: " + (*e).Error()
	}
	writeJSON(w, http.StatusServiceUnavailable, map[string]any{"ready": false, "error": reason})
	return nil
}

// errNotReady answers requests that need a model before one is loaded.
var errNotReady = errorf(http.StatusServiceUnavailable, "the model is not loaded yet (see /v2/health/ready)")

func (s *Server) metadata(w http.ResponseWriter, r *http.Request) error {
	m := s.current()
	if m == nil {
		return errNotReady
	}
	in := m.c.Input
	writeJSON(w, http.StatusOK, map[string]any{
		"name": s.cfg.Name, "versions": []string{strconv.FormatInt(m.step, 10)}, "platform": "resgo",
		"inputs": []tensorMeta{
			{Name: "input", Datatype: "FP32", Shape: []int64{-1, int64(in[0]), int64(in[1]), int64(in[2])}},
			{Name: "image", Datatype: "BYTES", Shape: []int64{-1}},
		},
		"outputs": []tensorMeta{
			{Name: "probabilities", Datatype: "FP32", Shape: []int64{-1, int64(len(m.c.Labels))}},
			{Name: "label", Datatype: "BYTES", Shape: []int64{-1}},
		},
		"parameters": map[string]any{"labels": m.c.Labels, "preprocessing": m.c.Prep, "checkpoint": m.path},
	})
	return nil
}

type tensorMeta struct {
	Name     string  `json:"name"`
	Datatype string  `json:"datatype"`
	Shape    []int64 `json:"shape"`
}

// readBody reads a request's body up to the size limit (413 past it).
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	return io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
}
