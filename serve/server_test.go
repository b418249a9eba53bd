package serve

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/resgo/resgo/backend/native"
	"github.com/resgo/resgo/checkpoint"
	"github.com/resgo/resgo/predict"
)

const testModel = "../testdata/models/mnist_d8_model-2000.safetensors"

func digit(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("../testdata/digits", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newServer(t *testing.T, cfg Config) *Server {
	t.Helper()
	if cfg.Checkpoint == "" {
		cfg.Checkpoint = testModel
	}
	cfg.Name = "mnist"
	cfg.Options.Backend = native.New(2)
	cfg.Log = log.New(io.Discard, "", 0)
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// do sends a request to the handler and returns the status and the body.
func do(t *testing.T, h http.Handler, method, path, contentType string, body []byte) (int, string) {
	t.Helper()
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

func TestRoutesAndErrors(t *testing.T) {
	s := newServer(t, Config{MaxBodyBytes: 64 << 10})
	h := s.Handler()

	// Before the model is loaded: live, not ready; inference refused.
	if code, _ := do(t, h, "GET", "/v2/health/live", "", nil); code != 200 {
		t.Errorf("live: %d", code)
	}
	for _, path := range []string{"/v2/health/ready", "/v2/models/mnist/ready"} {
		if code, body := do(t, h, "GET", path, "", nil); code != 503 || !strings.Contains(body, "loading") {
			t.Errorf("%s before loading: %d %s", path, code, body)
		}
	}
	if code, _ := do(t, h, "POST", "/v2/models/mnist/infer", "image/png", digit(t, "3-pen.png")); code != 503 {
		t.Errorf("infer before loading: %d", code)
	}
	if ok, err := s.Load(); !ok || err != nil {
		t.Fatalf("not loaded: %v", err)
	}
	if code, body := do(t, h, "GET", "/v2/health/ready", "", nil); code != 200 || !strings.Contains(body, `"2000"`) {
		t.Errorf("ready: %d %s", code, body)
	}
	if code, body := do(t, h, "GET", "/v2/models/mnist", "", nil); code != 200 || !strings.Contains(body, `"versions":["2000"]`) || !strings.Contains(body, `[-1,1,28,28]`) {
		t.Errorf("metadata: %d %s", code, body)
	}

	// Images: raw, multipart (a batch), base64 in v2 JSON.
	code, body := do(t, h, "POST", "/v2/models/mnist/infer?top_k=2", "image/png", digit(t, "3-pen.png"))
	var ans imageAnswer
	if err := json.Unmarshal([]byte(body), &ans); code != 200 || err != nil || ans.ModelVersion != "2000" || len(ans.Predictions) != 1 ||
		len(ans.Predictions[0]) != 2 || ans.Predictions[0][0].Label != "3" {
		t.Fatalf("raw image: %d %s", code, body)
	}
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	for _, f := range []string{"4-chalk.png", "9-photo.jpg"} {
		fw, _ := mw.CreateFormFile("image", f)
		fw.Write(digit(t, f))
	}
	mw.Close()
	code, body = do(t, h, "POST", "/v2/models/mnist/infer", mw.FormDataContentType(), form.Bytes())
	ans = imageAnswer{}
	if err := json.Unmarshal([]byte(body), &ans); code != 200 || err != nil || len(ans.Predictions) != 2 ||
		ans.Predictions[0][0].Label != "4" || ans.Predictions[1][0].Label != "9" || ans.Files[1] != "9-photo.jpg" {
		t.Fatalf("multipart: %d %s", code, body)
	}
	v2 := fmt.Sprintf(`{"id":"req-1","inputs":[{"name":"image","datatype":"BYTES","shape":[1],"data":[%q]}]}`,
		base64.StdEncoding.EncodeToString(digit(t, "5-pen.png")))
	code, body = do(t, h, "POST", "/v2/models/mnist/infer", "application/json", []byte(v2))
	var resp inferResponse
	if err := json.Unmarshal([]byte(body), &resp); code != 200 || err != nil || resp.ID != "req-1" || len(resp.Outputs) != 2 ||
		resp.Outputs[1].Data.([]any)[0] != "5" {
		t.Fatalf("v2 BYTES: %d %s", code, body)
	}
	// Prepared inputs as an FP32 tensor, flat.
	c, _ := predict.Load(testModel, predict.Options{})
	img, _ := predict.Decode(digit(t, "8-pen.png"), "8")
	x, _ := c.Prepare(img)
	data, _ := json.Marshal(x)
	code, body = do(t, h, "POST", "/v2/models/mnist/infer", "application/json",
		[]byte(`{"inputs":[{"name":"input","datatype":"FP32","shape":[1,1,28,28],"data":`+string(data)+`}]}`))
	if code != 200 || !strings.Contains(body, `"data":["8"]`) {
		t.Fatalf("v2 FP32: %d %s", code, body)
	}

	// Bad requests: the right status and a JSON error, and the server goes on.
	for _, c := range []struct {
		method, path, ctype string
		body                []byte
		code                int
		want                string
	}{
		{"POST", "/v2/models/mnist/infer", "image/png", []byte("not a png"), 400, "not an image"},
		{"POST", "/v2/models/mnist/infer", "image/png", bytes.Repeat([]byte{1}, 65<<10), 413, "larger than"},
		{"POST", "/v2/models/mnist/infer", "text/plain", []byte("7"), 415, "Content-Type"},
		{"POST", "/v2/models/mnist/infer", "application/json", []byte(`{"inputs":[]}`), 400, "exactly one input"},
		{"POST", "/v2/models/mnist/infer", "application/json", []byte(`{"inputs":[{"name":"input","datatype":"FP32","shape":[1,3,28,28],"data":[1]}]}`), 400, "shape"},
		{"POST", "/v2/models/mnist/infer", "application/json", []byte(`{"inputs":[{"name":"input","datatype":"FP32","shape":[1,1,28,28],"data":[1,2]}]}`), 400, "numbers"},
		{"POST", "/v2/models/mnist/infer", "application/json", []byte(`{"inputs":[{"name":"image","datatype":"BYTES","shape":[1],"data":["@@@"]}]}`), 400, "base64"},
		{"POST", "/v2/models/mnist/infer", "application/json", []byte(`{"inputs":`), 400, "v2 inference request"},
		{"POST", "/v2/models/mnist/infer?top_k=0", "image/png", digit(t, "1-pen.png"), 400, "top_k"},
		{"POST", "/v2/models/other/infer", "image/png", digit(t, "1-pen.png"), 404, "unknown model"},
		{"GET", "/v2/models/mnist/infer", "", nil, 405, "use POST"},
		{"POST", "/v2/models/mnist/infer", "application/json", []byte(`{"inputs":[{"name":"input","datatype":"FP32","shape":[1,1,28,28],"data":[3e38]}]}`), 400, "out of range"},
	} {
		code, body := do(t, h, c.method, c.path, c.ctype, c.body)
		if code != c.code || !strings.Contains(body, c.want) {
			t.Errorf("%s %s (%s): %d %s, want %d %q", c.method, c.path, c.ctype, code, body, c.code, c.want)
		}
		if c.want != "" && !json.Valid([]byte(body)) {
			t.Errorf("%s: error body is not JSON: %s", c.path, body)
		}
	}
	if code, body := do(t, h, "GET", "/metrics", "", nil); code != 200 || !strings.Contains(body, `resgo_http_requests_total{code="413",route="infer"} 1`) ||
		!strings.Contains(body, "resgo_batch_size_bucket") || !strings.Contains(body, "resgo_queue_duration_seconds") ||
		!strings.Contains(body, "resgo_inference_duration_seconds") || !strings.Contains(body, "resgo_queue_depth 0") ||
		!strings.Contains(body, "resgo_model_step 2000") || !strings.Contains(body, "process_resident_memory_bytes") {
		t.Errorf("metrics: %d\n%s", code, body)
	}
}

// A model that fails to load leaves the server unready, saying why.
func TestFailedLoadStaysUnready(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "mnist_model-1.safetensors")
	os.WriteFile(bad, []byte("junk"), 0o644)
	s := newServer(t, Config{Checkpoint: bad})
	if ok, err := s.Load(); ok || err == nil {
		t.Fatal("loaded junk")
	}
	code, body := do(t, s.Handler(), "GET", "/v2/health/ready", "", nil)
	if code != 503 || !strings.Contains(body, "failed to load") || !strings.Contains(body, "mnist_model-1.safetensors") {
		t.Errorf("%d %s", code, body)
	}
}

// TestBatching: requests on their way (being read) when a pass could
// start are waited for and joined into one forward pass, and each caller
// gets the answer for its own image.
func TestBatching(t *testing.T) {
	s := newServer(t, Config{MaxBatch: 8, MaxWait: 2 * time.Second})
	if _, err := s.Load(); err != nil {
		t.Fatal(err)
	}
	h := s.Handler()
	var wg sync.WaitGroup
	bodies := make([]*io.PipeWriter, 8)
	images := make([][]byte, 8)
	for d := range 8 {
		images[d] = digit(t, fmt.Sprintf("%d-pen.png", d))
		pr, pw := io.Pipe()
		bodies[d] = pw
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := httptest.NewRequest("POST", "/v2/models/mnist/infer", pr)
			req.Header.Set("Content-Type", "image/png")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			var ans imageAnswer
			if err := json.Unmarshal(rec.Body.Bytes(), &ans); rec.Code != 200 || err != nil || ans.Predictions[0][0].Label != fmt.Sprint(d) {
				t.Errorf("digit %d: %d %s", d, rec.Code, rec.Body)
			}
		}()
	}
	// All eight are in their handlers, reading their bodies.
	for deadline := time.Now().Add(10 * time.Second); s.batcher.arriving.Load() < 8; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d requests arrived", s.batcher.arriving.Load())
		}
	}
	start := time.Now()
	for d, pw := range bodies {
		go func() {
			pw.Write(images[d])
			pw.Close()
		}()
	}
	wg.Wait()
	// Eight requests filled the batch: no waiting out MaxWait.
	if el := time.Since(start); el > time.Second {
		t.Errorf("a full batch waited %s", el)
	}
	_, body := do(t, h, "GET", "/metrics", "", nil)
	if !strings.Contains(body, "resgo_batch_size_count 1\n") || !strings.Contains(body, "resgo_batch_size_sum 8\n") {
		t.Errorf("want one batch of 8:\n%s", grep(body, "resgo_batch_size"))
	}
	// Alone, a request does not wait for others that are not coming.
	start = time.Now()
	if code, _ := do(t, h, "POST", "/v2/models/mnist/infer", "image/png", digit(t, "5-pen.png")); code != 200 {
		t.Fatalf("lone request: %d", code)
	}
	if el := time.Since(start); el > time.Second {
		t.Errorf("a lone request took %s: it waited for others", el)
	}
}

// TestQueuedJobsJoinOneBatch: jobs that waited in the queue past MaxWait
// (the server was busy with another pass) all join the next pass, and
// each gets its own image's answer. (The batcher used to pick between
// them and its expired timer at random, making passes of about two.)
func TestQueuedJobsJoinOneBatch(t *testing.T) {
	s := newServer(t, Config{})
	if _, err := s.Load(); err != nil {
		t.Fatal(err)
	}
	m := s.current()
	b := &batcher{jobs: make(chan *job, 16), maxBatch: 16, maxWait: time.Millisecond, metrics: newMetrics()}
	long := time.Now().Add(-time.Hour)
	var jobs []*job
	for d := range 10 {
		inputs, err := s.prepare(context.Background(), m, [][]byte{digit(t, fmt.Sprintf("%d-pen.png", d))}, nil)
		if err != nil {
			t.Fatal(err)
		}
		j := &job{m: m, inputs: inputs, n: 1, queued: long, done: make(chan jobResult, 1)}
		jobs = append(jobs, j)
		b.jobs <- j
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go b.run(ctx)
	for d, j := range jobs {
		r := <-j.done
		if r.err != nil || len(r.preds) != 1 || r.preds[0][0].Label != fmt.Sprint(d) {
			t.Fatalf("digit %d: %+v", d, r)
		}
	}
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(b.metrics.registry, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if body := rec.Body.String(); !strings.Contains(body, "resgo_batch_size_count 1\n") || !strings.Contains(body, "resgo_batch_size_sum 10\n") {
		t.Errorf("want one batch of 10:\n%s", grep(body, "resgo_batch_size"))
	}
}

func grep(s, prefix string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestReloadUnderLoad: with Watch, a newer checkpoint written into the
// directory is swapped in while requests keep coming; none fails, and
// answers carry the version that computed them.
func TestReloadUnderLoad(t *testing.T) {
	dir := t.TempDir()
	ck, err := checkpoint.Load(testModel)
	if err != nil {
		t.Fatal(err)
	}
	store := &checkpoint.Store{Dir: dir}
	if _, err := store.Save(1, ck.Tensors, ck.Meta); err != nil {
		t.Fatal(err)
	}
	s := newServer(t, Config{Checkpoint: dir, Watch: 20 * time.Millisecond, MaxWait: time.Millisecond})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, ln, 10*time.Second) }()
	url := "http://" + ln.Addr().String() + "/v2/models/mnist/infer"
	waitReady(t, "http://"+ln.Addr().String())

	var failed, ok atomic.Int64
	var mu sync.Mutex
	versions := map[string]int{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	img := digit(t, "2-pen.png")
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < 2000; n++ {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := http.Post(url, "image/png", bytes.NewReader(img))
				if err != nil {
					failed.Add(1)
					continue
				}
				var ans imageAnswer
				err = json.NewDecoder(resp.Body).Decode(&ans)
				resp.Body.Close()
				if resp.StatusCode != 200 || err != nil || ans.Predictions[0][0].Label != "2" {
					failed.Add(1)
					continue
				}
				ok.Add(1)
				mu.Lock()
				versions[ans.ModelVersion]++
				mu.Unlock()
			}
		}()
	}
	time.Sleep(200 * time.Millisecond)
	if _, err := store.Save(2, ck.Tensors, ck.Meta); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		n := versions["2"]
		mu.Unlock()
		if n > 20 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	t.Logf("%d answers (%v), %d failed", ok.Load(), versions, failed.Load())
	if failed.Load() != 0 || versions["1"] == 0 || versions["2"] == 0 {
		t.Fatalf("%d failed; versions %v", failed.Load(), versions)
	}
}

func waitReady(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(base + "/v2/health/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("never ready")
}

// TestShutdownDrains: a request in flight when shutdown begins is
// answered; new connections are refused after.
func TestShutdownDrains(t *testing.T) {
	s := newServer(t, Config{MaxBatch: 4, MaxWait: 700 * time.Millisecond})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, ln, 10*time.Second) }()
	waitReady(t, base)
	answered := make(chan int, 1)
	body, pw := io.Pipe()
	go func() {
		resp, err := http.Post(base+"/v2/models/mnist/infer", "image/png", body)
		if err != nil {
			answered <- -1
			return
		}
		resp.Body.Close()
		answered <- resp.StatusCode
	}()
	// Half the image sent when shutdown begins, the rest after.
	img := digit(t, "6-pen.png")
	pw.Write(img[:len(img)/2])
	for deadline := time.Now().Add(10 * time.Second); s.batcher.arriving.Load() < 1; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the request never reached its handler")
		}
	}
	cancel()
	time.Sleep(200 * time.Millisecond)
	pw.Write(img[len(img)/2:])
	pw.Close()
	if code := <-answered; code != 200 {
		t.Fatalf("request in flight at shutdown: %d", code)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(base + "/v2/health/live"); err == nil {
		t.Fatal("still accepting connections after shutdown")
	}
}

func TestConfigIsValidated(t *testing.T) {
	for _, c := range []Config{
		{}, {Checkpoint: "x", MaxBatch: 100000}, {Checkpoint: "x", MaxWait: -1}, {Checkpoint: "x", TopK: -1},
		{Checkpoint: "x", MaxBodyBytes: -5}, {Checkpoint: "x", Watch: -time.Second},
	} {
		if _, err := New(c); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}
