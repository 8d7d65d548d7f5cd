package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// grantTable holds one-time capture grants: secure links (securelinks)
// and WhatsApp Flow tokens (waflow_tokens). Both tables key a SHA-256 token
// hash to one session step, count invalid attempts, are consumed once,
// expire, and are revoked with their session; the operations below are
// theirs in common, and LinkStore and WAFlowStore add their own reads.
type grantTable struct {
	db *DB
	// table is the table's name: a constant of this package, never input.
	table string
	// what names a grant in errors ("link", "flow token").
	what string
	// notFound and used are the consumer's sentinel errors.
	notFound, used error
}

// exists tells notFound from a condition that did not hold, after a
// conditional update changed no row.
func (g grantTable) exists(ctx context.Context, tx *sql.Tx, hash []byte) error {
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM `+g.table+` WHERE hash = ?`, hash).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return g.notFound
	}
	return err
}

// countAttempt counts an invalid submission and returns the new count.
func (g grantTable) countAttempt(ctx context.Context, hash []byte) (int, error) {
	var n int
	err := g.db.inTx(ctx, durable, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `UPDATE `+g.table+` SET attempts = attempts + 1 WHERE hash = ?
			RETURNING attempts`, hash).Scan(&n)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sqlite: count %s attempt: %w", g.what, g.notFound)
		}
		if err != nil {
			return fmt.Errorf("sqlite: count %s attempt: %w", g.what, err)
		}
		return nil
	})
	return n, err
}

// consume marks a grant used with a conditional update, so that of
// concurrent calls exactly one succeeds; the others get used.
func (g grantTable) consume(ctx context.Context, hash []byte, at time.Time) error {
	return g.db.inTx(ctx, durable, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE `+g.table+` SET used_at = ? WHERE hash = ? AND used_at = 0`,
			max(ms(at), 1), hash)
		if err != nil {
			return fmt.Errorf("sqlite: consume %s: %w", g.what, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("sqlite: consume %s: %w", g.what, err)
		}
		if n == 1 {
			return nil
		}
		if err := g.exists(ctx, tx, hash); err != nil {
			return fmt.Errorf("sqlite: consume %s: %w", g.what, err)
		}
		return fmt.Errorf("sqlite: consume %s: %w", g.what, g.used)
	})
}

// revokeSession makes the session's unused grants expire at at.
func (g grantTable) revokeSession(ctx context.Context, session string, at time.Time) error {
	return g.db.inTx(ctx, durable, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE `+g.table+` SET expires_at = ?
			WHERE session = ? AND used_at = 0 AND expires_at > ?`, ms(at), session, ms(at)); err != nil {
			return fmt.Errorf("sqlite: revoke session %ss: %w", g.what, err)
		}
		return nil
	})
}

// deleteExpired deletes grants that expired or were used before before,
// and returns how many.
func (g grantTable) deleteExpired(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := g.db.inTx(ctx, crashSafe, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM `+g.table+` WHERE expires_at < ? OR (used_at > 0 AND used_at < ?)`,
			ms(before), ms(before))
		if err != nil {
			return fmt.Errorf("sqlite: delete expired %ss: %w", g.what, err)
		}
		n, err = res.RowsAffected()
		if err != nil {
			return fmt.Errorf("sqlite: delete expired %ss: %w", g.what, err)
		}
		return nil
	})
	return n, err
}
