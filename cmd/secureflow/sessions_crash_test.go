package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/secureflow/secureflow/internal/detect"
	gcemu "github.com/secureflow/secureflow/internal/emulator/genesys"
	payemu "github.com/secureflow/secureflow/internal/emulator/payments"
	waemu "github.com/secureflow/secureflow/internal/emulator/whatsapp"
	"github.com/secureflow/secureflow/internal/keyring"
	"github.com/secureflow/secureflow/internal/secret"
	"github.com/secureflow/secureflow/internal/store"
	"github.com/secureflow/secureflow/internal/store/sqlite"
)

// TestSessionCrashSafety runs the take-payment example in a gateway child
// process, kills it with SIGKILL at the two places a secure session can be
// caught mid-flight (between two steps; between a data action's call and
// its recorded answer), restarts it on the same data directory and port,
// and checks that the session resumes where it was: one charge, every
// customer-visible and agent-visible text once and in order, the session
// ended "paid", and the card number nowhere but at the processor.
func TestSessionCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("starts gateway processes")
	}
	// Killed as soon as the link's 200 came back: the submission is in the
	// inbox (durable), the read-back normally not yet sent.
	t.Run("SIGKILL between steps", func(t *testing.T) { killBetweenSteps(t, false) })
	// Killed once the read-back was delivered, while the session waits for
	// the customer's answer: nothing delivered may go out again.
	t.Run("SIGKILL while waiting for the confirmation", func(t *testing.T) { killBetweenSteps(t, true) })

	// Killed after WhatsApp accepted the read-back but before the gateway
	// learnt it. A send carries no idempotency key (whatsapp.md §2): the
	// restarted gateway holds the resend while the send's status, which
	// echoes the outbox key (§1.5), arrives and marks it delivered, so the
	// customer sees the read-back once.
	t.Run("SIGKILL between a WhatsApp send and its answer", func(t *testing.T) {
		hold := newHoldFirst(func(r *http.Request, body []byte) bool {
			return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/messages") && bytes.Contains(body, []byte("ending in"))
		})
		h := newSessionCrashHarness(t, crashWraps{wa: hold.wrap})
		defer hold.release()
		h.startChild()
		send, sessionID := h.startPayment()
		link := linkRE.FindString(lastSentTo(h.wa, h.from))
		if code, page := submitLink(t, link, h.cardFields()); code != http.StatusOK {
			t.Fatalf("submit: %d\n%s", code, page)
		}
		hold.handled(t, "WhatsApp to accept the read-back")
		h.kill()
		hold.release()
		if n := countSent(h.wa, h.from, "ending in"); n != 1 {
			t.Fatalf("read-backs accepted at the kill: %d, want 1", n)
		}
		h.startChild()
		send("yes")
		h.waitPaid()
		h.finish(sessionID)
	})

	t.Run("SIGKILL between action call and result", func(t *testing.T) {
		hold := newHoldFirst(func(r *http.Request, _ []byte) bool {
			return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/v1/charges")
		})
		h := newSessionCrashHarness(t, crashWraps{pay: hold.wrap})
		defer hold.release()
		h.startChild()
		send, sessionID := h.startPayment()
		link := linkRE.FindString(lastSentTo(h.wa, h.from))
		if code, page := submitLink(t, link, h.cardFields()); code != http.StatusOK {
			t.Fatalf("submit: %d\n%s", code, page)
		}
		waitFor(t, "the read-back", 60*time.Second, func() bool { return countSent(h.wa, h.from, "ending in "+h.card[12:]) >= 1 })
		send("yes")
		hold.handled(t, "the first charge to reach the processor")
		// The processor charged the card; its answer is held, so the
		// gateway has not recorded it. The action's HTTP timeout (10s in
		// the catalog) has not run out: its own retry cannot have answered.
		h.kill()
		if n := h.pay.ChargeCount(); n != 1 {
			t.Fatalf("charges at the kill: %d, want 1", n)
		}
		if got := countReceived(h.gc, h.from, "Payment approved"); got != 0 {
			t.Fatalf("the summary reached the agent before the answer was recorded (%d)", got)
		}
		hold.release() // the held answer goes to a dead connection

		restarted := time.Now()
		h.startChild()
		// Within waitPaid's 60s, below the dispatcher's lease of
		// 4×max(request timeout, action timeout)+15s: the re-run must
		// not wait for the dead process's lease to expire.
		h.waitPaid()
		// The dispatcher re-ran the action at once: the sqlite store
		// releases a dead predecessor's leases when it opens, rather than
		// waiting for the lease to run out.
		t.Logf("the action was re-run and answered %s after the restart", time.Since(restarted).Round(time.Millisecond))
		keys := hold.keys()
		if len(keys) != 2 {
			t.Fatalf("charge requests: %d (%q), want 2: the held one and the re-run", len(keys), keys)
		}
		if keys[0] == "" || keys[0] != keys[1] || !strings.HasPrefix(keys[0], "act:"+sessionID+":charge:") {
			t.Fatalf("Idempotency-Keys of the charge requests: %q, want twice act:%s:charge:<seq>", keys, sessionID)
		}
		h.finish(sessionID)
	})
}

// killBetweenSteps kills the gateway after the secure link was submitted
// and before the customer confirms (after the read-back was delivered when
// afterReadBack), restarts it, and completes the payment.
func killBetweenSteps(t *testing.T, afterReadBack bool) {
	var wraps crashWraps
	gate := newDropUntil(func(r *http.Request, body []byte) bool {
		return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/messages") && bytes.Contains(body, []byte("ending in"))
	})
	defer gate.release()
	if !afterReadBack {
		// WhatsApp takes no read-back until the kill: however the child is
		// scheduled, the kill lands before the read-back is accepted, never
		// in the window of the skipped sub-test
		// "SIGKILL between a WhatsApp send and its answer".
		wraps.wa = gate.wrap
	}
	h := newSessionCrashHarness(t, wraps)
	h.startChild()
	send, sessionID := h.startPayment()
	link := linkRE.FindString(lastSentTo(h.wa, h.from))
	if code, page := submitLink(t, link, h.cardFields()); code != http.StatusOK {
		t.Fatalf("submit: %d\n%s", code, page)
	}
	if afterReadBack {
		waitFor(t, "the read-back", 60*time.Second, func() bool { return countSent(h.wa, h.from, "ending in "+h.card[12:]) >= 1 })
		waitFor(t, "the agent's masked progress", 60*time.Second, func() bool { return countReceived(h.gc, h.from, "received") >= 1 })
		// Let the gateway record the deliveries: a kill between WhatsApp's
		// 200 and that record is the window of "SIGKILL between a
		// WhatsApp send and its answer".
		h.waitQuiet()
	}
	h.kill()
	gate.release()
	t.Logf("killed; read-backs sent before the kill: %d", countSent(h.wa, h.from, "ending in"))
	if n := h.pay.ChargeCount(); n != 0 {
		t.Fatalf("charged %d times before the customer confirmed", n)
	}

	h.startChild()
	waitFor(t, "the read-back after the restart", 60*time.Second, func() bool {
		return countSent(h.wa, h.from, "ending in "+h.card[12:]) >= 1
	})
	send("yes")
	h.waitPaid()
	h.finish(sessionID)
}

// sessionCrashHarness is a gateway child process on a fixed port and data
// directory, with the WhatsApp, Genesys and payments emulators in the test
// process.
type sessionCrashHarness struct {
	t       *testing.T
	dir, gw string
	env     []string
	kek     secret.Value
	wa      *waemu.Emulator
	gc      *gcemu.Emulator
	pay     *payemu.Emulator
	logs    *logBuffer
	child   *exec.Cmd
	from    string
	card    string
}

// crashWraps wrap the emulators' handlers (nil: none).
type crashWraps struct {
	pay, wa func(http.Handler) http.Handler
}

// newSessionCrashHarness builds the emulators and the child's environment.
func newSessionCrashHarness(t *testing.T, wrap crashWraps) *sessionCrashHarness {
	t.Helper()
	h := &sessionCrashHarness{t: t, dir: t.TempDir(), logs: &logBuffer{}, from: "5511955559001"}
	h.card = canaryDigits(t, "4", 16, func(s string) bool {
		// A card ending 0002 is the processor emulator's decline.
		return detect.ValidCard(s) && !strings.HasSuffix(s, "0002")
	})
	kek, err := keyring.NewKEK()
	if err != nil {
		t.Fatal(err)
	}
	h.kek = kek
	if err := os.WriteFile(filepath.Join(h.dir, "kek.json"), kek.Reveal(), 0o600); err != nil {
		t.Fatal(err)
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	h.gw = "http://127.0.0.1:" + port
	appSecret, accessToken, clientSecret := randomHex(t), randomHex(t), randomHex(t)
	hookSecret, payToken := randomHex(t), randomHex(t)

	log := slog.New(slog.DiscardHandler)
	h.wa, err = waemu.New(waemu.Config{WebhookURL: h.gw + "/webhooks/whatsapp", AppSecret: []byte(appSecret), VerifyToken: "v",
		AccessToken: accessToken, PhoneNumberID: demoPhoneNumberID, Logger: log, AutoStatuses: true, // as Meta does (whatsapp.md §1.5)
		RetrySchedule: []time.Duration{50 * time.Millisecond, 200 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.wa.Close() })
	h.gc, err = gcemu.New(gcemu.Config{WebhookURL: h.gw + "/webhooks/genesys", WebhookSecret: []byte(hookSecret), ClientID: demoClientID,
		ClientSecret: clientSecret, IntegrationID: demoIntegration, TokenTTL: time.Hour, RetryDelay: 100 * time.Millisecond, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.gc.Close() })
	h.pay = payemu.New(payemu.Config{Prefix: "/emulator/payments/", Token: payToken})
	var payHandler, waHandler http.Handler = h.pay, h.wa.Handler()
	if wrap.pay != nil {
		payHandler = wrap.pay(payHandler)
	}
	if wrap.wa != nil {
		waHandler = wrap.wa(waHandler)
	}
	waSrv := httptest.NewServer(waHandler)
	t.Cleanup(waSrv.Close)
	gcSrv := httptest.NewServer(h.gc.Handler())
	t.Cleanup(gcSrv.Close)
	paySrv := httptest.NewServer(payHandler)
	t.Cleanup(paySrv.Close)
	t.Cleanup(h.pay.Close)

	// The example catalog calls payments.emulator.test, which only the
	// in-process stack resolves: the child gets a copy pointing at this
	// process's payments server.
	src, err := os.ReadFile(filepath.Join("..", "..", "examples", "actions.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	catalog := filepath.Join(t.TempDir(), "actions.yaml")
	rewritten := strings.ReplaceAll(string(src), "http://"+paymentsHost, paySrv.URL)
	if rewritten == string(src) {
		t.Fatalf("examples/actions.yaml does not call %s: the rewrite did nothing", paymentsHost)
	}
	if err := os.WriteFile(catalog, []byte(rewritten), 0o600); err != nil {
		t.Fatal(err)
	}
	flowFile, err := filepath.Abs(filepath.Join("..", "..", "examples", "flows", "take-payment.yaml"))
	if err != nil {
		t.Fatal(err)
	}

	h.env = append(os.Environ(),
		childEnv+"=1",
		"SECUREFLOW_SERVER_ADDR=127.0.0.1:"+port,
		"SECUREFLOW_STORE_SQLITE_PATH="+filepath.Join(h.dir, "secureflow.db"),
		"SECUREFLOW_KEYS_KEYSET_FILE="+filepath.Join(h.dir, "keyset.json"),
		"SECUREFLOW_KEYS_KEK=file:"+filepath.Join(h.dir, "kek.json"),
		"SECUREFLOW_WHATSAPP_APP_SECRET=env:SESSION_CRASH_APP_SECRET", "SESSION_CRASH_APP_SECRET="+appSecret,
		"SECUREFLOW_WHATSAPP_VERIFY_TOKEN=env:SESSION_CRASH_VERIFY_TOKEN", "SESSION_CRASH_VERIFY_TOKEN=v",
		"SECUREFLOW_WHATSAPP_ACCESS_TOKEN=env:SESSION_CRASH_ACCESS_TOKEN", "SESSION_CRASH_ACCESS_TOKEN="+accessToken,
		"SECUREFLOW_WHATSAPP_PHONE_NUMBER_ID="+demoPhoneNumberID,
		"SECUREFLOW_WHATSAPP_GRAPH_URL="+waSrv.URL+"/emulator/whatsapp/graph",
		"SECUREFLOW_GENESYS_API_URL="+gcSrv.URL+"/emulator/genesys",
		"SECUREFLOW_GENESYS_LOGIN_URL="+gcSrv.URL+"/emulator/genesys/login",
		"SECUREFLOW_GENESYS_CLIENT_ID="+demoClientID,
		"SECUREFLOW_GENESYS_CLIENT_SECRET=env:SESSION_CRASH_CLIENT_SECRET", "SESSION_CRASH_CLIENT_SECRET="+clientSecret,
		"SECUREFLOW_GENESYS_INTEGRATION_ID="+demoIntegration,
		"SECUREFLOW_GENESYS_WEBHOOK_SECRET=env:SESSION_CRASH_HOOK_SECRET", "SESSION_CRASH_HOOK_SECRET="+hookSecret,
		"SECUREFLOW_RELAY_RETRY_INITIAL=50ms",
		"SECUREFLOW_RELAY_RETRY_MAX=1s",
		"SECUREFLOW_SESSIONS_ENABLED=true",
		"SECUREFLOW_SESSIONS_FLOWS="+flowFile,
		"SECUREFLOW_SESSIONS_ACTIONS="+catalog,
		"SECUREFLOW_SESSIONS_ACTION_HOSTS=127.0.0.1",
		"SECUREFLOW_SESSIONS_PUBLIC_URL="+h.gw,
		// The catalog's bearer token (env:SECUREFLOW_PAYMENTS_TOKEN).
		"SECUREFLOW_PAYMENTS_TOKEN="+payToken,
		// Everything the gateway logs is searched for the card.
		"SECUREFLOW_LOG_LEVEL=debug",
		"SECUREFLOW_LOG_FORMAT=json",
	)
	t.Cleanup(func() {
		if h.child != nil {
			_ = h.child.Process.Kill()
			_ = h.child.Wait()
		}
		if t.Failed() {
			t.Logf("gateway errors and warnings:\n%s\n%s", grepLines(h.logs.String(), `"level":"ERROR"`), grepLines(h.logs.String(), `"level":"WARN"`))
		}
	})
	return h
}

// randomHex returns a fresh credential for the emulators and the child.
func randomHex(t *testing.T) string {
	t.Helper()
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// startChild starts a gateway process and waits until it is ready.
func (h *sessionCrashHarness) startChild() {
	h.t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = h.env
	cmd.Stdout, cmd.Stderr = h.logs, h.logs
	if err := cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	h.child = cmd
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := waitReady(ctx, h.gw); err != nil {
		h.t.Fatalf("gateway did not start: %v\n%s", err, h.logs.String())
	}
}

// kill ends the gateway with SIGKILL: no shutdown code runs.
func (h *sessionCrashHarness) kill() {
	h.t.Helper()
	if err := h.child.Process.Signal(syscall.SIGKILL); err != nil {
		h.t.Fatal(err)
	}
	_ = h.child.Wait()
	h.child = nil
}

func (h *sessionCrashHarness) cardFields() map[string]string {
	return map[string]string{"card": h.card, "expiry": "12/" + time.Now().AddDate(3, 0, 0).Format("06"), "cvv": "737"}
}

var sessionIDRE = regexp.MustCompile(`Secure session started: take-payment \((ss_[0-9a-f]+)\)`)

// startPayment opens the conversation, has the agent start take-payment,
// and waits for the secure link. It returns the customer's sender and the
// session id the agent was shown.
func (h *sessionCrashHarness) startPayment() (func(string), string) {
	t := h.t
	t.Helper()
	send := func(text string) {
		t.Helper()
		if _, err := h.wa.SendCustomerMessage(context.Background(), waemu.CustomerMessage{From: h.from, Name: "Di", Text: text}); err != nil {
			t.Fatal(err)
		}
	}
	send("I want to pay my order " + label(h.from))
	waitFor(t, "the first message at the contact centre", 60*time.Second, func() bool { return len(receivedTexts(h.gc)[h.from]) == 1 })
	conv, ok := h.gc.ConversationFor(h.from)
	if !ok {
		t.Fatal("no conversation")
	}
	if _, err := h.gc.SendAgentMessage(context.Background(), conv, "/secure take-payment amount=49.90 order_id=A-1001"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the secure link", 60*time.Second, func() bool { return linkRE.MatchString(lastSentTo(h.wa, h.from)) })
	var id string
	waitFor(t, "the agent's session notice", 60*time.Second, func() bool {
		m := sessionIDRE.FindStringSubmatch(joined(receivedTexts(h.gc)[h.from]))
		if m != nil {
			id = m[1]
		}
		return m != nil
	})
	return send, id
}

// waitPaid waits for both ends of a paid session.
func (h *sessionCrashHarness) waitPaid() {
	h.t.Helper()
	waitFor(h.t, "the summary to the agent", 60*time.Second, func() bool {
		return countReceived(h.gc, h.from, "Payment approved: BRL 49.90 for order A-1001") >= 1
	})
	waitFor(h.t, "the customer's confirmation", 60*time.Second, func() bool {
		return countSent(h.wa, h.from, "Payment approved, thank you") >= 1
	})
}

// finish waits for the gateway to go quiet, kills it, and checks what both
// sides saw, what the store holds, and where the card went.
func (h *sessionCrashHarness) finish(sessionID string) {
	t := h.t
	t.Helper()
	h.waitQuiet()
	h.kill()

	// Nothing is left to deliver, so what the emulators recorded is all
	// the customer and the agent will ever see.
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(h.dir, "secureflow.db"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := db.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.OutboxPending != 0 || st.InboxPending != 0 {
		t.Errorf("left in the store: %d outbox, %d inbox pending: lost or late messages", st.OutboxPending, st.InboxPending)
	}
	if dl, err := db.DeadLetters(ctx, 10); err != nil || len(dl) > 0 {
		t.Errorf("dead letters: %+v, %v", dl, err)
	}
	outcome := h.sessionOutcome(ctx, db, sessionID)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if outcome.Status != store.SessionEnded || outcome.Outcome != "paid" {
		t.Errorf("session %s: status %q, outcome %q; want ended, paid", sessionID, outcome.Status, outcome.Outcome)
	}

	if n := h.pay.ChargeCount(); n != 1 {
		t.Errorf("charged %d times, want 1", n)
	}
	// What the customer sees: every accepted send, resends included. A send
	// carries no idempotency key (whatsapp.md §2): the emulator counts a
	// repeated biz_opaque_callback_data as a resend but records it, as
	// WhatsApp would deliver it.
	wantCustomer := []string{
		"To pay BRL 49.90 securely",
		"Please enter your card on this secure page:",
		"card ending in " + h.card[12:] + "?", // "Pay BRL 49.90 with the visa card ending in 1234?"
		"Payment approved, thank you!",
	}
	checkTranscript(t, "the customer", sentTexts(h.wa)[h.from], wantCustomer)
	if n := h.wa.Resends(); n != 0 {
		t.Errorf("WhatsApp got %d resends: the customer saw duplicates", n)
	}
	// What the agent sees: channel.messageId is the provider's unique id
	// of a message (genesys.md §1.2); the emulator answers a resend that
	// repeats one like the first call and does not add it to Received, so
	// Received is the agent's transcript.
	wantAgent := []string{
		"I want to pay my order " + label(h.from),
		"Secure session started: take-payment (" + sessionID + ")",
		"received",
		"Charging BRL 49.90 to card " + h.card[:6],
		"Secure session ended (paid): Payment approved: BRL 49.90 for order A-1001",
	}
	checkTranscript(t, "the agent", receivedTexts(h.gc)[h.from], wantAgent)
	if n := countReceived(h.gc, h.from, "Payment approved"); n != 1 {
		t.Errorf("the agent got %d \"Payment approved\" summaries, want 1", n)
	}

	if !bytes.Contains(bytes.Join(h.pay.Requests(), nil), []byte(h.card)) {
		t.Fatal("the card did not reach the processor: the leak check below would prove nothing")
	}
	assertAbsent(t, h.dir, map[string]string{"card": h.card}, map[string][]byte{
		"contact-centre raw bodies": bytes.Join(h.gc.RawBodies(), []byte("\n")),
		"customer raw bodies":       rawSent(h.wa),
		"gateway logs":              []byte(h.logs.String()),
	})
}

// checkTranscript fails unless texts are exactly one text per want, each
// containing its want, in order.
func checkTranscript(t *testing.T, who string, texts, want []string) {
	t.Helper()
	ok := len(texts) == len(want)
	for i := 0; ok && i < len(want); i++ {
		ok = strings.Contains(texts[i], want[i])
	}
	if !ok {
		t.Errorf("%s saw %d texts, want %d, once each and in order:\n got: %q\nwant: %q", who, len(texts), len(want), texts, want)
	}
}

// waitQuiet waits until neither emulator nor the processor has recorded
// anything new for a while: the flow's last effects are out, and a late
// duplicate would have had time to show.
func (h *sessionCrashHarness) waitQuiet() {
	h.t.Helper()
	snapshot := func() string {
		w, g := h.wa.Stats(), h.gc.Stats()
		return fmt.Sprint(w.Sent, w.Rejected, w.ReadMarks, w.Pending, g.Received, g.Resends, g.Rejected, g.Receipts, g.Events, len(h.pay.Requests()))
	}
	last, since := snapshot(), time.Now()
	waitFor(h.t, "the gateway to go quiet", 60*time.Second, func() bool {
		if s := snapshot(); s != last {
			last, since = s, time.Now()
		}
		return time.Since(since) >= 2*time.Second
	})
}

// sessionState is what the test reads of a sealed session state.
type sessionState struct {
	Status  string `json:"status"`
	Outcome string `json:"outcome"`
}

// sessionOutcome opens a session's sealed state with the data keyset, as
// the gateway does (associated data "session\x00<id>", package session's
// sessionAD).
func (h *sessionCrashHarness) sessionOutcome(ctx context.Context, db *sqlite.DB, id string) sessionState {
	h.t.Helper()
	aead, err := keyring.ParseKEK(h.kek)
	if err != nil {
		h.t.Fatal(err)
	}
	sealer, err := keyring.LoadOrCreate(filepath.Join(h.dir, "keyset.json"), aead)
	if err != nil {
		h.t.Fatal(err)
	}
	rec, err := db.Session(ctx, id)
	if err != nil {
		h.t.Fatalf("session %s: %v", id, err)
	}
	pt, err := sealer.Open(rec.State, []byte("session\x00"+id))
	if err != nil {
		h.t.Fatalf("session %s: open state: %v", id, err)
	}
	var st sessionState
	if err := json.Unmarshal(pt, &st); err != nil {
		h.t.Fatalf("session %s: decode state: %v", id, err)
	}
	if st.Status != rec.Status {
		h.t.Errorf("session %s: record status %q, state status %q", id, rec.Status, st.Status)
	}
	return st
}

func lastSentTo(wa *waemu.Emulator, to string) string {
	texts := sentTexts(wa)[to]
	if len(texts) == 0 {
		return ""
	}
	return texts[len(texts)-1]
}

// countSent counts the texts sent to a customer that contain sub.
func countSent(wa *waemu.Emulator, to, sub string) int {
	n := 0
	for _, text := range sentTexts(wa)[to] {
		if strings.Contains(text, sub) {
			n++
		}
	}
	return n
}

// countReceived counts the texts the contact centre received from a
// customer's conversation that contain sub.
func countReceived(gc *gcemu.Emulator, from, sub string) int {
	n := 0
	for _, text := range receivedTexts(gc)[from] {
		if strings.Contains(text, sub) {
			n++
		}
	}
	return n
}

// dropUntil keeps the requests match selects from the upstream until
// release: they wait, then are dropped unanswered (their caller is dead by
// then). Later ones pass.
type dropUntil struct {
	match       func(*http.Request, []byte) bool
	released    chan struct{}
	releaseOnce sync.Once
}

func newDropUntil(match func(*http.Request, []byte) bool) *dropUntil {
	return &dropUntil{match: match, released: make(chan struct{})}
}

func (d *dropUntil) release() { d.releaseOnce.Do(func() { close(d.released) }) }

func (d *dropUntil) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "unreadable body", http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		select {
		case <-d.released:
			next.ServeHTTP(w, r)
			return
		default:
		}
		if !d.match(r, body) {
			next.ServeHTTP(w, r)
			return
		}
		select {
		case <-d.released:
		case <-r.Context().Done():
		}
		http.Error(w, "dropped", http.StatusServiceUnavailable)
	})
}

// holdFirst lets the upstream handle the first request that match
// selects (a charge is recorded and its idempotency key remembered; a
// WhatsApp send is accepted) but holds its answer until release, as an
// answer lost in a crash. It records the Idempotency-Key of every matching
// request.
type holdFirst struct {
	match       func(*http.Request, []byte) bool
	done        chan struct{} // closed once the held request was handled
	released    chan struct{}
	releaseOnce sync.Once

	mu   sync.Mutex
	held bool
	idem []string
}

func newHoldFirst(match func(*http.Request, []byte) bool) *holdFirst {
	return &holdFirst{match: match, done: make(chan struct{}), released: make(chan struct{})}
}

func (c *holdFirst) release() { c.releaseOnce.Do(func() { close(c.released) }) }

// handled waits until the held request was handled by the upstream.
func (c *holdFirst) handled(t *testing.T, what string) {
	t.Helper()
	select {
	case <-c.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

func (c *holdFirst) keys() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.idem...)
}

func (c *holdFirst) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "unreadable body", http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		if !c.match(r, body) {
			next.ServeHTTP(w, r)
			return
		}
		c.mu.Lock()
		c.idem = append(c.idem, r.Header.Get("Idempotency-Key"))
		hold := !c.held
		c.held = true
		c.mu.Unlock()
		if !hold {
			next.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(httptest.NewRecorder(), r) // handled; the answer is kept from the caller
		close(c.done)
		<-c.released
		// Never written: the caller that waited for it is dead.
	})
}
