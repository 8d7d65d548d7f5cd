package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/secureflow/secureflow/internal/waflows"
)

// WAFlowStore implements waflows.Store on the gateway's database
// (migration 00005_waflows.sql). Get one with DB.WAFlows; it shares the
// DB's connections and is closed with it. It stores only token hashes and
// field descriptions, never a token or a submitted value.
type WAFlowStore struct {
	db *DB
	grantTable
}

var _ waflows.Store = (*WAFlowStore)(nil)

// WAFlows returns the WhatsApp Flows token store backed by db.
func (db *DB) WAFlows() *WAFlowStore {
	return &WAFlowStore{db: db, grantTable: grantTable{db: db, table: "waflow_tokens", what: "flow token",
		notFound: waflows.ErrNotFound, used: waflows.ErrUsed}}
}

// Create implements waflows.Store.
func (s *WAFlowStore) Create(ctx context.Context, g waflows.Grant) error {
	fields, err := json.Marshal(g.Fields)
	if err != nil {
		return fmt.Errorf("sqlite: create flow token: %w", err)
	}
	return s.db.inTx(ctx, durable, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO waflow_tokens
			(hash, session, step, locale, fields, created_at, expires_at, used_at, attempts)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			g.Hash, g.Session, g.Step, g.Locale, string(fields), ms(g.CreatedAt), ms(g.ExpiresAt),
			ms(g.UsedAt), g.Attempts); err != nil {
			return fmt.Errorf("sqlite: create flow token: %w", err)
		}
		return nil
	})
}

// ByHash implements waflows.Store.
func (s *WAFlowStore) ByHash(ctx context.Context, hash []byte) (waflows.Grant, error) {
	var g waflows.Grant
	var fields string
	var created, expires, used int64
	err := s.db.r.QueryRowContext(ctx, `SELECT hash, session, step, locale, fields, created_at, expires_at,
		used_at, attempts FROM waflow_tokens WHERE hash = ?`, hash).
		Scan(&g.Hash, &g.Session, &g.Step, &g.Locale, &fields, &created, &expires, &used, &g.Attempts)
	if errors.Is(err, sql.ErrNoRows) {
		return waflows.Grant{}, fmt.Errorf("sqlite: flow token: %w", waflows.ErrNotFound)
	}
	if err != nil {
		return waflows.Grant{}, fmt.Errorf("sqlite: flow token: %w", err)
	}
	if err := json.Unmarshal([]byte(fields), &g.Fields); err != nil {
		return waflows.Grant{}, fmt.Errorf("sqlite: flow token fields: %w", err)
	}
	g.CreatedAt, g.ExpiresAt, g.UsedAt = fromMS(created), fromMS(expires), fromMS(used)
	return g, nil
}

// CountAttempt implements waflows.Store.
func (s *WAFlowStore) CountAttempt(ctx context.Context, hash []byte) (int, error) {
	return s.countAttempt(ctx, hash)
}

// Consume implements waflows.Store with a conditional update, so that of
// concurrent calls exactly one succeeds.
func (s *WAFlowStore) Consume(ctx context.Context, hash []byte, at time.Time) error {
	return s.consume(ctx, hash, at)
}

// RevokeSession implements waflows.Store: the session's unused tokens
// expire at at.
func (s *WAFlowStore) RevokeSession(ctx context.Context, session string, at time.Time) error {
	return s.revokeSession(ctx, session, at)
}

// DeleteExpiredFlowTokens deletes tokens that expired or were used before
// before, and returns how many. Run it periodically.
func (s *WAFlowStore) DeleteExpiredFlowTokens(ctx context.Context, before time.Time) (int64, error) {
	return s.deleteExpired(ctx, before)
}
