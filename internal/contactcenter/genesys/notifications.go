package genesys

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/secureflow/secureflow/internal/retry"
)

// Notification topics and messages (genesys.md §3.3).
const (
	// topicHeartbeat is the channel's keep-alive: {"topicName":
	// "channel.metadata","eventBody":{"message":"WebSocket Heartbeat"}}.
	topicHeartbeat = "channel.metadata"
	// topicSocketClosing announces that the server will close the socket;
	// the client reconnects (genesys.md §3.3, Microsoft's handoff sample).
	topicSocketClosing = "v2.system.socket_closing"
)

// UserEndTopic is the per-conversation topic that reports a user (agent)
// participant leaving (genesys.md §3.3).
func UserEndTopic(conversationID string) string {
	return "v2.detail.events.conversation." + conversationID + ".user.end"
}

// Defaults of NotificationsConfig.
const (
	DefaultReconnectMin = time.Second
	DefaultReconnectMax = 30 * time.Second
	// DefaultIdleTimeout is how long the socket may stay silent before the
	// client gives up on it: three missed heartbeats. The heartbeat period
	// (30 s) is what the emulator uses; genesys.md does not state it
	// (inference).
	DefaultIdleTimeout = 95 * time.Second
	// channelExpiryMargin: a channel this close to its expiry is replaced
	// rather than reused.
	channelExpiryMargin = time.Minute
)

// UserEnd is a v2.detail.events.conversation.{id}.user.end event: a user
// participant (the agent) left the conversation (genesys.md §3.3; field
// names from the Go SDK's userenddetaileventtopicuserendevent.go).
type UserEnd struct {
	ConversationID string
	ParticipantID  string
	UserID         string
	QueueID        string
	// DisconnectType is e.g. CLIENT, ENDPOINT, TRANSFER, SYSTEM,
	// INACTIVITY, SESSION_EXPIRED (genesys.md §3.3).
	DisconnectType string
	// At is eventTime.
	At time.Time
}

// NotificationsConfig configures Notifications. APIURL, Tokens and
// OnUserEnd are required.
type NotificationsConfig struct {
	// APIURL is https://api.<region> (the same base as NewClient's).
	APIURL string
	// Tokens authenticates the channel and subscription calls.
	Tokens *TokenSource
	// HTTPClient makes the API calls and the WebSocket handshake. Nil means
	// http.DefaultClient.
	HTTPClient *http.Client
	// Logger receives connection logs (never tokens, nor the channel id or
	// connectUri, which grant access to the stream). Nil discards them.
	Logger *slog.Logger
	// OnUserEnd is called, from Run's goroutine, for each user.end event
	// of a watched conversation.
	OnUserEnd func(UserEnd)
	// OnReconnect is called, from Run's goroutine, after every connection
	// has been established and subscribed, with the conversations watched
	// at that moment. Events published while no socket was connected are
	// not replayed by Genesys (inference: genesys.md §3.3 describes no
	// replay), so the caller should re-check each of them with
	// Client.GetConversation (Conversation.Agent) to catch an agent who
	// left in the gap. It is called after the first connection too,
	// because Watch calls made before Run connected have the same gap. It
	// should not block for long: events are not read meanwhile.
	OnReconnect func(watched []string)
	// ReconnectMin and ReconnectMax bound the exponential backoff between
	// connection attempts; zero means DefaultReconnectMin and
	// DefaultReconnectMax.
	ReconnectMin, ReconnectMax time.Duration
	// IdleTimeout closes and replaces a socket that has carried nothing,
	// not even a heartbeat, for this long; zero means DefaultIdleTimeout.
	IdleTimeout time.Duration
}

// Notifications follows the Notifications API (genesys.md §3.3) to learn
// when agents leave watched conversations. Run keeps one channel and its
// WebSocket alive; Watch and Unwatch maintain the subscribed topics. It is
// safe for concurrent use.
//
// Subscriptions are set with PUT .../subscriptions, which replaces the
// channel's whole topic set, rather than POST, which adds to it (genesys.md
// §3.3 offers both): the watched set kept here is then the single source
// of truth, one idempotent call restores it on a new channel or after a
// reconnect, a failed call can simply be retried, and Unwatch can remove a
// topic, which POST cannot express.
type Notifications struct {
	cfg NotificationsConfig
	log *slog.Logger
	api string

	running atomic.Bool

	// subMu serializes subscription calls so that the PUTs reach Genesys
	// in the order the sets were computed.
	subMu sync.Mutex

	mu        sync.Mutex
	watched   map[string]bool
	channelID string    // current channel, "" when none
	expires   time.Time // its expiry
}

// NewNotifications validates cfg and returns a Notifications; call Run to
// connect.
func NewNotifications(cfg NotificationsConfig) (*Notifications, error) {
	if cfg.APIURL == "" || cfg.Tokens == nil || cfg.OnUserEnd == nil {
		return nil, errors.New("genesys: notifications: APIURL, Tokens and OnUserEnd are required")
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = http.DefaultClient
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ReconnectMin <= 0 {
		cfg.ReconnectMin = DefaultReconnectMin
	}
	if cfg.ReconnectMax <= 0 {
		cfg.ReconnectMax = max(DefaultReconnectMax, cfg.ReconnectMin)
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	return &Notifications{
		cfg:     cfg,
		log:     cfg.Logger.With("component", "genesys.notifications"),
		api:     strings.TrimRight(cfg.APIURL, "/"),
		watched: make(map[string]bool),
	}, nil
}

// Watched returns the watched conversation ids, sorted.
func (n *Notifications) Watched() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.watchedLocked()
}

func (n *Notifications) watchedLocked() []string {
	out := make([]string, 0, len(n.watched))
	for id := range n.watched {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// Watch subscribes to the user.end topic of a conversation. When a channel
// is open the whole watched set is PUT at once, and on failure the
// conversation is not watched; when none is open yet, Run subscribes it
// after connecting and nil is returned.
func (n *Notifications) Watch(ctx context.Context, conversationID string) error {
	if conversationID == "" {
		return errors.New("genesys: watch: empty conversation id")
	}
	return n.update(ctx, "watch", func() bool {
		if n.watched[conversationID] {
			return false
		}
		n.watched[conversationID] = true
		return true
	}, func() { delete(n.watched, conversationID) })
}

// Unwatch stops following a conversation. Its events are no longer
// delivered, even one already in flight. When the PUT fails the
// conversation stays unwatched locally and the error is returned; the next
// reconnect or Watch sends the corrected set.
func (n *Notifications) Unwatch(ctx context.Context, conversationID string) error {
	return n.update(ctx, "unwatch", func() bool {
		if !n.watched[conversationID] {
			return false
		}
		delete(n.watched, conversationID)
		return true
	}, nil)
}

// update applies change to the watched set and PUTs the result; undo, if
// not nil, reverts change when the PUT fails.
func (n *Notifications) update(ctx context.Context, op string, change func() bool, undo func()) error {
	n.subMu.Lock()
	defer n.subMu.Unlock()
	n.mu.Lock()
	changed := change()
	ch := n.channelID
	topics := n.watchedLocked()
	n.mu.Unlock()
	if !changed || ch == "" {
		return nil
	}
	if err := n.putSubscriptions(ctx, ch, topics); err != nil {
		if undo != nil {
			n.mu.Lock()
			undo()
			n.mu.Unlock()
		}
		return fmt.Errorf("genesys: %s: %w", op, err)
	}
	return nil
}

// resubscribe PUTs the whole watched set on channel ch and returns it.
func (n *Notifications) resubscribe(ctx context.Context, ch string) ([]string, error) {
	n.subMu.Lock()
	defer n.subMu.Unlock()
	ids := n.Watched()
	return ids, n.putSubscriptions(ctx, ch, ids)
}

// putSubscriptions is PUT /api/v2/notifications/channels/{channelId}/subscriptions
// with [{"id": topic}, ...] (genesys.md §3.3).
func (n *Notifications) putSubscriptions(ctx context.Context, ch string, conversationIDs []string) error {
	type topic struct {
		ID string `json:"id"`
	}
	body := make([]topic, 0, len(conversationIDs))
	for _, id := range conversationIDs {
		body = append(body, topic{UserEndTopic(id)})
	}
	u := n.api + "/api/v2/notifications/channels/" + url.PathEscape(ch) + "/subscriptions"
	return doJSON(ctx, n.cfg.HTTPClient, n.cfg.Tokens, "subscribe", http.MethodPut, u, body, nil)
}

// channelInfo is the answer of POST /api/v2/notifications/channels
// (genesys.md §3.3: {id, connectUri, expires}).
type channelInfo struct {
	ID         string    `json:"id"`
	ConnectURI string    `json:"connectUri"`
	Expires    time.Time `json:"expires"`
}

func (n *Notifications) createChannel(ctx context.Context) (channelInfo, error) {
	var ci channelInfo
	if err := doJSON(ctx, n.cfg.HTTPClient, n.cfg.Tokens, "create channel", http.MethodPost,
		n.api+"/api/v2/notifications/channels", struct{}{}, &ci); err != nil {
		return channelInfo{}, err
	}
	if ci.ID == "" || ci.ConnectURI == "" {
		return channelInfo{}, &APIError{Op: "create channel", Status: http.StatusOK, Detail: "answer without id or connectUri"}
	}
	return ci, nil
}

// ErrRunning is returned by a Run called while another Run is active.
var ErrRunning = errors.New("genesys: notifications: already running")

// errSocketClosing ends a session when the server announced its close.
var errSocketClosing = errors.New("genesys: notifications: server is closing the socket")

// Run connects and keeps the notification stream alive until ctx ends,
// then returns ctx's error. It creates a channel, dials its connectUri,
// subscribes the watched set, and reads events. On any error, on
// v2.system.socket_closing and on a silent socket it reconnects with
// exponential backoff and re-subscribes; it creates a new channel when the
// current one nears expiry or its socket is refused with a 4xx (the
// channel is gone, e.g. evicted: genesys.md §3.3, at most 20 channels).
// A second Run while one is active returns ErrRunning at once.
func (n *Notifications) Run(ctx context.Context) error {
	if !n.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer n.running.Store(false)
	backoff := retry.Backoff{Initial: n.cfg.ReconnectMin, Max: n.cfg.ReconnectMax}
	var ci channelInfo
	failures := 0
	for {
		connected, err := n.session(ctx, &ci)
		if ctx.Err() != nil {
			n.mu.Lock()
			n.channelID = ""
			n.mu.Unlock()
			return ctx.Err()
		}
		if connected {
			failures = 0
		}
		delay := backoff.Delay(failures, 0, nil)
		if errors.Is(err, errSocketClosing) {
			delay = n.cfg.ReconnectMin
		}
		failures++
		n.log.Warn("notification stream interrupted; reconnecting", "err", err, "delay", delay)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// session runs one connection: channel, socket, subscription, read loop.
// connected reports whether the socket was up and subscribed.
func (n *Notifications) session(ctx context.Context, ci *channelInfo) (connected bool, err error) {
	if ci.ID == "" || !time.Now().Before(ci.Expires.Add(-channelExpiryMargin)) {
		fresh, err := n.createChannel(ctx)
		if err != nil {
			return false, err
		}
		*ci = fresh
		// The channel id is not logged: with the host it is the connectUri,
		// which grants access to the stream.
		n.log.Info("notification channel created", "expires", ci.Expires)
	}
	conn, resp, err := websocket.Dial(ctx, ci.ConnectURI, &websocket.DialOptions{HTTPClient: n.cfg.HTTPClient})
	if err != nil {
		if resp != nil && resp.StatusCode >= 400 && resp.StatusCode < 500 {
			// The channel is unknown or expired: start over with a new one.
			n.log.Info("notification channel refused; creating a new one", "status", resp.StatusCode)
			*ci = channelInfo{}
		}
		// The error text of a failed dial may quote the URL; keep it out.
		return false, &APIError{Op: "connect notifications", Detail: "websocket handshake failed", Status: statusOf(resp)}
	}
	defer conn.CloseNow()
	conn.SetReadLimit(1 << 20)

	n.mu.Lock()
	n.channelID, n.expires = ci.ID, ci.Expires
	n.mu.Unlock()
	defer func() {
		n.mu.Lock()
		n.channelID = ""
		n.mu.Unlock()
	}()
	watched, err := n.resubscribe(ctx, ci.ID)
	if err != nil {
		var ae *APIError
		if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
			*ci = channelInfo{}
		}
		return false, err
	}
	n.log.Info("notification stream connected", "watched", len(watched))
	if n.cfg.OnReconnect != nil {
		n.cfg.OnReconnect(watched)
	}

	// Replace the channel shortly before it expires.
	life := time.Until(ci.Expires.Add(-channelExpiryMargin))
	sctx, cancel := context.WithTimeout(ctx, max(life, time.Second))
	defer cancel()
	for {
		rctx, rcancel := context.WithTimeout(sctx, n.cfg.IdleTimeout)
		_, data, err := conn.Read(rctx)
		rcancel()
		if err != nil {
			if ctx.Err() == nil && sctx.Err() != nil {
				*ci = channelInfo{} // expiring: the next session makes a new channel
				conn.Close(websocket.StatusNormalClosure, "channel expiring")
				return true, errors.New("genesys: notifications: channel expiring")
			}
			return true, fmt.Errorf("genesys: notifications: read: %w", err)
		}
		if err := n.handle(data); err != nil {
			conn.Close(websocket.StatusNormalClosure, "")
			return true, err
		}
	}
}

func statusOf(resp *http.Response) int {
	if resp == nil {
		return 0
	}
	return resp.StatusCode
}

// notification is one WebSocket message (genesys.md §3.3: {"topicName",
// "version", "eventBody"}).
type notification struct {
	TopicName string          `json:"topicName"`
	Version   string          `json:"version"`
	EventBody json.RawMessage `json:"eventBody"`
}

// userEndBody is the eventBody of a user.end event (genesys.md §3.3; the Go
// SDK types eventTime as an integer, epoch milliseconds (inference)).
type userEndBody struct {
	EventTime      int64  `json:"eventTime"`
	ConversationID string `json:"conversationId"`
	ParticipantID  string `json:"participantId"`
	UserID         string `json:"userId"`
	QueueID        string `json:"queueId"`
	DisconnectType string `json:"disconnectType"`
}

// handle processes one message; it returns errSocketClosing when the
// server announced its close.
func (n *Notifications) handle(data []byte) error {
	var m notification
	if err := json.Unmarshal(data, &m); err != nil {
		n.log.Warn("notification is not JSON; ignored", "bytes", len(data))
		return nil
	}
	switch {
	case m.TopicName == topicHeartbeat:
		return nil
	case m.TopicName == topicSocketClosing:
		return errSocketClosing
	case strings.HasPrefix(m.TopicName, "v2.detail.events.conversation.") && strings.HasSuffix(m.TopicName, ".user.end"):
		var b userEndBody
		if err := json.Unmarshal(m.EventBody, &b); err != nil {
			n.log.Warn("user.end event body unreadable; ignored", "topic", m.TopicName)
			return nil
		}
		conv := strings.TrimSuffix(strings.TrimPrefix(m.TopicName, "v2.detail.events.conversation."), ".user.end")
		if b.ConversationID == "" {
			b.ConversationID = conv
		}
		n.mu.Lock()
		watched := n.watched[b.ConversationID]
		n.mu.Unlock()
		if !watched {
			return nil
		}
		ev := UserEnd{ConversationID: b.ConversationID, ParticipantID: b.ParticipantID, UserID: b.UserID,
			QueueID: b.QueueID, DisconnectType: b.DisconnectType}
		if b.EventTime > 0 {
			ev.At = time.UnixMilli(b.EventTime).UTC()
		}
		n.cfg.OnUserEnd(ev)
	default:
		n.log.Debug("notification ignored", "topic", m.TopicName)
	}
	return nil
}
