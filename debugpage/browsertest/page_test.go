package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// browserTimeout bounds each wait for the page.
const browserTimeout = 30 * time.Second

// chromium returns the path of the Chromium binary, failing the test with
// the command that installs it when there is none.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	t.Fatal("browsertest: no chromium: install it with: sudo apt-get install -y --no-install-recommends chromium")
	return ""
}

// browser starts a headless Chromium for the test, stopped when it ends.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox, // the tests may run as root, where Chromium's sandbox refuses to start
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1600),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	return ctx
}

// waitScript is a JavaScript function that resolves, once some element
// matching sel has text containing text (any text when empty), with the
// JSON of its data attributes. It looks at once, then on every change of
// the document (a MutationObserver): the test waits for the page's own
// updates, not on a clock.
const waitScript = `(sel, text) => new Promise((resolve) => {
  const find = () => [...document.querySelectorAll(sel)].find((el) => !text || el.textContent.includes(text));
  const done = (el) => resolve(JSON.stringify(Object.assign({}, el.dataset)));
  const hit = find();
  if (hit) return done(hit);
  const obs = new MutationObserver(() => { const el = find(); if (el) { obs.disconnect(); done(el); } });
  obs.observe(document.documentElement, { subtree: true, childList: true, characterData: true, attributes: true });
})`

// waitFor waits until the page has an element matching sel whose text
// contains text, and returns its data attributes.
func waitFor(t *testing.T, ctx context.Context, what, sel, text string) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, browserTimeout)
	defer cancel()
	expr := fmt.Sprintf("(%s)(%q, %q)", waitScript, sel, text)
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("waiting for %s (%s): %v", what, sel, err)
	}
	var data map[string]string
	if err := json.Unmarshal([]byte(raw), &data); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return data
}

// evaluate runs a JavaScript expression in the page and decodes its JSON.
func evaluate[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, browserTimeout)
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[string]("JSON.stringify("+expr+")"))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	var v T
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// TestDebugPageInABrowser opens the chat example's debug page in headless
// Chromium: the topology shows the chat's topics and subscribers; a
// message typed into the chat appears in the topic's events without a
// reload; clicking it shows its causal chain, the AI's reply with the
// subscribers that handled it. The screenshot is saved as an artifact.
func TestDebugPageInABrowser(t *testing.T) {
	ctx := browser(t)
	chat := startChat(t)

	nav, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(nav, chromedp.Navigate(chat.url)); err != nil {
		t.Fatalf("open %s: %v", chat.url, err)
	}
	waitFor(t, ctx, "the live updates", `#live-status[data-state="live"]`, "")

	// The topology: every topic of the chat, with its subscribers.
	subscribers := evaluate[map[string][]string](t, ctx, `Object.fromEntries([...document.querySelectorAll("#topics tr.topic")].map((row) =>
		[row.dataset.topic, [...row.querySelectorAll(".subscriber")].map((s) => s.dataset.subscriber).sort()]))`)
	for topic, want := range map[string][]string{
		"message.sent":       {"ai-responder", "analytics", "audit-log", "notification", "transcript"},
		"ai.reply.generated": {"audit-log", "chat-service"},
		"deadletter":         {"audit-log", "ops-inbox"},
	} {
		got := subscribers[topic]
		for _, name := range want {
			if !slices.Contains(got, name) {
				t.Errorf("topic %s: subscribers %v, want %s among them", topic, got, name)
			}
		}
	}
	patterns := evaluate[[]string](t, ctx, `[...document.querySelectorAll("#patterns tr.pattern")].map((row) => row.dataset.pattern + " " + row.dataset.subscriber)`)
	if !slices.Contains(patterns, "> audit-log") {
		t.Errorf("pattern subscriptions %v, want \"> audit-log\"", patterns)
	}

	// Follow message.sent, then type a message into the chat: it appears
	// without a reload.
	if err := chromedp.Do(nav, chromedp.Click(`a.topic-link[data-topic="message.sent"]`)); err != nil {
		t.Fatalf("click the topic: %v", err)
	}
	waitFor(t, ctx, "the topic's events", "#topic-events li.event", "")
	const text = "hello from the browser test"
	chat.send(t, "zoe: "+text)
	event := waitFor(t, ctx, "the typed message among the topic's events", "#topic-events li.event", text)
	id := event["eventId"]
	if id == "" || event["topic"] != "message.sent" {
		t.Fatalf("the new event's data attributes: %v", event)
	}

	// Clicking it shows what it caused: the AI's reply.
	if err := chromedp.Do(nav, chromedp.Click(fmt.Sprintf(`#topic-events li.event[data-event-id=%q]`, id))); err != nil {
		t.Fatalf("click the event: %v", err)
	}
	root := waitFor(t, ctx, "the event's trace", fmt.Sprintf(`#trace-root > li.trace-node[data-event-id=%q]`, id), "")
	if root["topic"] != "message.sent" {
		t.Errorf("trace root %v, want the message", root)
	}
	waitFor(t, ctx, "the reply in the trace", `#trace-root li.trace-node li.trace-node[data-topic="ai.reply.generated"]`, "")
	handlers := evaluate[[]string](t, ctx, fmt.Sprintf(`[...document.querySelectorAll('#trace-root > li.trace-node[data-event-id=%q] > .trace-handlings > li.handling')].map((h) => h.dataset.subscriber + " " + h.dataset.outcome).sort()`, id))
	for _, want := range []string{"ai-responder delivered", "analytics delivered", "notification delivered"} {
		if !slices.Contains(handlers, want) {
			t.Errorf("the message's handlings %v, want %q", handlers, want)
		}
	}

	saveScreenshot(t, nav)
}

// saveScreenshot saves the whole page as a PNG in the artifacts directory.
func saveScreenshot(t *testing.T, ctx context.Context) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // quality 100 makes a PNG
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	dir := os.Getenv("EVENTBUS_ARTIFACTS")
	if dir == "" {
		dir = "artifacts"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "debugpage.png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(path)
	t.Logf("screenshot: %s", abs)
}
