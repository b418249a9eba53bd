package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"
)

// TestServe: the binary serves a checkpoint on a free port, answers an
// image, and exits 0 on SIGTERM.
func TestServe(t *testing.T) {
	model, _ := filepath.Abs(testModel)
	if version, label := serveDigit(t, "serve", "--checkpoint", model); version != "2000" || label != "7" {
		t.Fatalf("model version %q, answer %q", version, label)
	}
	// Without --watch, a checkpoint that does not load is an error at once.
	junk := filepath.Join(t.TempDir(), "mnist_model-1.safetensors")
	os.WriteFile(junk, []byte("junk"), 0o644)
	oneLineError(t, run(t, t.TempDir(), "serve", "--checkpoint", junk, "--addr", "127.0.0.1:0"), junk)
	oneLineError(t, run(t, t.TempDir(), "serve", "--checkpoint", model, "--max-batch", "0"), "--max-batch 0")
}

// serveDigit starts resgo with args (a serve command; an address and two
// threads are added), posts testdata's 7-pencil.png once the server is
// ready, stops it with SIGTERM, and returns the model version and the top
// label of the answer.
func serveDigit(t *testing.T, args ...string) (string, string) {
	t.Helper()
	cmd := exec.Command(binary, append(args, "--addr", "127.0.0.1:0", "--threads", "2")...)
	var errb syncBuffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	addr := regexp.MustCompile(`listening on (http://[0-9.:]+)`)
	var base string
	for deadline := time.Now().Add(30 * time.Second); base == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := addr.FindStringSubmatch(errb.String()); m != nil {
			base = m[1]
		}
	}
	if base == "" {
		t.Fatalf("no address:\n%s", errb.String())
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if resp, err := http.Get(base + "/v2/health/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
	}
	img, _ := os.ReadFile("../../testdata/digits/7-pencil.png")
	resp, err := http.Post(base+"/v2/models/mnist/infer", "image/png", bytes.NewReader(img))
	if err != nil {
		t.Fatal(err)
	}
	var ans struct {
		ModelVersion string `json:"model_version"`
		Predictions  [][]struct{ Label string }
	}
	err = json.NewDecoder(resp.Body).Decode(&ans)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || len(ans.Predictions) == 0 || len(ans.Predictions[0]) == 0 {
		t.Fatalf("%d %v %+v", resp.StatusCode, err, ans)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("after SIGTERM: %v\n%s", err, errb.String())
	}
	return ans.ModelVersion, ans.Predictions[0][0].Label
}
