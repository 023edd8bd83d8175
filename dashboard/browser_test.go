package dashboard_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/dashboard"
	"github.com/jetq/jetq/embedded"
	"github.com/jetq/jetq/embedded/embeddedtest"
	"github.com/jetq/jetq/inspect"
	"github.com/jetq/jetq/internal/testkit"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/status"
	"github.com/jetq/jetq/tasks"
)

const token = "0123456789abcdef-test-token"

// screenshotsEnv names a directory to write the README's screenshots to;
// without it they go to a temporary directory.
const screenshotsEnv = "JETQ_SCREENSHOTS"

// chrome is the one headless chromium of the test binary: starting one
// takes seconds, a tab in it milliseconds.
var chrome struct {
	once sync.Once
	ctx  context.Context // its first tab's; the tests' tabs are its children
	stop context.CancelFunc
	err  error
}

// browser returns a tab of the test binary's headless chromium, the one
// test.sh installs, started on the first call; a machine without one
// fails the test, naming test.sh. Each tab has a browser context of its
// own, so that the tests' sign-ins (cookies of 127.0.0.1, whatever the
// port) do not leak into each other.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := testkit.Chromium(t)
	chrome.once.Do(func() {
		opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
			chromedp.Flag("disable-quic", true), chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-sync", true), chromedp.WindowSize(1400, 1000))
		actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		ctx, cancel := chromedp.NewContext(actx)
		chrome.ctx, chrome.stop = ctx, func() { cancel(); cancelAlloc() }
		chrome.err = chromedp.Do(ctx)
	})
	if chrome.err != nil {
		t.Fatalf("start chromium: %v", chrome.err)
	}
	ctx, cancel := chromedp.NewContext(chrome.ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	ctx, cancelT := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(cancelT)
	return ctx
}

// pollText waits until the text of the element sel is want.
func pollText(sel, want string) chromedp.Action[chromedp.Void] {
	return poll(fmt.Sprintf(`(document.querySelector(%q)?.textContent ?? "").trim() === %q`, sel, want))
}

// poll waits until the JavaScript expression js is true.
func poll(js string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](js, chromedp.WithPollingTimeout(30*time.Second))
}

// waitURL waits until the page's URL holds part: a click that submits a
// form navigates, and a poll of the old page dies with it.
func waitURL(part string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		return testkit.Poll(30*time.Second, func() error {
			if u, err := chromedp.Location()(ctx, t); err == nil && strings.Contains(u, part) {
				return nil
			}
			return fmt.Errorf("the page did not reach a URL with %q", part)
		})
	})
}

func click(sel string) chromedp.Action[chromedp.Void] { return chromedp.Click(chromedp.CSS(sel)) }
func visible(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.WaitVisible(chromedp.CSS(sel))
}

// shot saves a full-page screenshot as name.png in dir.
func shot(dir, name string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		png, err := chromedp.FullScreenshot(100)(ctx, t)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644)
	})
}

// page drives one browser tab.
type page struct {
	t   *testing.T
	ctx context.Context
}

// do runs steps, failing the test with what on an error.
func (p page) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, steps...); err != nil {
		p.t.Fatalf("%s: %v\nthe page then: %s", what, err, p.shown())
	}
}

// shown is the page's address and the start of its text, for a failure's
// message.
func (p page) shown() string {
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText.slice(0, 1000)`))
	if err != nil {
		return "(unreadable: " + err.Error() + ")"
	}
	return s
}

// acceptDialogs accepts every dialog the page opens from now on, such as
// a delete's "are you sure", and sends its message on the channel it
// returns, which holds the last 16 not read.
func (p page) acceptDialogs() <-chan string {
	dialogs := chromedp.Events(p.ctx, cdppage.JavascriptDialogOpening)
	asked := make(chan string, 16)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			select {
			case asked <- ev.Message:
			default:
			}
			_, _ = chromedp.Call(p.ctx, cdppage.HandleJavaScriptDialog, cdppage.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	return asked
}

// text is the text of the element sel.
func (p page) text(sel string) string {
	p.t.Helper()
	s, err := chromedp.Run(p.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		p.t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// TestBrowser drives the dashboard in a real browser against an embedded
// server: the overview follows a workload, a dead letter is found by
// filter, opened and replayed and its task then succeeds, a task is found
// by ID, a killed worker leaves the workers page, and an action without
// the token is refused. The dashboard is mounted under /jetq of a mux, as
// a service mounts it next to its own routes.
func TestBrowser(t *testing.T) {
	ctx := context.Background()
	srv := embeddedtest.Server(t, embedded.WithListen("127.0.0.1:0"))
	_, js := embeddedtest.Connect(t, srv)
	log := testkit.Logger(t)
	d, err := dashboard.New(js, dashboard.WithActions(token), dashboard.WithLogger(log), dashboard.WithBasePath("/jetq"))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/jetq/", d)
	server := httptest.NewServer(mux)
	t.Cleanup(server.Close)
	base := server.URL + "/jetq"
	shots := os.Getenv(screenshotsEnv)
	if shots == "" {
		shots = t.TempDir()
	}

	report := tasks.Define[int]("report.build")
	var fixed atomic.Bool
	invoice := tasks.Define[map[string]any]("invoice.send", tasks.WithStateTracking(), tasks.WithMaxAttempts(1))
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, report, func(context.Context, *tasks.Task[int]) error { return nil })
	tasks.MustHandle(reg, invoice, func(context.Context, *tasks.Task[map[string]any]) error {
		if !fixed.Load() {
			return tasks.Permanent(errors.New("smtp: 550 mailbox unavailable"))
		}
		return nil
	})
	p, err := producer.New(js, producer.WithLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := producer.Enqueue(ctx, p, report, i); err != nil {
			t.Fatal(err)
		}
	}
	var ids []string
	for i := range 3 {
		res, err := producer.Enqueue(ctx, p, invoice, map[string]any{"to": fmt.Sprintf("c%d@example.com", i), "amount": 40 + i})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.ID)
	}

	b := page{t, browser(t)}
	row := func(task, field string) string {
		return fmt.Sprintf(`#queues tr[data-key="default/%s"] td[data-f=%s]`, task, field)
	}
	// The overview shows the five pending tasks, then, without a reload,
	// the workload processed.
	b.do("overview before the worker", chromedp.Navigate(base+"/"),
		pollText(row("report.build", "pending"), "5"), pollText("#total-pending", "8"))
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	w, err := consumer.New(js, reg, consumer.WithLogger(log), consumer.WithPresenceInterval(presenceEvery),
		consumer.WithHistoryInterval(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	go func() { done <- w.Run(wctx) }()
	t.Cleanup(func() { stop(); <-done })
	b.do("overview after the worker", pollText(row("report.build", "pending"), "0"), pollText(row("report.build", "held"), "0"),
		pollText(row("invoice.send", "dead_lettered"), "3"), pollText("#total-dlq", "3"), pollText("#total-workers", "1"),
		poll(`document.getElementById("chart").dataset.succeeded === "5"`),
		shot(shots, "overview"))

	// A dead letter is found by filter, opened, and cannot be replayed
	// before signing in.
	b.do("dead letters", chromedp.Navigate(base+"/dlq"),
		chromedp.SetValue(chromedp.CSS("#f-task"), "default/invoice.send"), chromedp.SetValue(chromedp.CSS("#f-reason"), "permanent"),
		click("#apply"), waitURL("reason=permanent"), visible("#records"),
		poll(`document.querySelectorAll("#records tbody tr").length === 3`),
		shot(shots, "dlq"),
		click("#records tbody tr:first-child td:first-child a"), visible("#payload"), shot(shots, "record"))
	recordURL, err := chromedp.Run(b.ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if payload := b.text("#payload"); !strings.Contains(payload, "\n  \"amount\": 4") {
		t.Errorf("the payload is not pretty-printed: %q", payload)
	}
	b.do("replay signed out", click("#replay"), visible("#error-text"))
	if refused := b.text("#error-text"); !strings.Contains(refused, "needs the dashboard's token") {
		t.Errorf("a replay without the token: %q", refused)
	}
	// Signed in, the record is replayed and its task succeeds.
	fixed.Store(true)
	b.do("replay", chromedp.Navigate(base+"/login?next="+strings.TrimPrefix(recordURL, base)),
		chromedp.SendKeys(chromedp.CSS("#token"), token), click("#sign-in"), visible("#replay"),
		click("#replay"), visible("#flash"))
	if flash := b.text("#flash"); !strings.Contains(flash, "replayed") {
		t.Errorf("after the replay: %q", flash)
	}
	tr, err := inspect.New(js)
	if err != nil {
		t.Fatal(err)
	}
	replayedID := ""
	testkit.WaitFor(t, 20*time.Second, func() error {
		n := 0
		for _, id := range ids {
			st, err := tr.Status(ctx, id)
			if err != nil {
				return err
			}
			if st.State == status.Done {
				n++
				replayedID = id
			}
		}
		if n != 1 {
			return fmt.Errorf("want the replayed task done and the others dead-lettered, %d done", n)
		}
		return nil
	})

	// The task is found by ID from the header's box.
	b.do("task lookup", chromedp.Navigate(base+"/"), chromedp.SendKeys(chromedp.CSS("header input[name=id]"), replayedID+"\r"),
		visible("#state"), shot(shots, "task"))
	if state := b.text("#state"); state != "done" {
		t.Errorf("task %s: state %q, want done", replayedID, state)
	}

	// A worker process killed leaves the workers page once its entry's
	// TTL has passed.
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), workerEnv+"="+srv.ClientURL())
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	listed := fmt.Sprintf(`[...document.querySelectorAll("#workers tbody tr")].some(tr => tr.cells[2]?.textContent === "%d")`, cmd.Process.Pid)
	// Its entry is rewritten every 200 ms: it was seen "just now", not "- ago".
	seenNow := fmt.Sprintf(`[...document.querySelectorAll("#workers tbody tr")].some(tr => tr.cells[2]?.textContent === "%d" && tr.cells[9]?.textContent === "just now")`, cmd.Process.Pid)
	b.do("workers page before the kill", chromedp.Navigate(base+"/workers"), poll(listed), poll(seenNow), shot(shots, "workers"))
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	// Its entry lives its TTL past its last write, the server removes it
	// within a second of that, and the page refreshes every 2 s.
	ttl := wire.PresenceTTL(presenceEvery)
	b.do(fmt.Sprintf("the killed worker leaves the page within its TTL (%v) and a refresh", ttl),
		chromedp.Poll[chromedp.Void]("!"+listed, chromedp.WithPollingTimeout(ttl+time.Second+2*time.Second+time.Second)))
	t.Logf("the killed worker left the page %v after the kill", time.Since(killed).Round(10*time.Millisecond))

	// Signed out, an action is refused again.
	b.do("purge signed out", chromedp.Navigate(base+"/dlq"), click("#logout"), visible("#login"),
		chromedp.Navigate(base+"/dlq"), click("#purge-all"), visible("#error-text"))
	if msg := b.text("#error-text"); !strings.Contains(msg, "needs the dashboard's token") {
		t.Errorf("a purge signed out: %q", msg)
	}
	if n, err := dlqCount(ctx, js); err != nil || n != 2 {
		t.Errorf("dead letters left: %d %v, want the 2 not replayed", n, err)
	}

	// Signed in, a record deleted from its page, after the browser's
	// confirmation, leads back to the filtered list.
	asked := b.acceptDialogs()
	b.do("delete a record", chromedp.Navigate(base+"/login?next=/dlq%3Ftask%3Ddefault/invoice.send"),
		chromedp.SendKeys(chromedp.CSS("#token"), token), click("#sign-in"), visible("#records"),
		click("#records tbody tr:first-child td:first-child a"), visible("#delete"), click("#delete"),
		waitURL("done=deleted"), visible("#flash"))
	select {
	case q := <-asked:
		if !strings.HasPrefix(q, "Delete dead-letter record ") {
			t.Errorf("the delete asked %q", q)
		}
	default:
		t.Error("the delete did not ask for confirmation")
	}
	if u, _ := chromedp.Run(b.ctx, chromedp.Location()); !strings.Contains(u, "task=invoice.send") {
		t.Errorf("after the delete: %s, want the filtered list", u)
	}

	// A purge by filter says how many first, and purges them.
	b.do("purge by filter", click("#purge-all"), visible("#confirm"), shot(shots, "confirm"))
	if n := b.text("#count"); n != "1" {
		t.Errorf("the confirmation counts %s records, want 1", n)
	}
	b.do("confirm the purge", click("#confirm"), visible("#flash"))
	if flash := b.text("#flash"); flash != "1 record purged." {
		t.Errorf("after the purge: %q", flash)
	}
	if n, err := dlqCount(ctx, js); err != nil || n != 0 {
		t.Errorf("dead letters left after the purge: %d %v", n, err)
	}
}
