// Command loadtest measures resgo serve under load: it starts the server
// on a free loopback port, posts the same image from N concurrent
// clients for a bounded time (and at most a bounded number of requests)
// at each concurrency level, and prints requests/s, latency percentiles,
// errors and the server's resident memory, sampled every 250 ms, with the
// mean batch the server joined requests into and the mean time of its
// forward passes (from its /metrics).
//
//	go run ./tools/loadtest --resgo .bin/resgo --checkpoint MNIST_model/mnist_model-8000.safetensors
//
// Every request goes to 127.0.0.1 only; arguments after "--" are passed
// to resgo serve (e.g. -- --max-batch 128 --max-wait 2ms).
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func main() {
	var (
		bin, ckpt, imagePath, levels, name string
		duration, warmup                   time.Duration
		maxRequests                        int
	)
	flag.StringVar(&bin, "resgo", "resgo", "the resgo binary to run")
	flag.StringVar(&ckpt, "checkpoint", "", "checkpoint file to serve (required)")
	flag.StringVar(&imagePath, "image", "testdata/digits/3-pen.png", "image posted by every request")
	flag.StringVar(&name, "name", "mnist", "the model's name (passed to resgo serve too)")
	flag.StringVar(&levels, "concurrency", "1,8,64", "comma-separated numbers of concurrent clients")
	flag.DurationVar(&duration, "duration", 10*time.Second, "how long each level runs")
	flag.DurationVar(&warmup, "warmup", 2*time.Second, "load before each level's measurement, not counted")
	flag.IntVar(&maxRequests, "max-requests", 200000, "most requests a level sends")
	flag.Parse()
	if ckpt == "" {
		fail(fmt.Errorf("--checkpoint is required"))
	}
	var conc []int
	for _, s := range strings.Split(levels, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > 1024 {
			fail(fmt.Errorf("--concurrency %q: want numbers from 1 to 1024", levels))
		}
		conc = append(conc, n)
	}
	for _, a := range flag.Args() {
		if a == "--addr" || a == "-addr" || strings.HasPrefix(a, "--addr=") || strings.HasPrefix(a, "-addr=") || a == "--name" || a == "-name" {
			fail(fmt.Errorf("%s: loadtest sets the address (loopback only) and the name itself", a))
		}
	}
	img, err := os.ReadFile(imagePath)
	if err != nil {
		fail(err)
	}
	srv, base, err := startServer(bin, append([]string{"serve", "--checkpoint", ckpt, "--addr", "127.0.0.1:0", "--name", name}, flag.Args()...))
	if err != nil {
		fail(err)
	}
	defer func() {
		srv.Process.Signal(syscall.SIGTERM)
		srv.Wait()
	}()
	url := base + "/v2/models/" + name + "/infer"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1024}, Timeout: 30 * time.Second}
	fmt.Printf("%-11s %9s %7s %10s %9s %9s %9s %22s %10s %10s\n", "concurrency", "requests", "errors", "requests/s", "p50 ms", "p95 ms", "p99 ms",
		"server RSS MiB (min-max)", "mean batch", "pass ms")
	for _, c := range conc {
		load(client, url, img, c, warmup, 0) // warm-up, not counted
		rss := &rssSampler{pid: srv.Process.Pid}
		stop := rss.start()
		before, err := scrape(base)
		if err != nil {
			fail(err)
		}
		r := load(client, url, img, c, duration, maxRequests)
		stop()
		after, err := scrape(base)
		if err != nil {
			fail(err)
		}
		passes := max(1, after.passes-before.passes) // none when every request failed
		fmt.Printf("%-11d %9d %7d %10.1f %9.2f %9.2f %9.2f %10.0f-%-11.0f %10.1f %10.2f\n", c, r.n, r.errors, float64(r.n)/r.elapsed.Seconds(),
			ms(r.pct(0.50)), ms(r.pct(0.95)), ms(r.pct(0.99)), rss.min, rss.max,
			(after.images-before.images)/passes, 1000*(after.passSeconds-before.passSeconds)/passes)
		if len(rss.samples) >= 8 {
			q := len(rss.samples) / 4
			fmt.Printf("            RSS over the run: first quarter %.0f MiB, last quarter %.0f MiB\n",
				mean(rss.samples[:q]), mean(rss.samples[len(rss.samples)-q:]))
		}
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "loadtest:", err)
	os.Exit(1)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func mean(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// startServer runs resgo serve and waits until it is ready.
func startServer(bin string, args []string) (*exec.Cmd, string, error) {
	cmd := exec.Command(bin, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, "", err
	}
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	addr := regexp.MustCompile(`listening on (http://[0-9.:]+)`)
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := addr.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	var base string
	select {
	case base = <-found:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		return nil, "", fmt.Errorf("resgo serve did not start listening within a minute")
	}
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if resp, err := http.Get(base + "/v2/health/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return cmd, base, nil
			}
		}
	}
	cmd.Process.Kill()
	return nil, "", fmt.Errorf("resgo serve never became ready")
}

type result struct {
	n, errors int
	elapsed   time.Duration
	latencies []time.Duration
}

func (r result) pct(q float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	return r.latencies[min(len(r.latencies)-1, int(q*float64(len(r.latencies))))]
}

// load posts img from c clients until d has passed or limit requests
// (0: no limit) were sent.
func load(client *http.Client, url string, img []byte, c int, d time.Duration, limit int) result {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var mu sync.Mutex
	var r result
	sent := 0
	var wg sync.WaitGroup
	start := time.Now()
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				mu.Lock()
				if limit > 0 && sent >= limit {
					mu.Unlock()
					return
				}
				sent++
				mu.Unlock()
				t0 := time.Now()
				ok := post(ctx, client, url, img)
				lat := time.Since(t0)
				if ctx.Err() != nil && !ok {
					return // cut off by the end of the run, not an error
				}
				mu.Lock()
				r.n++
				if ok {
					r.latencies = append(r.latencies, lat)
				} else {
					r.errors++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	r.elapsed = time.Since(start)
	sort.Slice(r.latencies, func(i, j int) bool { return r.latencies[i] < r.latencies[j] })
	return r
}

func post(ctx context.Context, client *http.Client, url string, img []byte) bool {
	req, err := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(img))
	if err != nil {
		return false
	}
	req.Header.Set("Content-Type", "image/png")
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return err == nil && resp.StatusCode == http.StatusOK
}

// passStats are the server's forward-pass counters, from its /metrics.
type passStats struct {
	passes, images, passSeconds float64
}

// scrape reads the batch-size and forward-pass histograms' totals, which
// tell whether requests were joined (mean batch) and what a pass cost.
func scrape(base string) (passStats, error) {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return passStats{}, err
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return passStats{}, fmt.Errorf("%s/metrics: %w", base, err)
	}
	histogram := func(name string) (*dto.Histogram, error) {
		f := families[name]
		if f == nil || len(f.GetMetric()) != 1 || f.GetMetric()[0].GetHistogram() == nil {
			return nil, fmt.Errorf("%s/metrics: no histogram %s", base, name)
		}
		return f.GetMetric()[0].GetHistogram(), nil
	}
	sizes, err := histogram("resgo_batch_size")
	if err != nil {
		return passStats{}, err
	}
	times, err := histogram("resgo_inference_duration_seconds")
	if err != nil {
		return passStats{}, err
	}
	return passStats{passes: float64(sizes.GetSampleCount()), images: sizes.GetSampleSum(), passSeconds: times.GetSampleSum()}, nil
}

// rssSampler reads a process's resident memory from /proc.
type rssSampler struct {
	pid      int
	samples  []float64
	min, max float64
}

func (s *rssSampler) start() (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			s.sample()
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

func (s *rssSampler) sample() {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.pid))
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64)
			mib := kb / 1024
			if len(s.samples) == 0 || mib < s.min {
				s.min = mib
			}
			if mib > s.max {
				s.max = mib
			}
			s.samples = append(s.samples, mib)
		}
	}
}
