package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/secureflow/secureflow/internal/store"
)

var _ store.SessionStore = (*DB)(nil)

const sessionCols = `id, conversation, peer_conversation_id, flow, status, seq, deadline, state, created_at, updated_at, ended_at`

// qSaveSession inserts a session or moves it forward: a row whose seq is
// not below the saved one's is left alone, so replaying a transition
// cannot roll a session back.
const qSaveSession = `INSERT INTO sessions (` + sessionCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (id) DO UPDATE SET peer_conversation_id = excluded.peer_conversation_id, status = excluded.status,
		seq = excluded.seq, deadline = excluded.deadline, state = excluded.state, updated_at = excluded.updated_at,
		ended_at = excluded.ended_at
	WHERE excluded.seq > sessions.seq`

func validSession(r store.SessionRecord) error {
	if r.ID == "" || r.Conversation == "" || r.Flow == "" || r.State == nil ||
		(r.Status != store.SessionActive && r.Status != store.SessionEnded) {
		return errors.New("sqlite: session record lacks id, conversation, flow, state or a valid status")
	}
	return nil
}

func saveSessions(ctx context.Context, tx *sql.Tx, now time.Time, rs []store.SessionRecord) error {
	for _, r := range rs {
		created := r.CreatedAt
		if created.IsZero() {
			created = now
		}
		if _, err := tx.ExecContext(ctx, qSaveSession, r.ID, r.Conversation, r.PeerConversationID, r.Flow, r.Status, r.Seq,
			ms(r.Deadline), r.State, ms(created), ms(now), ms(r.EndedAt)); err != nil {
			return fmt.Errorf("sqlite: save session %s: %w", r.ID, err)
		}
	}
	return nil
}

func scanSession(sc interface{ Scan(...any) error }) (store.SessionRecord, error) {
	var r store.SessionRecord
	var deadline, created, updated, ended int64
	err := sc.Scan(&r.ID, &r.Conversation, &r.PeerConversationID, &r.Flow, &r.Status, &r.Seq, &deadline, &r.State,
		&created, &updated, &ended)
	r.Deadline, r.CreatedAt, r.UpdatedAt, r.EndedAt = fromMS(deadline), fromMS(created), fromMS(updated), fromMS(ended)
	return r, err
}

func (db *DB) oneSession(ctx context.Context, where string, arg any) (store.SessionRecord, error) {
	r, err := scanSession(db.r.QueryRowContext(ctx, `SELECT `+sessionCols+` FROM sessions WHERE `+where, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return store.SessionRecord{}, store.ErrNotFound
	}
	if err != nil {
		return store.SessionRecord{}, fmt.Errorf("sqlite: read session: %w", err)
	}
	return r, nil
}

// Session implements store.SessionStore.
func (db *DB) Session(ctx context.Context, id string) (store.SessionRecord, error) {
	return db.oneSession(ctx, `id = ?`, id)
}

// ActiveSession implements store.SessionStore.
func (db *DB) ActiveSession(ctx context.Context, conversation string) (store.SessionRecord, error) {
	return db.oneSession(ctx, `conversation = ? AND status = 'active'`, conversation)
}

// ActiveSessionByPeer implements store.SessionStore.
func (db *DB) ActiveSessionByPeer(ctx context.Context, peer string) (store.SessionRecord, error) {
	if peer == "" {
		return store.SessionRecord{}, store.ErrNotFound
	}
	return db.oneSession(ctx, `peer_conversation_id = ? AND status = 'active'`, peer)
}

func (db *DB) sessions(ctx context.Context, query string, args ...any) ([]store.SessionRecord, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+sessionCols+` FROM sessions WHERE `+query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list sessions: %w", err)
	}
	defer rows.Close()
	var out []store.SessionRecord
	for rows.Next() {
		r, err := scanSession(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list sessions: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list sessions: %w", err)
	}
	return out, nil
}

// ActiveSessions implements store.SessionStore.
func (db *DB) ActiveSessions(ctx context.Context, afterID string, limit int) ([]store.SessionRecord, error) {
	return db.sessions(ctx, `status = 'active' AND id > ? ORDER BY id LIMIT ?`, afterID, limit)
}

// DueSessions implements store.SessionStore.
func (db *DB) DueSessions(ctx context.Context, now time.Time, limit int) ([]store.SessionRecord, error) {
	return db.sessions(ctx, `status = 'active' AND deadline > 0 AND deadline <= ? ORDER BY deadline LIMIT ?`, ms(now), limit)
}
