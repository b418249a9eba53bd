package checkpoint

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Every single-bit flip anywhere in a checkpoint is caught: by the
// layout checks, the JSON parser or the checksum.
func TestLoadCatchesEveryBitFlip(t *testing.T) {
	dir := t.TempDir()
	s := &Store{Dir: dir}
	p := save(t, s, 7)
	good, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p); err != nil {
		t.Fatalf("intact file: %v", err)
	}
	flipped := filepath.Join(dir, "flipped-7.safetensors")
	for i := range good {
		for bit := range 8 {
			b := bytes.Clone(good)
			b[i] ^= 1 << bit
			if err := os.WriteFile(flipped, b, 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := Load(flipped); err == nil {
				t.Fatalf("byte %d bit %d flipped: loaded without error", i, bit)
			}
		}
	}
}

func TestChecksumNamesTheDamage(t *testing.T) {
	dir := t.TempDir()
	p := save(t, &Store{Dir: dir}, 3)
	b, _ := os.ReadFile(p)
	b[len(b)-1] ^= 0x01 // the last weight's lowest mantissa bit: still a valid float
	os.WriteFile(p, b, 0o644)
	_, err := Load(p)
	if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "checksum") {
		t.Errorf("err %v", err)
	}
}

// Files written before checksums existed still load.
func TestLoadWithoutChecksum(t *testing.T) {
	p := filepath.Join(t.TempDir(), "mnist_model-4.safetensors")
	var buf bytes.Buffer
	if err := Encode(&buf, weights(4), map[string]string{"format": FormatVersion1, "step": "4"}); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(p, buf.Bytes(), 0o644)
	if ck, err := Load(p); err != nil || ck.Step != 4 {
		t.Errorf("old file: %v %v", ck, err)
	}
}

func TestNonFiniteNeverSavedNorLoaded(t *testing.T) {
	dir := t.TempDir()
	s := &Store{Dir: dir}
	p1 := save(t, s, 1)
	for _, v := range []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))} {
		w := weights(2)
		w["conv1/weights"].Data[2] = v
		p, err := s.Save(2, w, nil)
		if !errors.Is(err, ErrNonFinite) || p != "" || !strings.Contains(err.Error(), "conv1/weights") {
			t.Errorf("save with %v: %q %v", v, p, err)
		}
	}
	if got := names(t, dir); strings.Join(got, " ") != "checkpoint mnist_model-1.safetensors" {
		t.Errorf("dir holds %v", got)
	}
	// One written by an older resgo that did not check.
	w := weights(2)
	w["conv1/weights"].Data[0] = float32(math.NaN())
	var buf bytes.Buffer
	Encode(&buf, w, map[string]string{"format": FormatVersion1, "step": "2"})
	p2 := filepath.Join(dir, "mnist_model-2.safetensors")
	os.WriteFile(p2, buf.Bytes(), 0o644)
	if _, err := Load(p2); !errors.Is(err, ErrNonFinite) || !strings.Contains(err.Error(), p2) {
		t.Errorf("load NaN checkpoint: %v", err)
	}
	ck, skipped, err := s.LoadLatestGood()
	if err != nil || ck.Path != p1 || len(skipped) != 1 {
		t.Errorf("fallback past the NaN checkpoint: %v %v %v", ck, skipped, err)
	}
}

func TestLoadChecksNameAgainstStep(t *testing.T) {
	dir := t.TempDir()
	p := save(t, &Store{Dir: dir}, 5)
	b, _ := os.ReadFile(p)
	renamed := filepath.Join(dir, "mnist_model-8000.safetensors")
	os.WriteFile(renamed, b, 0o644)
	if _, err := Load(renamed); err == nil || !strings.Contains(err.Error(), "step 8000") || !strings.Contains(err.Error(), "step 5") {
		t.Errorf("renamed: %v", err)
	}
	other := filepath.Join(dir, "best.safetensors")
	os.WriteFile(other, b, 0o644)
	if _, err := Load(other); err != nil {
		t.Errorf("a name without a step: %v", err)
	}
}

func TestLoadLatestValidSkipsWhatTheCheckRejects(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	save(t, s, 1)
	save(t, s, 2)
	ck, skipped, err := s.LoadLatestValid(func(ck *Checkpoint) error {
		if ck.Step == 2 {
			return fmt.Errorf("%s: bad metadata", ck.Path)
		}
		return nil
	})
	if err != nil || ck.Step != 1 || len(skipped) != 1 || !strings.Contains(skipped[0].Error(), "bad metadata") {
		t.Errorf("%v %v %v", ck, skipped, err)
	}
}

func TestLockRefusesASecondWriter(t *testing.T) {
	s := &Store{Dir: filepath.Join(t.TempDir(), "new")}
	l, err := s.Lock()
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Lock()
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), fmt.Sprintf("process %d", os.Getpid())) {
		t.Fatalf("second lock: %v", err)
	}
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	l2, err := s.Lock()
	if err != nil {
		t.Fatalf("after unlock: %v", err)
	}
	l2.Unlock()
	l2.Unlock()
}

// A lock file left by a process that died is not a lock.
func TestStaleLockFileIsNoLock(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, LockFile), []byte("process 99999 (resgo train), started long ago\n"), 0o644)
	l, err := (&Store{Dir: dir}).Lock()
	if err != nil {
		t.Fatalf("stale file: %v", err)
	}
	l.Unlock()
}

// The lock of a process killed with SIGKILL is released by the kernel.
func TestLockReleasedOnKill(t *testing.T) {
	if os.Getenv("RESGO_LOCK_HOLDER") != "" {
		if _, err := (&Store{Dir: os.Getenv("RESGO_LOCK_HOLDER")}).Lock(); err != nil {
			fmt.Println(err)
			os.Exit(3)
		}
		fmt.Println("locked")
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockReleasedOnKill$")
	cmd.Env = append(os.Environ(), "RESGO_LOCK_HOLDER="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line := make([]byte, 7)
	if _, err := out.Read(line); err != nil || string(line) != "locked\n" {
		cmd.Process.Kill()
		t.Fatalf("child: %q %v", line, err)
	}
	_, err = (&Store{Dir: dir}).Lock()
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), fmt.Sprintf("process %d", cmd.Process.Pid)) {
		t.Errorf("while the child holds it: %v", err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	l, err := (&Store{Dir: dir}).Lock()
	if err != nil {
		t.Fatalf("after kill -9: %v", err)
	}
	l.Unlock()
}
