package genesys_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/secureflow/secureflow/internal/emulator/genesys"
)

const channelsPath = "/emulator/genesys/api/v2/notifications/channels"

type channelInfo struct {
	ID, ConnectURI string
	Expires        time.Time
}

func newChannel(t *testing.T, call func(method, path, body string) (int, []byte)) channelInfo {
	t.Helper()
	status, body := call("POST", channelsPath, "")
	var ci channelInfo
	if status != 200 || json.Unmarshal(body, &ci) != nil || ci.ID == "" || !strings.HasPrefix(ci.ConnectURI, "ws://") || ci.Expires.IsZero() {
		t.Fatalf("create channel: %d %s", status, body)
	}
	return ci
}

type wsMsg struct {
	TopicName string          `json:"topicName"`
	Version   string          `json:"version"`
	EventBody json.RawMessage `json:"eventBody"`
}

// readUntil reads messages until one has topic (heartbeats are skipped
// unless asked for).
func readUntil(t *testing.T, c *websocket.Conn, topic string) wsMsg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		_, data, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("waiting for %s: %v", topic, err)
		}
		var m wsMsg
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatalf("not JSON: %s", data)
		}
		if m.TopicName == topic {
			return m
		}
	}
}

func TestNotificationsAPI(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	e, srv := newEmulator(t, nil, func(c *genesys.Config) {
		c.Now = clock
		c.HeartbeatInterval = 20 * time.Millisecond
		c.ChannelTTL = time.Hour
	})
	tok := token(t, srv)
	call := func(method, path, body string) (int, []byte) { return apiCall(t, srv, tok, method, path, body) }

	if status, _ := apiCall(t, srv, "", "POST", channelsPath, ""); status != 401 {
		t.Errorf("create without token: %d", status)
	}
	ci := newChannel(t, call)
	if !ci.Expires.Equal(now.Add(time.Hour)) {
		t.Errorf("expires = %v", ci.Expires)
	}
	subs := channelsPath + "/" + ci.ID + "/subscriptions"
	for _, tc := range []struct {
		name, tok, method, path, body string
		status                        int
		want                          string
	}{
		{"no token", "", "PUT", subs, `[{"id":"a"}]`, 401, ""},
		{"unknown channel", tok, "PUT", channelsPath + "/nope/subscriptions", `[{"id":"a"}]`, 404, ""},
		{"not an array", tok, "PUT", subs, `{"id":"a"}`, 400, ""},
		{"empty topic", tok, "PUT", subs, `[{"id":""}]`, 400, ""},
		{"put", tok, "PUT", subs, `[{"id":"a"},{"id":"b"}]`, 200, `{"entities":[{"id":"a"},{"id":"b"}]}`},
		{"post adds", tok, "POST", subs, `[{"id":"b"},{"id":"c"}]`, 200, `{"entities":[{"id":"a"},{"id":"b"},{"id":"c"}]}`},
		{"put replaces", tok, "PUT", subs, `[{"id":"c"}]`, 200, `{"entities":[{"id":"c"}]}`},
		{"get", tok, "GET", subs, "", 200, `{"entities":[{"id":"c"}]}`},
		{"put empty", tok, "PUT", subs, `[]`, 200, `{"entities":[]}`},
	} {
		status, body := apiCall(t, srv, tc.tok, tc.method, tc.path, tc.body)
		if status != tc.status || (tc.want != "" && strings.TrimSpace(string(body)) != tc.want) {
			t.Errorf("%s: %d %s, want %d %s", tc.name, status, body, tc.status, tc.want)
		}
	}
	if s := e.Stats(); s.Subscriptions != 4 {
		t.Errorf("subscriptions = %d, want 4", s.Subscriptions)
	}

	// The socket: heartbeats, user.end of subscribed topics only.
	ctx := context.Background()
	if _, resp, err := websocket.Dial(ctx, strings.Replace(ci.ConnectURI, ci.ID, "nope", 1), nil); err == nil || resp == nil || resp.StatusCode != 404 {
		t.Fatalf("unknown channel socket: %v %v", err, resp)
	}
	conn, _, err := websocket.Dial(ctx, ci.ConnectURI, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	hb := readUntil(t, conn, "channel.metadata")
	if string(hb.EventBody) != `{"message":"WebSocket Heartbeat"}` {
		t.Errorf("heartbeat = %s", hb.EventBody)
	}
	post(t, srv, tok, "message", message("m1", "frank", "hi"))
	post(t, srv, tok, "message", message("m2", "gina", "hi"))
	frank, _ := e.ConversationFor("frank")
	gina, _ := e.ConversationFor("gina")
	topic := "v2.detail.events.conversation." + frank + ".user.end"
	call("PUT", subs, `[{"id":"`+topic+`"}]`)
	if _, err := e.AgentLeave(gina); err != nil { // not subscribed: not sent
		t.Fatal(err)
	}
	agent, err := e.AgentLeave(frank)
	if err != nil {
		t.Fatal(err)
	}
	m := readUntil(t, conn, topic)
	var ev map[string]any
	_ = json.Unmarshal(m.EventBody, &ev)
	want := map[string]any{"conversationId": frank, "participantId": agent.ID, "userId": genesys.DefaultAgentUserID,
		"queueId": genesys.DefaultQueueID, "mediaType": "MESSAGE", "messageType": "OPEN", "disconnectType": "CLIENT",
		"eventTime": float64(now.UnixMilli())}
	if m.Version != "2" || len(ev) != len(want) {
		t.Errorf("event = %s %s", m.Version, m.EventBody)
	}
	for k, v := range want {
		if ev[k] != v {
			t.Errorf("eventBody.%s = %v, want %v", k, ev[k], v)
		}
	}
	if pub := e.Published(); len(pub) != 2 || pub[0].Sockets != 0 || pub[1].Sockets != 1 {
		t.Errorf("published = %+v", pub)
	}
	if chs := e.NotificationChannels(); len(chs) != 1 || !chs[0].Connected || len(chs[0].Topics) != 1 {
		t.Errorf("channels = %+v", chs)
	}

	// Control close: socket_closing, then the server closes the socket.
	if status, _ := control(t, srv, "POST", "/emulator/genesys/notifications/close", ""); status != 200 {
		t.Fatal(status)
	}
	readUntil(t, conn, "v2.system.socket_closing")
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for {
		if _, _, err := conn.Read(rctx); err != nil {
			if websocket.CloseStatus(err) != websocket.StatusNormalClosure {
				t.Errorf("close: %v", err)
			}
			break
		}
	}

	// After expiry the channel refuses sockets and subscriptions.
	mu.Lock()
	now = now.Add(2 * time.Hour)
	mu.Unlock()
	if _, resp, err := websocket.Dial(ctx, ci.ConnectURI, nil); err == nil || resp == nil || resp.StatusCode != 404 {
		t.Errorf("expired channel socket: %v", err)
	}
	if status, _ := call("PUT", subs, `[]`); status != 404 {
		t.Errorf("expired channel subscriptions: %d", status)
	}
}

func TestChannelEviction(t *testing.T) {
	e, srv := newEmulator(t, nil)
	tok := token(t, srv)
	call := func(method, path, body string) (int, []byte) { return apiCall(t, srv, tok, method, path, body) }
	first := newChannel(t, call)
	for range genesys.MaxChannels {
		newChannel(t, call)
	}
	chs := e.NotificationChannels()
	if len(chs) != genesys.MaxChannels || chs[0].ID == first.ID {
		t.Fatalf("%d channels, oldest %s (first %s)", len(chs), chs[0].ID, first.ID)
	}
	if status, _ := call("GET", channelsPath+"/"+first.ID+"/subscriptions", ""); status != 404 {
		t.Errorf("evicted channel: %d", status)
	}
}

func TestCloseEndsSockets(t *testing.T) {
	e, srv := newEmulator(t, nil)
	tok := token(t, srv)
	ci := newChannel(t, func(method, path, body string) (int, []byte) { return apiCall(t, srv, tok, method, path, body) })
	conn, _, err := websocket.Dial(context.Background(), ci.ConnectURI, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	done := make(chan struct{})
	go func() { _ = e.Close(); close(done) }()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, _, err := conn.Read(ctx); websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Errorf("read after Close: %v", err)
	}
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("Close did not return")
	}
}
