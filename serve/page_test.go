package serve

import (
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
)

// browser finds Debian's Chromium (CI installs it).
func browser(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no Chromium in CI: .ci/run installs it")
	}
	t.Skip("no Chromium here (apt-get install chromium)")
	return ""
}

// TestPageInBrowser: in a real headless browser, strokes drawn on the
// page's pad are read as the digit they draw, and the bars show it.
func TestPageInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser; skipped with -short")
	}
	exe := browser(t)
	s := newServer(t, Config{})
	if _, err := s.Load(); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true), chromedp.WindowSize(900, 640))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	// Bound the whole test: the browser goes when this timer fires.
	stopper := time.AfterFunc(2*time.Minute, cancel)
	defer stopper.Stop()

	// The first Run starts the browser; its context has no timeout (one
	// would stop the browser), later calls take one derived from it.
	if err := chromedp.Do(ctx, chromedp.Navigate(ts.URL+"/"), chromedp.WaitVisible(chromedp.ID("pad"))); err != nil {
		t.Fatal(err)
	}
	x, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`document.getElementById("pad").getBoundingClientRect().left`))
	if err != nil {
		t.Fatal(err)
	}
	y, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`document.getElementById("pad").getBoundingClientRect().top`))
	if err != nil {
		t.Fatal(err)
	}
	// A stroke through points given on the 280x280 pad.
	draw := func(pts ...[2]float64) chromedp.Action[chromedp.Void] {
		var steps []chromedp.Action[chromedp.Void]
		at := func(i int) (float64, float64) { return x + pts[i][0], y + pts[i][1] }
		px, py := at(0)
		steps = append(steps, chromedp.MouseEvent(chromedp.MousePressed, px, py, chromedp.ButtonLeft, chromedp.ClickCount(1)))
		for i := 1; i < len(pts); i++ {
			ax, ay := at(i - 1)
			bx, by := at(i)
			for s := 1; s <= 8; s++ {
				f := float64(s) / 8
				steps = append(steps, chromedp.MouseEvent(chromedp.MouseMoved, ax+f*(bx-ax), ay+f*(by-ay), chromedp.ButtonLeft,
					func(p *input.DispatchMouseEventParams) { p.Buttons = 1 }))
			}
		}
		bx, by := at(len(pts) - 1)
		return chromedp.Steps(append(steps, chromedp.MouseEvent(chromedp.MouseReleased, bx, by, chromedp.ButtonLeft, chromedp.ClickCount(1)))...)
	}
	text := func(id string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID(id)))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	read := func(want string) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if text("top") == want && strings.Contains(text("bars"), "%") {
				return
			}
		}
		t.Fatalf("the page reads %q (bars %q, status %q), want %q", text("top"), text("bars"), text("status"), want)
	}
	// A seven: a bar across the top, then down to the left.
	if err := chromedp.Do(ctx, draw([2]float64{70, 60}, [2]float64{210, 60}, [2]float64{120, 230})); err != nil {
		t.Fatal(err)
	}
	read("7")
	shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("RESGO_UPDATE_DOCS") != "" {
		if err := os.WriteFile("../docs/serve-page.png", shot, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Cleared, a one: a stroke down the middle.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("clear")), draw([2]float64{150, 50}, [2]float64{140, 240})); err != nil {
		t.Fatal(err)
	}
	read("1")
}
