package store

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned when a lookup matches nothing.
var ErrNotFound = errors.New("not found")

// InboxEvent is one accepted webhook event (a customer message, a status, an
// agent message), stored before the webhook is acknowledged.
type InboxEvent struct {
	// ID is assigned by the store, increasing in acceptance order.
	ID int64
	// Source is the delivering side, e.g. "whatsapp" or "genesys".
	Source string
	// DedupeKey identifies the event within Source; a second event with the
	// same (Source, DedupeKey) is a redelivery and is not stored again.
	DedupeKey string
	// Conversation is the ordering key: events of one conversation are
	// processed in order.
	Conversation string
	// OccurredAt is the event's own timestamp, as the channel reported it.
	OccurredAt time.Time
	// ReceivedAt is when the gateway accepted it.
	ReceivedAt time.Time
	// Payload is the sealed event; nil once processed.
	Payload []byte
}

// OutboxMessage is one message to deliver to a destination.
type OutboxMessage struct {
	// ID is assigned by the store, increasing in enqueue order.
	ID int64
	// Lane is the ordering key: one lane delivers strictly in ID order, one
	// message at a time. Lanes are independent.
	Lane string
	// Destination is the receiving side, e.g. "genesys" or "whatsapp".
	Destination string
	// Kind distinguishes messages, receipts and read marks.
	Kind string
	// IdempotencyKey is unique; enqueuing it again is a no-op, and the
	// dispatcher sends it to the receiver so a resend can be dropped there.
	IdempotencyKey string
	// Conversation is the conversation the message belongs to.
	Conversation string
	// Ref is the id of the corresponding message on the other side (the
	// WhatsApp message id for a message forwarded to Genesys, the Genesys
	// message id for one forwarded to WhatsApp), used to route receipts.
	Ref string
	// Payload is the sealed message; nil once delivered.
	Payload []byte
	// Attempts counts delivery attempts that failed and were rescheduled.
	Attempts int
	// NextAttemptAt is the earliest time the message may be (re)tried.
	NextAttemptAt time.Time
	// CreatedAt is when it was enqueued.
	CreatedAt time.Time
	// ExternalID is the id the destination assigned, once delivered.
	ExternalID string
	// DeadLetter, when set on a message being enqueued, is why it can never
	// be delivered (a direct delivery that failed for good): it goes
	// straight to the dead letters with its sealed payload.
	DeadLetter string
}

// Completion records that an inbox event was processed, and what it
// produced, atomically.
type Completion struct {
	// InboxID is the processed event.
	InboxID int64
	// Outbox lists the messages the event produced (possibly none).
	Outbox []OutboxMessage
	// Sessions lists secure-session states the event produced, saved in
	// the same transaction as the outbox messages (see SessionRecord).
	Sessions []SessionRecord
	// PeerConversationID is the contact centre's id of the event's
	// conversation, when delivering the event reported it (a direct
	// delivery, which has no outbox row to carry it); it is remembered on
	// the conversation, as Delivery.PeerConversationID is.
	PeerConversationID string
}

// Claim bounds the claim CompleteAndClaim makes: at most Limit messages
// (none if zero), each leased for Lease.
type Claim struct {
	Lease time.Duration
	Limit int
}

// Session statuses.
const (
	SessionActive = "active"
	SessionEnded  = "ended"
)

// SessionRecord is the durable state of one secure session. The engine's
// state is sealed in State; the other fields are what the store indexes.
type SessionRecord struct {
	// ID is the session id.
	ID string
	// Conversation is the gateway's conversation key (the customer's
	// channel id); at most one active session per conversation.
	Conversation string
	// PeerConversationID is the contact centre's conversation id, when
	// known.
	PeerConversationID string
	// Flow is the flow's id.
	Flow string
	// Status is SessionActive or SessionEnded.
	Status string
	// Seq counts applied transitions. A save with a Seq not above the
	// stored one is ignored, so a replayed transition cannot roll state
	// back.
	Seq int64
	// Deadline is when the session's next timer fires (zero: none).
	Deadline time.Time
	// State is the engine's sealed state.
	State []byte
	// CreatedAt, UpdatedAt and EndedAt (zero while active) bound it.
	CreatedAt, UpdatedAt, EndedAt time.Time
}

// SessionStore reads secure sessions; they are written through
// Store.CompleteInbox, atomically with the outbox messages they produce.
type SessionStore interface {
	// Session returns a session by id, or ErrNotFound.
	Session(ctx context.Context, id string) (SessionRecord, error)
	// ActiveSession returns the active session of a conversation, or
	// ErrNotFound.
	ActiveSession(ctx context.Context, conversation string) (SessionRecord, error)
	// ActiveSessionByPeer returns the active session whose contact-centre
	// conversation id is peer, or ErrNotFound.
	ActiveSessionByPeer(ctx context.Context, peer string) (SessionRecord, error)
	// ActiveSessions lists active sessions, up to limit, in id order after
	// afterID ("" for the first page).
	ActiveSessions(ctx context.Context, afterID string, limit int) ([]SessionRecord, error)
	// DueSessions lists active sessions whose deadline is at or before
	// now, up to limit, earliest first.
	DueSessions(ctx context.Context, now time.Time, limit int) ([]SessionRecord, error)
}

// Delivery records a successful delivery.
type Delivery struct {
	// ID is the outbox message.
	ID int64
	// ExternalID is the id the destination assigned, if any.
	ExternalID string
	// PeerConversationID is the destination's conversation id, if it
	// reported one (Genesys does); it is remembered on the conversation.
	PeerConversationID string
	// At is the delivery time.
	At time.Time
}

// DeadLetter is a message that will never be delivered, kept sealed for an
// operator to inspect or replay.
type DeadLetter struct {
	ID int64
	// OutboxID is the outbox row it was moved from; 0 for a message that
	// was dead-lettered as it was enqueued (OutboxMessage.DeadLetter).
	OutboxID       int64
	Lane           string
	Destination    string
	Kind           string
	IdempotencyKey string
	Conversation   string
	Payload        []byte
	Attempts       int
	Reason         string
	CreatedAt      time.Time
}

// Conversation is what the gateway remembers about one conversation.
type Conversation struct {
	// Key is the gateway's conversation key.
	Key string
	// PeerConversationID is the contact centre's conversation id, once
	// known.
	PeerConversationID string
	// CreatedAt and LastActivityAt bound its activity.
	CreatedAt, LastActivityAt time.Time
}

// Stats counts rows by state, for readiness and metrics.
type Stats struct {
	InboxPending, InboxDone        int64
	OutboxPending, OutboxDelivered int64
	DeadLetters, Conversations     int64
}

// Store is the persistence contract. Every method is safe for concurrent use.
// Implementations: store/sqlite (embedded default) and store/postgres; both
// pass storetest.Run.
type Store interface {
	// AppendInbox stores events durably in one transaction and reports, per
	// event, whether it was new (false: a redelivery, already stored).
	// Events must have Source, DedupeKey, Conversation and Payload.
	AppendInbox(ctx context.Context, events []InboxEvent) (accepted []bool, err error)
	// PendingInbox returns up to limit unprocessed events with an ID above
	// afterID, received at or before readyBefore, in ID order.
	PendingInbox(ctx context.Context, readyBefore time.Time, afterID int64, limit int) ([]InboxEvent, error)
	// CompleteInbox atomically marks events processed, enqueues the
	// outbox messages they produced (ignoring idempotency keys already
	// present; Attempts and NextAttemptAt as given, a message with
	// DeadLetter dead-lettered), and records activity on their
	// conversations. Once it
	// returns, PendingInbox no longer returns the events, even after a
	// crash; their payloads are erased then or shortly after.
	CompleteInbox(ctx context.Context, now time.Time, done []Completion) error
	// CompleteAndClaim is CompleteInbox that also claims, in the same
	// transaction, the messages it enqueues that are due and head their
	// lane, as ClaimOutbox would (at most claim.Limit of them, lowest ids
	// first). It returns the claimed messages with their IDs, so that the
	// caller can deliver them without reading them back.
	CompleteAndClaim(ctx context.Context, now time.Time, done []Completion, claim Claim) ([]OutboxMessage, error)

	// PendingLanes reports which of lanes have an undelivered message
	// (due, leased or waiting for a retry).
	PendingLanes(ctx context.Context, lanes []string) (map[string]bool, error)
	// ClaimOutbox leases up to limit messages that are due at now and are
	// each the oldest undelivered message of their lane, so that a lane
	// never has two messages in flight. A lease expires after lease, after
	// which the message is claimable again (the holder crashed).
	ClaimOutbox(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]OutboxMessage, error)
	// MarkDelivered records deliveries, erasing their payloads.
	MarkDelivered(ctx context.Context, deliveries []Delivery) error
	// Reschedule releases the lease on a message after a failed attempt,
	// counts the attempt and sets the next attempt time.
	Reschedule(ctx context.Context, id int64, next time.Time, reason string) error
	// DeadLetter moves a message that can never be delivered out of its
	// lane into the dead-letter table.
	DeadLetter(ctx context.Context, id int64, now time.Time, reason string) error
	// DeadLetters lists dead letters, newest first.
	DeadLetters(ctx context.Context, limit int) ([]DeadLetter, error)
	// FindOutbox finds a delivered or pending message for destination whose
	// idempotency key or external id is id.
	FindOutbox(ctx context.Context, destination, id string) (OutboxMessage, error)
	// DeliverByKey records the delivery of the pending message of
	// destination whose idempotency key is key, learnt from the destination
	// (a status that echoes the key) rather than from the send's answer. It
	// reports whether a pending message was marked delivered.
	DeliverByKey(ctx context.Context, destination, key, externalID string, at time.Time) (bool, error)
	// RecoverLeases releases the leases a crashed predecessor left on
	// messages it had in flight, so they are sent again; messages to a
	// destination in hold are sent no sooner than now plus its duration
	// (time for the destination to report a send that did happen). It
	// returns how many leases were released. Call it once, before claiming.
	RecoverLeases(ctx context.Context, now time.Time, hold map[string]time.Duration) (int64, error)

	// Conversation returns what is known about a conversation.
	Conversation(ctx context.Context, key string) (Conversation, error)

	// Prune deletes processed inbox events received before inboxBefore
	// (their dedupe keys expire with them) and delivered outbox messages
	// delivered before outboxBefore. It returns the number of rows deleted.
	Prune(ctx context.Context, inboxBefore, outboxBefore time.Time) (int64, error)
	// Stats counts rows by state.
	Stats(ctx context.Context) (Stats, error)
	// Ping checks that the store is reachable.
	Ping(ctx context.Context) error
	// Close releases the store.
	Close() error
}
