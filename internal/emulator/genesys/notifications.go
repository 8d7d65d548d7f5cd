package genesys

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/secureflow/secureflow/internal/emulator/internal/emulate"
)

// Notifications API defaults.
const (
	// MaxChannels is the number of notification channels an OAuth client
	// may hold; creating one more evicts the oldest (genesys.md §3.3: max 20
	// channels per user/app).
	MaxChannels = 20
	// DefaultHeartbeatInterval is the period of the socket heartbeat
	// (inference: genesys.md §3.3 names the heartbeat, not its period).
	DefaultHeartbeatInterval = 30 * time.Second
	// DefaultChannelTTL is a channel's lifetime (inference: the fact sheet
	// gives the expires field, not its value).
	DefaultChannelTTL = 24 * time.Hour
	// socketQueue bounds the notifications waiting to be written to one
	// socket; beyond it they are dropped, as a real stream loses events a
	// slow reader cannot take.
	socketQueue = 256
)

// notifChannel is a notification channel (genesys.md §3.3). Guarded by e.mu.
type notifChannel struct {
	id      string
	expires time.Time
	topics  []string // subscribed topics, in subscription order
	sock    *socket  // the connected WebSocket, nil when none
}

// socket is one connected WebSocket. out and closing are used under e.mu.
type socket struct {
	out       chan []byte
	closing   chan struct{} // closed to send socket_closing and close
	closeOnce sync.Once
}

func (s *socket) requestClose() { s.closeOnce.Do(func() { close(s.closing) }) }

// NotificationChannel describes one notification channel.
type NotificationChannel struct {
	// ID is the channel id.
	ID string `json:"id"`
	// Topics are the subscribed topics.
	Topics []string `json:"topics"`
	// Connected reports whether a WebSocket is connected to it.
	Connected bool `json:"connected"`
	// Expires is when it stops accepting connections and subscriptions.
	Expires time.Time `json:"expires"`
}

// NotificationChannels returns the live channels, oldest first.
func (e *Emulator) NotificationChannels() []NotificationChannel {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := []NotificationChannel{}
	for _, ch := range e.channels {
		out = append(out, NotificationChannel{ID: ch.id, Topics: slices.Clone(ch.topics), Connected: ch.sock != nil, Expires: ch.expires})
	}
	return out
}

// CloseNotifications sends v2.system.socket_closing on every connected
// socket and then closes it (genesys.md §3.3), so tests can exercise a
// client's reconnection. Channels and their subscriptions remain.
func (e *Emulator) CloseNotifications() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, ch := range e.channels {
		if ch.sock != nil {
			ch.sock.requestClose()
		}
	}
}

// channelLocked returns a live channel.
func (e *Emulator) channelLocked(id string) *notifChannel {
	i := slices.IndexFunc(e.channels, func(c *notifChannel) bool { return c.id == id })
	if i < 0 || !e.cfg.Now().Before(e.channels[i].expires) {
		return nil
	}
	return e.channels[i]
}

// publishLocked sends a notification to every connected socket whose
// channel subscribes to topic and records it.
func (e *Emulator) publishLocked(topic string, body any) {
	msg, err := json.Marshal(map[string]any{"topicName": topic, "version": "2", "eventBody": body})
	if err != nil {
		return
	}
	sent := 0
	for _, ch := range e.channels {
		if ch.sock == nil || !slices.Contains(ch.topics, topic) {
			continue
		}
		select {
		case ch.sock.out <- msg:
			sent++
		default:
			e.log.Warn("notification dropped: socket queue full", "channel", ch.id, "topic", topic)
		}
	}
	e.stats.Notifications += int64(sent)
	e.published.Push(Notification{Topic: topic, Body: msg, Sockets: sent, Time: e.cfg.Now()})
}

// Notification is one event the emulator published.
type Notification struct {
	// Topic is the topicName.
	Topic string `json:"topic"`
	// Body is the WebSocket message as sent.
	Body json.RawMessage `json:"body"`
	// Sockets is how many connected sockets it was written to.
	Sockets int `json:"sockets"`
	// Time is when it was published.
	Time time.Time `json:"time"`
}

// Published returns the events published, oldest first, including those no
// socket received.
func (e *Emulator) Published() []Notification {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.published.All()
}

// publishUserEndLocked publishes v2.detail.events.conversation.{id}.user.end
// for an agent participant that left (genesys.md §3.3: conversationId,
// participantId, userId, queueId, mediaType MESSAGE, messageType OPEN,
// disconnectType; eventTime in epoch milliseconds as the Go SDK types it).
func (e *Emulator) publishUserEndLocked(conversationID string, p Participant, at time.Time) {
	e.publishLocked("v2.detail.events.conversation."+conversationID+".user.end", map[string]any{
		"eventTime": at.UnixMilli(), "conversationId": conversationID, "participantId": p.ID,
		"userId": p.UserID, "queueId": p.QueueID, "mediaType": "MESSAGE", "messageType": "OPEN",
		"disconnectType": p.DisconnectType,
	})
}

// handleCreateChannel is POST /api/v2/notifications/channels → {id,
// connectUri, expires} (genesys.md §3.3). connectUri points at this
// emulator's WebSocket, ws:// or wss:// as the request came.
func (e *Emulator) handleCreateChannel(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	e.keepRaw(raw)
	if ae := e.authenticate(r); ae != nil {
		e.writeAPIError(w, ae)
		return
	}
	ch := &notifChannel{id: newUUID(), expires: e.cfg.Now().Add(e.cfg.ChannelTTL)}
	e.mu.Lock()
	if len(e.channels) >= MaxChannels {
		old := e.channels[0]
		e.channels = e.channels[1:]
		if old.sock != nil {
			old.sock.requestClose()
		}
	}
	e.channels = append(e.channels, ch)
	e.mu.Unlock()
	scheme := "ws"
	if r.TLS != nil {
		scheme = "wss"
	}
	emulate.WriteJSON(w, http.StatusOK, map[string]string{
		"id":         ch.id,
		"connectUri": scheme + "://" + r.Host + Prefix + "/notifications/channels/" + ch.id,
		"expires":    ch.expires.UTC().Format(timeLayout),
	})
}

// handleSubscriptions serves GET, PUT (replace the set) and POST (add to
// it) /api/v2/notifications/channels/{channelId}/subscriptions with a body
// [{"id": topic}, ...] (genesys.md §3.3). It answers the resulting set as
// {"entities":[{"id": topic}, ...]} (inference: the SDK's
// ChannelTopicEntityListing).
func (e *Emulator) handleSubscriptions(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	e.keepRaw(raw)
	if ae := e.authenticate(r); ae != nil {
		e.writeAPIError(w, ae)
		return
	}
	var topics []string
	if r.Method != http.MethodGet {
		var body []struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(raw, &body); err != nil {
			e.writeAPIError(w, badRequest("The body must be an array of {\"id\": topic}."))
			return
		}
		for i, t := range body {
			if strings.TrimSpace(t.ID) == "" {
				e.writeAPIError(w, badRequest("[%d].id (the topic) is required.", i))
				return
			}
			topics = append(topics, t.ID)
		}
	}
	e.mu.Lock()
	ch := e.channelLocked(r.PathValue("channelId"))
	if ch == nil {
		e.mu.Unlock()
		e.writeAPIError(w, notFound("Channel not found."))
		return
	}
	switch r.Method {
	case http.MethodPut:
		ch.topics = nil
		fallthrough
	case http.MethodPost:
		for _, t := range topics {
			if !slices.Contains(ch.topics, t) {
				ch.topics = append(ch.topics, t)
			}
		}
		e.stats.Subscriptions++
	}
	type entity struct {
		ID string `json:"id"`
	}
	out := []entity{}
	for _, t := range ch.topics {
		out = append(out, entity{t})
	}
	e.mu.Unlock()
	emulate.WriteJSON(w, http.StatusOK, map[string]any{"entities": out})
}

// handleSocket is the channel's WebSocket (genesys.md §3.3). No bearer
// token is asked: the connectUri itself grants access (inference). It
// sends a heartbeat every Config.HeartbeatInterval and the published events
// of the channel's topics; a new connection to the same channel replaces
// the previous one.
func (e *Emulator) handleSocket(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("channelId")
	e.mu.Lock()
	ok := e.channelLocked(id) != nil
	e.mu.Unlock()
	if !ok {
		e.writeAPIError(w, notFound("Channel not found or expired."))
		return
	}
	e.mu.Lock()
	if e.closed() {
		e.mu.Unlock()
		e.writeAPIError(w, notFound("Channel not found or expired."))
		return
	}
	e.sockets.Add(1) // under e.mu: Close closes done under it before Wait
	e.mu.Unlock()
	defer e.sockets.Done()
	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		return // Accept has answered
	}
	defer conn.CloseNow()
	s := &socket{out: make(chan []byte, socketQueue), closing: make(chan struct{})}
	e.mu.Lock()
	ch := e.channelLocked(id)
	if ch == nil {
		e.mu.Unlock()
		conn.Close(websocket.StatusPolicyViolation, "channel expired")
		return
	}
	if ch.sock != nil {
		ch.sock.requestClose()
	}
	ch.sock = s
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		if ch.sock == s {
			ch.sock = nil
		}
		e.mu.Unlock()
	}()

	// Incoming messages are not part of the protocol; CloseRead discards
	// them and ends ctx when the client goes away.
	ctx := conn.CloseRead(context.Background())
	hb := time.NewTicker(e.cfg.HeartbeatInterval)
	defer hb.Stop()
	write := func(msg []byte) bool {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		return conn.Write(wctx, websocket.MessageText, msg) == nil
	}
	heartbeat := []byte(`{"topicName":"channel.metadata","eventBody":{"message":"WebSocket Heartbeat"}}`)
	for {
		select {
		case <-ctx.Done():
			return
		case <-e.done:
			conn.Close(websocket.StatusGoingAway, "emulator closed")
			return
		case msg := <-s.out:
			if !write(msg) {
				return
			}
		case <-hb.C:
			if !write(heartbeat) {
				return
			}
		case <-s.closing:
			// genesys.md §3.3: v2.system.socket_closing precedes the close.
			// Its eventBody is not given in the fact sheet (inference).
			write([]byte(`{"topicName":"v2.system.socket_closing","eventBody":{"message":"Socket closing"}}`))
			conn.Close(websocket.StatusNormalClosure, "socket closing")
			return
		}
	}
}

func (e *Emulator) handleNotificationChannels(w http.ResponseWriter, r *http.Request) {
	emulate.WriteJSON(w, http.StatusOK, map[string]any{"channels": e.NotificationChannels()})
}

func (e *Emulator) handleCloseNotifications(w http.ResponseWriter, r *http.Request) {
	e.CloseNotifications()
	emulate.WriteJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

func (e *Emulator) handlePublished(w http.ResponseWriter, r *http.Request) {
	_, limit, ok := emulate.PageParams(w, r)
	if !ok {
		return
	}
	emulate.WriteJSON(w, http.StatusOK, map[string]any{"notifications": emulate.NonNil(emulate.Last(e.Published(), limit))})
}
