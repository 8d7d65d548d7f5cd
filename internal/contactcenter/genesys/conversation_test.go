package genesys_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secureflow/secureflow/internal/contactcenter/genesys"
	emu "github.com/secureflow/secureflow/internal/emulator/genesys"
	"github.com/secureflow/secureflow/internal/secret"
)

// clientSecretCanary is the OAuth client secret in emulator tests: it must
// never appear in logs or errors.
const clientSecretCanary = "CANARY-client-secret-7f3a"

type emuEnv struct {
	e      *emu.Emulator
	srv    *httptest.Server
	tokens *genesys.TokenSource
	client *genesys.Client
	api    string
}

func newEmuEnv(t *testing.T, opts ...func(*emu.Config)) *emuEnv {
	t.Helper()
	cfg := emu.Config{WebhookSecret: []byte("a-webhook-secret-longer-than-15"), ClientID: "client",
		ClientSecret: clientSecretCanary, HeartbeatInterval: 20 * time.Millisecond}
	for _, o := range opts {
		o(&cfg)
	}
	e, err := emu.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(e.Handler())
	// Cleanups run last-in first-out: the emulator closes its sockets
	// before the server waits for its handlers.
	t.Cleanup(srv.Close)
	t.Cleanup(func() { _ = e.Close() })
	ts := genesys.NewTokenSource(srv.URL+"/emulator/genesys/login", "client", secret.FromString(clientSecretCanary), srv.Client(), nil)
	api := srv.URL + "/emulator/genesys"
	return &emuEnv{e: e, srv: srv, tokens: ts, api: api,
		client: genesys.NewClient(api, emu.DefaultIntegrationID, ts, srv.Client())}
}

// start opens a conversation for customer and returns its id.
func (env *emuEnv) start(t *testing.T, customer string, attrs map[string]string) string {
	t.Helper()
	_, err := env.client.SendMessage(context.Background(), genesys.InboundMessage{
		MessageID: "m-" + customer, From: genesys.Customer{ID: customer, IDType: "Phone", Nickname: "N"},
		Time: time.Now(), Text: "hello", CustomAttributes: attrs})
	if err != nil {
		t.Fatal(err)
	}
	id, ok := env.e.ConversationFor(customer)
	if !ok {
		t.Fatal("no conversation")
	}
	return id
}

func TestCustomAttributesRoundTrip(t *testing.T) {
	env := newEmuEnv(t)
	attrs := map[string]string{"secureSession": "tok_abc123", "flow": "card"}
	env.start(t, "5511900000001", attrs)
	env.start(t, "5511900000002", nil)
	got := env.e.Received()
	if len(got) != 2 || !equalMaps(got[0].CustomAttributes, attrs) || got[1].CustomAttributes != nil {
		t.Fatalf("received = %+v", got)
	}
	raw := env.e.RawBodies()
	// genesys.md §1.2: channel.metadata.customAttributes, omitted when empty.
	if !bytes.Contains(raw[0], []byte(`"metadata":{"customAttributes":{`)) || bytes.Contains(raw[1], []byte(`"metadata"`)) {
		t.Fatalf("bodies:\n%s\n%s", raw[0], raw[1])
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestConversationTransferDisconnect(t *testing.T) {
	env := newEmuEnv(t, func(c *emu.Config) { c.Queues = map[string]string{"Secure": "q-secure"} })
	ctx := context.Background()
	id := env.start(t, "5511900000003", nil)

	conv, err := env.client.GetConversation(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	agent, ok := conv.Agent()
	if conv.ID != id || len(conv.Participants) != 3 || !ok || agent.UserID != emu.DefaultAgentUserID ||
		agent.QueueID != emu.DefaultQueueID || agent.Purpose != "agent" || agent.State != "connected" || agent.ID == "" {
		t.Fatalf("conversation = %+v, agent %+v %v", conv, agent, ok)
	}
	if conv.Participants[0].Purpose != "customer" || conv.Participants[1].Purpose != "acd" {
		t.Errorf("participants = %+v", conv.Participants)
	}

	for _, q := range []genesys.QueueRef{{}, {ID: "q", Name: "Secure"}} {
		if err := env.client.TransferToQueue(ctx, id, agent.ID, q); !errors.Is(err, genesys.ErrInvalidQueue) {
			t.Errorf("TransferToQueue(%+v) = %v", q, err)
		}
	}
	if err := env.client.TransferToQueue(ctx, id, agent.ID, genesys.QueueRef{Name: "Secure"}); err != nil {
		t.Fatal(err)
	}
	tr := env.e.Transfers()
	if len(tr) != 1 || tr[0].ParticipantID != agent.ID || tr[0].QueueID != "q-secure" || tr[0].TransferType != "Unattended" {
		t.Fatalf("transfers = %+v", tr)
	}
	conv, err = env.client.GetConversation(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := conv.Agent(); ok {
		t.Errorf("agent still connected after transfer: %+v", conv.Participants)
	}
	last := conv.Participants[len(conv.Participants)-1]
	if last.Purpose != "acd" || last.QueueID != "q-secure" || last.State != "connected" {
		t.Errorf("new acd participant = %+v", last)
	}

	// Errors are *APIError with the status; 404 is not retryable.
	for name, call := range map[string]func() error{
		"get":        func() error { _, err := env.client.GetConversation(ctx, "nope"); return err },
		"transfer":   func() error { return env.client.TransferToQueue(ctx, id, "nope", genesys.QueueRef{ID: "q"}) },
		"disconnect": func() error { return env.client.Disconnect(ctx, "nope") },
	} {
		var ae *genesys.APIError
		if err := call(); !errors.As(err, &ae) || ae.Status != 404 || ae.Retryable() {
			t.Errorf("%s: %v", name, err)
		}
	}

	if err := env.client.Disconnect(ctx, id); err != nil {
		t.Fatal(err)
	}
	conv, _ = env.client.GetConversation(ctx, id)
	for _, p := range conv.Participants {
		if p.State != "disconnected" {
			t.Errorf("after Disconnect: %+v", p)
		}
	}
	if raw := env.e.RawBodies(); !slices.ContainsFunc(raw, func(b []byte) bool { return string(b) == `{"state":"disconnected"}` }) {
		t.Error(`no {"state":"disconnected"} body sent`)
	}
}

// TestConversationErrors checks status handling with a fake server:
// 429 carries Retry-After, 5xx is retryable, 4xx is not.
func TestConversationErrors(t *testing.T) {
	var mu sync.Mutex
	status := 0
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/oauth/token" {
			w.Write([]byte(`{"access_token":"t","expires_in":3600}`))
			return
		}
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.Path)
		s := status
		mu.Unlock()
		if s == 429 {
			w.Header().Set("Retry-After", "3")
		}
		w.WriteHeader(s)
	}))
	defer srv.Close()
	ts := genesys.NewTokenSource(srv.URL, "c", secret.FromString("s"), srv.Client(), nil)
	c := genesys.NewClient(srv.URL, "i", ts, srv.Client())
	ctx := context.Background()
	calls := []struct {
		want string
		call func() error
	}{
		{"GET /api/v2/conversations/messages/c1", func() error { _, err := c.GetConversation(ctx, "c1"); return err }},
		{"POST /api/v2/conversations/c1/participants/p1/replace/queue", func() error {
			return c.TransferToQueue(ctx, "c1", "p1", genesys.QueueRef{ID: "q"})
		}},
		{"PATCH /api/v2/conversations/messages/c1", func() error { return c.Disconnect(ctx, "c1") }},
	}
	for _, tc := range []struct {
		status     int
		retryable  bool
		retryAfter time.Duration
	}{{429, true, 3 * time.Second}, {503, true, 0}, {400, false, 0}, {404, false, 0}} {
		mu.Lock()
		status, seen = tc.status, nil
		mu.Unlock()
		for _, call := range calls {
			var ae *genesys.APIError
			err := call.call()
			if !errors.As(err, &ae) || ae.Status != tc.status || ae.Retryable() != tc.retryable || ae.RetryAfter() != tc.retryAfter {
				t.Errorf("%s with %d: %v", call.want, tc.status, err)
			}
		}
		mu.Lock()
		for i, call := range calls {
			if i >= len(seen) || seen[i] != call.want {
				t.Errorf("request %d = %v, want %s", i, seen, call.want)
			}
		}
		mu.Unlock()
	}
}

// events collects Notifications callbacks.
type events struct {
	mu         sync.Mutex
	ends       []genesys.UserEnd
	reconnects [][]string
}

func (ev *events) onUserEnd(u genesys.UserEnd) {
	ev.mu.Lock()
	ev.ends = append(ev.ends, u)
	ev.mu.Unlock()
}
func (ev *events) onReconnect(w []string) {
	ev.mu.Lock()
	ev.reconnects = append(ev.reconnects, w)
	ev.mu.Unlock()
}

func (ev *events) counts() (int, int) {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	return len(ev.ends), len(ev.reconnects)
}

func (ev *events) end(i int) genesys.UserEnd {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	return ev.ends[i]
}

func (ev *events) lastReconnect() []string {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	return ev.reconnects[len(ev.reconnects)-1]
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestNotifications(t *testing.T) {
	var clockMu sync.Mutex
	now := time.Now()
	clock := func() time.Time { clockMu.Lock(); defer clockMu.Unlock(); return now }
	env := newEmuEnv(t, func(c *emu.Config) { c.Now = clock; c.ChannelTTL = time.Hour })
	var logs syncBuffer
	ev := &events{}
	n, err := genesys.NewNotifications(genesys.NotificationsConfig{
		APIURL: env.api, Tokens: env.tokens, HTTPClient: env.srv.Client(),
		Logger:    slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		OnUserEnd: ev.onUserEnd, OnReconnect: ev.onReconnect,
		ReconnectMin: 5 * time.Millisecond, ReconnectMax: 20 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- n.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-runErr; !errors.Is(err, context.Canceled) {
			t.Errorf("Run = %v", err)
		}
	}()

	watched := env.start(t, "5511900000010", nil)
	other := env.start(t, "5511900000011", nil)
	eventually(t, "first connection", func() bool { _, r := ev.counts(); return r == 1 })
	if err := n.Run(ctx); !errors.Is(err, genesys.ErrRunning) {
		t.Errorf("second Run = %v", err)
	}
	if err := n.Watch(ctx, watched); err != nil {
		t.Fatal(err)
	}
	chs := env.e.NotificationChannels()
	if len(chs) != 1 || !slices.Equal(chs[0].Topics, []string{genesys.UserEndTopic(watched)}) {
		t.Fatalf("channels = %+v", chs)
	}

	// The agent leaves: OnUserEnd once, with the right ids.
	if _, err := env.e.AgentLeave(other); err != nil {
		t.Fatal(err)
	}
	left, err := env.e.AgentLeave(watched)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "user.end", func() bool { e, _ := ev.counts(); return e >= 1 })
	got := ev.end(0)
	want := genesys.UserEnd{ConversationID: watched, ParticipantID: left.ID, UserID: emu.DefaultAgentUserID,
		QueueID: emu.DefaultQueueID, DisconnectType: "CLIENT", At: now.Truncate(time.Millisecond).UTC()}
	if got != want {
		t.Fatalf("UserEnd = %+v\nwant %+v", got, want)
	}

	// The server closes the socket: the client reconnects, re-subscribes,
	// and reports the watched set; a second leave is still seen.
	subs := env.e.Stats().Subscriptions
	env.e.CloseNotifications()
	eventually(t, "reconnection", func() bool { _, r := ev.counts(); return r == 2 })
	if w := ev.lastReconnect(); !slices.Equal(w, []string{watched}) {
		t.Errorf("OnReconnect(%v)", w)
	}
	if s := env.e.Stats().Subscriptions; s <= subs {
		t.Errorf("no re-subscription after reconnect (%d calls, before %d)", s, subs)
	}
	if _, err := env.e.ConnectAgent(watched, "agent-2", "Bia"); err != nil {
		t.Fatal(err)
	}
	if _, err := env.e.AgentLeave(watched); err != nil {
		t.Fatal(err)
	}
	eventually(t, "second user.end", func() bool { e, _ := ev.counts(); return e == 2 })
	if u := ev.end(1); u.UserID != "agent-2" || u.ConversationID != watched {
		t.Errorf("second UserEnd = %+v", u)
	}

	// The channel expires and the socket drops: the client makes a new
	// channel (the old one is refused) and subscribes it.
	firstChannel := env.e.NotificationChannels()[0].ID
	clockMu.Lock()
	now = now.Add(2 * time.Hour)
	clockMu.Unlock()
	env.e.CloseNotifications()
	eventually(t, "new channel", func() bool {
		for _, c := range env.e.NotificationChannels() {
			if c.ID != firstChannel && c.Connected && slices.Equal(c.Topics, []string{genesys.UserEndTopic(watched)}) {
				return true
			}
		}
		return false
	})
	eventually(t, "third connection", func() bool { _, r := ev.counts(); return r == 3 })
	if _, err := env.e.ConnectAgent(watched, "agent-3", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := env.e.AgentLeave(watched); err != nil {
		t.Fatal(err)
	}
	eventually(t, "third user.end", func() bool { e, _ := ev.counts(); return e == 3 })

	// Unwatch: the topic is removed and a leave is not delivered.
	if err := n.Unwatch(ctx, watched); err != nil {
		t.Fatal(err)
	}
	if len(n.Watched()) != 0 {
		t.Errorf("Watched = %v", n.Watched())
	}
	if _, err := env.e.ConnectAgent(watched, "agent-4", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := env.e.AgentLeave(watched); err != nil {
		t.Fatal(err)
	}
	pub := env.e.Published()
	if p := pub[len(pub)-1]; p.Topic != genesys.UserEndTopic(watched) || p.Sockets != 0 {
		t.Errorf("last publication = %+v", p)
	}
	time.Sleep(100 * time.Millisecond)
	if e, _ := ev.counts(); e != 3 {
		t.Errorf("%d user.end after Unwatch, want 3", e)
	}

	// Canary: neither the client secret, nor the access token, nor a
	// channel id (the stream's credential) is logged.
	tok, err := env.tokens.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	if !strings.Contains(out, "notification stream connected") {
		t.Fatalf("logs do not show the connection: %s", out)
	}
	for _, leak := range []string{clientSecretCanary, tok, firstChannel, env.e.NotificationChannels()[1].ID} {
		if strings.Contains(out, leak) {
			t.Errorf("logs contain %q:\n%s", leak, out)
		}
	}
}

// TestNotificationsErrorsRedacted checks that failed channel and
// subscription calls neither log nor return the client secret, the token or
// a channel id.
func TestNotificationsErrorsRedacted(t *testing.T) {
	env := newEmuEnv(t)
	ctx := context.Background()
	// A wrong client secret: channel creation fails with 401.
	wrong := "CANARY-wrong-secret-91b2"
	bad := genesys.NewTokenSource(env.srv.URL+"/emulator/genesys/login", "client", secret.FromString(wrong), env.srv.Client(), nil)
	var logs syncBuffer
	n, err := genesys.NewNotifications(genesys.NotificationsConfig{APIURL: env.api, Tokens: bad, HTTPClient: env.srv.Client(),
		Logger: slog.New(slog.NewTextHandler(&logs, nil)), OnUserEnd: func(genesys.UserEnd) {},
		ReconnectMin: time.Millisecond, ReconnectMax: 2 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if err := n.Run(rctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Run = %v", err)
	}
	out := logs.String()
	if !strings.Contains(out, "http 401") || strings.Contains(out, wrong) || strings.Contains(out, clientSecretCanary) {
		t.Fatalf("logs:\n%s", out)
	}
	// Watch before any channel exists only records the conversation.
	if err := n.Watch(ctx, "c1"); err != nil || !slices.Equal(n.Watched(), []string{"c1"}) {
		t.Fatalf("Watch = %v, %v", err, n.Watched())
	}
	if err := n.Watch(ctx, ""); err == nil {
		t.Error("Watch(\"\") accepted")
	}
	if _, err := genesys.NewNotifications(genesys.NotificationsConfig{APIURL: env.api}); err == nil {
		t.Error("NewNotifications without Tokens and OnUserEnd accepted")
	}
}

// TestDisconnectParticipant releases the agent alone: the customer stays.
func TestDisconnectParticipant(t *testing.T) {
	env := newEmuEnv(t)
	ctx := context.Background()
	id := env.start(t, "5511900000009", nil)
	conv, err := env.client.GetConversation(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	agent, ok := conv.Agent()
	if !ok {
		t.Fatal("no agent")
	}
	if err := env.client.DisconnectParticipant(ctx, id, agent.ID); err != nil {
		t.Fatal(err)
	}
	conv, _ = env.client.GetConversation(ctx, id)
	if _, ok := conv.Agent(); ok {
		t.Fatalf("agent still connected: %+v", conv.Participants)
	}
	if conv.Participants[0].Purpose != "customer" || conv.Participants[0].State != "connected" {
		t.Fatalf("the customer was disconnected too: %+v", conv.Participants)
	}
	var ae *genesys.APIError
	if err := env.client.DisconnectParticipant(ctx, id, "nope"); !errors.As(err, &ae) || ae.Status != 404 {
		t.Fatalf("unknown participant: %v", err)
	}
	if err := env.client.DisconnectParticipant(ctx, "", agent.ID); err == nil {
		t.Fatal("an empty conversation id was accepted")
	}
}
