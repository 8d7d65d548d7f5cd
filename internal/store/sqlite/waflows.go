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
}

var _ waflows.Store = (*WAFlowStore)(nil)

// WAFlows returns the WhatsApp Flows token store backed by db.
func (db *DB) WAFlows() *WAFlowStore { return &WAFlowStore{db: db} }

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

// exists tells ErrNotFound from a condition that did not hold, after a
// conditional update changed no row.
func (s *WAFlowStore) exists(ctx context.Context, tx *sql.Tx, hash []byte) error {
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM waflow_tokens WHERE hash = ?`, hash).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return waflows.ErrNotFound
	}
	return err
}

// CountAttempt implements waflows.Store.
func (s *WAFlowStore) CountAttempt(ctx context.Context, hash []byte) (int, error) {
	var n int
	err := s.db.inTx(ctx, durable, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `UPDATE waflow_tokens SET attempts = attempts + 1 WHERE hash = ?
			RETURNING attempts`, hash).Scan(&n)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sqlite: count flow attempt: %w", waflows.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("sqlite: count flow attempt: %w", err)
		}
		return nil
	})
	return n, err
}

// Consume implements waflows.Store with a conditional update, so that of
// concurrent calls exactly one succeeds.
func (s *WAFlowStore) Consume(ctx context.Context, hash []byte, at time.Time) error {
	return s.db.inTx(ctx, durable, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE waflow_tokens SET used_at = ? WHERE hash = ? AND used_at = 0`,
			max(ms(at), 1), hash)
		if err != nil {
			return fmt.Errorf("sqlite: consume flow token: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("sqlite: consume flow token: %w", err)
		}
		if n == 1 {
			return nil
		}
		if err := s.exists(ctx, tx, hash); err != nil {
			return fmt.Errorf("sqlite: consume flow token: %w", err)
		}
		return fmt.Errorf("sqlite: consume flow token: %w", waflows.ErrUsed)
	})
}

// RevokeSession implements waflows.Store: the session's unused tokens
// expire at at.
func (s *WAFlowStore) RevokeSession(ctx context.Context, session string, at time.Time) error {
	return s.db.inTx(ctx, durable, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE waflow_tokens SET expires_at = ?
			WHERE session = ? AND used_at = 0 AND expires_at > ?`, ms(at), session, ms(at)); err != nil {
			return fmt.Errorf("sqlite: revoke session flow tokens: %w", err)
		}
		return nil
	})
}

// DeleteExpiredFlowTokens deletes tokens that expired or were used before
// before, and returns how many. Run it periodically.
func (s *WAFlowStore) DeleteExpiredFlowTokens(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := s.db.inTx(ctx, crashSafe, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM waflow_tokens WHERE expires_at < ? OR (used_at > 0 AND used_at < ?)`,
			ms(before), ms(before))
		if err != nil {
			return fmt.Errorf("sqlite: delete expired flow tokens: %w", err)
		}
		n, err = res.RowsAffected()
		if err != nil {
			return fmt.Errorf("sqlite: delete expired flow tokens: %w", err)
		}
		return nil
	})
	return n, err
}
