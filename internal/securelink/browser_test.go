package securelink_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/secureflow/secureflow/internal/securelink"
	"github.com/secureflow/secureflow/internal/securelink/linktest"
)

const chromiumPath = "/usr/bin/chromium"

// browserLog records what the browser did.
type browserLog struct {
	mu       sync.Mutex
	requests []string       // every request URL
	docs     map[string]int // last document status per URL
	csp      []string       // CSP header of every document response
	problems []string       // console errors and CSP violations
}

func (b *browserLog) listen(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		b.requests = append(b.requests, ev.Request.URL)
	case *network.EventResponseReceived:
		if ev.Type == network.ResourceTypeDocument {
			b.docs[ev.Response.URL] = int(ev.Response.Status)
			for k, v := range ev.Response.Headers {
				if strings.EqualFold(k, "Content-Security-Policy") {
					b.csp = append(b.csp, fmt.Sprint(v))
				}
			}
		}
	case *cdplog.EventEntryAdded:
		if ev.Entry.Level == cdplog.EntryLevelError && !strings.Contains(ev.Entry.URL, "favicon") &&
			!strings.Contains(ev.Entry.Text, "status of 410") && !strings.Contains(ev.Entry.Text, "status of 404") {
			b.problems = append(b.problems, string(ev.Entry.Source)+": "+ev.Entry.Text)
		}
	case *runtime.EventExceptionThrown:
		b.problems = append(b.problems, "exception: "+ev.ExceptionDetails.Text)
	}
}

// TestBrowser fills a link's form in headless Chromium like a person
// would, and checks the confirmation, reuse and expiry, the CSP header, that
// the page's inline style and script run under its CSP, and that the
// browser never contacts another origin.
func TestBrowser(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("SECUREFLOW_REQUIRE_BROWSER") == "1" {
			t.Fatalf("SECUREFLOW_REQUIRE_BROWSER=1 but %s is missing: %v", chromiumPath, err)
		}
		t.Skipf("%s not found (%v): install chromium, or set SECUREFLOW_REQUIRE_BROWSER=1 to make this a failure", chromiumPath, err)
	}

	var handler http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	clk := &clock{t: t0}
	snk := &sink{}
	logs := &syncBuffer{}
	svc, err := securelink.New(securelink.Config{
		BaseURL: srv.URL, CSRFKey: []byte(csrfKeyBytes), Now: clk.Now,
		Logger:  slog.New(slog.NewTextHandler(logs, nil)),
		IPBurst: 1000, TokenBurst: 1000,
	}, linktest.NewStore(), snk)
	if err != nil {
		t.Fatal(err)
	}
	handler = svc.Handler()
	issue := func() string {
		u, _, err := svc.Issue(context.Background(), securelink.IssueRequest{
			Session: testSession, Step: testStep, Locale: "en", Fields: cardFields(),
		})
		if err != nil {
			t.Fatal(err)
		}
		return u
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath), chromedp.NoSandbox, chromedp.Headless, chromedp.DisableGPU)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	bctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	bl := &browserLog{docs: map[string]int{}}
	// The first call starts the browser: no timeout on its context (see
	// chromedp.NewContext); each step below gets one.
	if err := chromedp.Listen(bctx, bl.listen); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	if _, err := chromedp.Call(bctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatalf("network.Enable: %v", err)
	}
	step := func() context.Context {
		ctx, cancel := context.WithTimeout(bctx, 30*time.Second)
		t.Cleanup(cancel)
		return ctx
	}

	link := issue()
	ctx := step()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(link),
		chromedp.WaitVisible(chromedp.ID("f-card")),
		chromedp.SendKeys(chromedp.ID("f-card"), canaryCard),
		chromedp.SendKeys(chromedp.ID("f-expiry"), validExpiry),
		chromedp.SendKeys(chromedp.ID("f-cvv"), validCVV),
	); err != nil {
		t.Fatalf("open and type: %v", err)
	}
	typed, err := chromedp.Run(ctx, chromedp.Value(chromedp.ID("f-card")))
	if err != nil {
		t.Fatal(err)
	}
	if typed != "4012 8888 8888 1881" {
		t.Errorf("card field shows %q: the inline script did not group digits (blocked by CSP?)", typed)
	}
	bg, err := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.body).backgroundColor`))
	if err != nil {
		t.Fatal(err)
	}
	if bg != "rgb(243, 245, 247)" {
		t.Errorf("body background %q: the inline style did not apply (blocked by CSP?)", bg)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("submit")), chromedp.WaitVisible(chromedp.CSS("h1.ok"))); err != nil {
		t.Fatalf("submit: %v", err)
	}
	heading, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("h1.ok")))
	if err != nil {
		t.Fatal(err)
	}
	page, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(heading, "Received ✓") || !strings.Contains(page, "You can return to WhatsApp") || !strings.Contains(page, "••••1881") {
		t.Errorf("confirmation: %q\n%s", heading, page)
	}
	if strings.Contains(page, canaryCard) {
		t.Error("confirmation shows the card number")
	}
	subs := snk.submissions()
	if len(subs) != 1 || string(subs[0].Values[0].Secret.Reveal()) != canaryCard {
		t.Fatalf("sink got %d submissions, or not the typed card", len(subs))
	}

	gone := func(name, u string) {
		t.Helper()
		ctx := step()
		res, err := chromedp.Run(ctx, chromedp.NavigateResponse(u))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("h1")))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if res.Status != http.StatusGone || !strings.Contains(text, "no longer valid") {
			t.Errorf("%s: status %d, %q", name, res.Status, text)
		}
	}
	// Reuse: the same link is gone.
	gone("reopened used link", link)
	// Expiry: a link nobody opened for 5 minutes is gone.
	link2 := issue()
	clk.Advance(5 * time.Minute)
	gone("expired link", link2)

	// Without JavaScript the form still works (no grouping, same result).
	link3 := issue()
	ctx = step()
	if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx,
		chromedp.Navigate(link3),
		chromedp.WaitVisible(chromedp.ID("f-card")),
		chromedp.SendKeys(chromedp.ID("f-card"), "5555555555554444"),
		chromedp.SendKeys(chromedp.ID("f-expiry"), validExpiry),
		chromedp.SendKeys(chromedp.ID("f-cvv"), validCVV),
	); err != nil {
		t.Fatalf("no-JS form: %v", err)
	}
	if typed, err := chromedp.Run(ctx, chromedp.Value(chromedp.ID("f-card"))); err != nil || typed != "5555555555554444" {
		t.Errorf("no-JS card field %q, %v: scripts ran", typed, err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("submit")), chromedp.WaitVisible(chromedp.CSS("h1.ok"))); err != nil {
		t.Fatalf("no-JS submit: %v", err)
	}
	if n := len(snk.submissions()); n != 2 {
		t.Errorf("%d submissions after the no-JS one, want 2", n)
	}

	bl.mu.Lock()
	defer bl.mu.Unlock()
	if len(bl.csp) < 5 {
		t.Errorf("saw %d CSP headers on %d documents", len(bl.csp), len(bl.docs))
	}
	for _, c := range bl.csp {
		if !strings.HasPrefix(c, "default-src 'none'; style-src 'nonce-") {
			t.Errorf("CSP %q", c)
		}
	}
	origin, _ := url.Parse(srv.URL)
	if len(bl.requests) < 4 {
		t.Errorf("recorded only %d requests: is the network listener working?", len(bl.requests))
	}
	for _, r := range bl.requests {
		u, err := url.Parse(r)
		if err != nil || u.Scheme != origin.Scheme || u.Host != origin.Host {
			t.Errorf("request to another origin: %s", r)
		}
	}
	for _, p := range bl.problems {
		t.Errorf("browser reported: %s", p)
	}
	for _, s := range []string{canaryCard, strings.TrimPrefix(link, srv.URL+"/s/")} {
		if strings.Contains(logs.String(), s) {
			t.Errorf("logs hold %q", s)
		}
	}
}
