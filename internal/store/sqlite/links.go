package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/secureflow/secureflow/internal/securelink"
)

// LinkStore implements securelink.Store on the gateway's database
// (migration 00004_links.sql). Get one with DB.Links; it shares the DB's
// connections and is closed with it. It stores only token hashes and field
// descriptions, never a token or a submitted value.
type LinkStore struct {
	db *DB
	grantTable
}

var _ securelink.Store = (*LinkStore)(nil)

// Links returns the secure link store backed by db.
func (db *DB) Links() *LinkStore {
	return &LinkStore{db: db, grantTable: grantTable{db: db, table: "securelinks", what: "link",
		notFound: securelink.ErrNotFound, used: securelink.ErrUsed}}
}

// CreateLink implements securelink.Store.
func (ls *LinkStore) CreateLink(ctx context.Context, l securelink.Link) error {
	fields, err := json.Marshal(l.Fields)
	if err != nil {
		return fmt.Errorf("sqlite: create link: %w", err)
	}
	return ls.db.inTx(ctx, durable, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO securelinks
			(hash, session, step, locale, fields, created_at, expires_at, opened_at, used_at, attempts)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			l.Hash, l.Session, l.Step, l.Locale, string(fields), ms(l.CreatedAt), ms(l.ExpiresAt),
			ms(l.OpenedAt), ms(l.UsedAt), l.Attempts); err != nil {
			return fmt.Errorf("sqlite: create link: %w", err)
		}
		return nil
	})
}

// LinkByHash implements securelink.Store.
func (ls *LinkStore) LinkByHash(ctx context.Context, hash []byte) (securelink.Link, error) {
	var l securelink.Link
	var fields string
	var created, expires, opened, used int64
	err := ls.db.r.QueryRowContext(ctx, `SELECT hash, session, step, locale, fields, created_at, expires_at,
		opened_at, used_at, attempts FROM securelinks WHERE hash = ?`, hash).
		Scan(&l.Hash, &l.Session, &l.Step, &l.Locale, &fields, &created, &expires, &opened, &used, &l.Attempts)
	if errors.Is(err, sql.ErrNoRows) {
		return securelink.Link{}, fmt.Errorf("sqlite: link: %w", securelink.ErrNotFound)
	}
	if err != nil {
		return securelink.Link{}, fmt.Errorf("sqlite: link: %w", err)
	}
	if err := json.Unmarshal([]byte(fields), &l.Fields); err != nil {
		return securelink.Link{}, fmt.Errorf("sqlite: link fields: %w", err)
	}
	l.CreatedAt, l.ExpiresAt, l.OpenedAt, l.UsedAt = fromMS(created), fromMS(expires), fromMS(opened), fromMS(used)
	return l, nil
}

// MarkOpened implements securelink.Store: only the first opening sets the
// opening time and the expiry.
func (ls *LinkStore) MarkOpened(ctx context.Context, hash []byte, at, expiresAt time.Time) error {
	return ls.db.inTx(ctx, crashSafe, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE securelinks SET opened_at = ?, expires_at = ?
			WHERE hash = ? AND opened_at = 0`, ms(at), ms(expiresAt), hash)
		if err != nil {
			return fmt.Errorf("sqlite: mark link opened: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("sqlite: mark link opened: %w", err)
		} else if n == 0 {
			if err := ls.exists(ctx, tx, hash); err != nil {
				return fmt.Errorf("sqlite: mark link opened: %w", err)
			}
		}
		return nil
	})
}

// CountAttempt implements securelink.Store.
func (ls *LinkStore) CountAttempt(ctx context.Context, hash []byte) (int, error) {
	return ls.countAttempt(ctx, hash)
}

// Consume implements securelink.Store with a conditional update, so that
// of concurrent calls exactly one succeeds.
func (ls *LinkStore) Consume(ctx context.Context, hash []byte, at time.Time) error {
	return ls.consume(ctx, hash, at)
}

// RevokeSession implements securelink.Store: the session's unused links
// expire at at.
func (ls *LinkStore) RevokeSession(ctx context.Context, session string, at time.Time) error {
	return ls.revokeSession(ctx, session, at)
}

// DeleteExpiredLinks deletes links that expired or were used before
// before, and returns how many. Run it periodically: rows are metadata,
// but there is no reason to keep them.
func (ls *LinkStore) DeleteExpiredLinks(ctx context.Context, before time.Time) (int64, error) {
	return ls.deleteExpired(ctx, before)
}
