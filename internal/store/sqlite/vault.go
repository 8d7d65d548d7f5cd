package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sync/atomic"
	"time"

	"github.com/secureflow/secureflow/internal/vault"
)

// VaultStore implements vault.Store on the same SQLite database as the
// gateway's other tables (migration 00002_vault.sql). Get one with
// DB.Vault; it shares the DB's connections and is closed with it.
//
// Erasure. Every vault write transaction turns on SQLite's secure_delete,
// so a deleted or rewritten record's cells are overwritten with zeros
// instead of lingering in free space; and every transaction that deleted
// or rewrote a record ends with a TRUNCATE checkpoint, which copies the WAL
// into the database and truncates the WAL file, so the old page images
// holding the wrapped key and ciphertext are gone from both files when the
// call returns. If a reader holds the WAL open past the busy timeout the
// checkpoint is retried at the next vault write (and by Checkpoint). What
// SQLite cannot reach, such as blocks the filesystem freed, is covered by
// key rotation: after a re-wrap and retirement of the old key, any copy of
// an old row is undecryptable.
type VaultStore struct {
	db *DB
	// shredPending records that a checkpoint after an erasure did not
	// complete.
	shredPending atomic.Bool
}

var _ vault.Store = (*VaultStore)(nil)

// Vault returns the vault store backed by db.
func (db *DB) Vault() *VaultStore { return &VaultStore{db: db} }

// write runs fn in a write transaction with secure_delete on. When fn
// reports that it erased or rewrote record bytes, the WAL is checkpointed
// and truncated after the commit.
func (vs *VaultStore) write(ctx context.Context, fn func(tx *sql.Tx) (erased bool, err error)) error {
	erased := false
	// Every vault commit is durable (fsynced): a reveal is returned only
	// after its audit entry is on disk, and an erasure is reported only
	// once it is.
	err := vs.db.inTx(ctx, durable, func(tx *sql.Tx) error {
		// secure_delete is a connection setting; setting it in every
		// transaction keeps it on even if the pool replaced the writer's
		// connection.
		if _, err := tx.ExecContext(ctx, `PRAGMA secure_delete = ON`); err != nil {
			return fmt.Errorf("sqlite: vault: secure_delete: %w", err)
		}
		var err error
		erased, err = fn(tx)
		return err
	})
	if err != nil {
		return err
	}
	if erased || vs.shredPending.Load() {
		vs.checkpoint(ctx)
	}
	return nil
}

// checkpoint runs a TRUNCATE checkpoint, remembering a failure for later.
func (vs *VaultStore) checkpoint(ctx context.Context) {
	if err := vs.Checkpoint(ctx); err != nil {
		vs.shredPending.Store(true)
		return
	}
	vs.shredPending.Store(false)
}

// Checkpoint copies the WAL into the database file and truncates the WAL,
// so that no page image of an erased record remains in the -wal file. It
// returns an error if readers kept it from completing.
func (vs *VaultStore) Checkpoint(ctx context.Context) error {
	// The background checkpointer must not hold the WAL meanwhile.
	vs.db.ckptMu.Lock()
	defer vs.db.ckptMu.Unlock()
	// A reader finishing a query can make one attempt busy: try a few
	// times before leaving it to the next write (shredPending).
	for attempt := 0; ; attempt++ {
		var busy, logFrames, done int
		if err := vs.db.w.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logFrames, &done); err != nil {
			return fmt.Errorf("sqlite: vault: checkpoint: %w", err)
		}
		if busy == 0 {
			return nil
		}
		if attempt == 4 {
			return errors.New("sqlite: vault: checkpoint: database busy")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// auditAppender appends chained audit entries within one write
// transaction: it reads the head once, under the writer lock the
// transaction holds, and chains every further entry in memory.
type auditAppender struct {
	tx     *sql.Tx
	ins    *sql.Stmt
	loaded bool
	seq    int64
	prev   []byte
}

func newAuditAppender(tx *sql.Tx) *auditAppender { return &auditAppender{tx: tx} }

func (a *auditAppender) append(ctx context.Context, e vault.AuditEntry) (vault.AuditEntry, error) {
	if !a.loaded {
		err := a.tx.QueryRowContext(ctx, `SELECT seq, hash FROM vault_audit ORDER BY seq DESC LIMIT 1`).Scan(&a.seq, &a.prev)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return e, fmt.Errorf("sqlite: vault audit head: %w", err)
		}
		a.ins, err = a.tx.PrepareContext(ctx, `INSERT INTO vault_audit
			(seq, at, action, outcome, principal, purpose, token, kind, key_id, detail, prev_hash, hash)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return e, fmt.Errorf("sqlite: vault audit append: %w", err)
		}
		a.loaded = true
	}
	e = vault.ChainAuditEntry(a.seq, a.prev, e)
	if _, err := a.ins.ExecContext(ctx, e.Seq, ms(e.At), string(e.Action), string(e.Outcome), e.Principal, e.Purpose,
		e.Token, string(e.Kind), int64(e.KeyID), e.Detail, e.PrevHash, e.Hash); err != nil {
		return e, fmt.Errorf("sqlite: vault audit append: %w", err)
	}
	a.seq, a.prev = e.Seq, e.Hash
	return e, nil
}

func (a *auditAppender) close() {
	if a.ins != nil {
		a.ins.Close()
	}
}

func appendVaultAudit(ctx context.Context, tx *sql.Tx, e vault.AuditEntry) (vault.AuditEntry, error) {
	a := newAuditAppender(tx)
	defer a.close()
	return a.append(ctx, e)
}

// Keysets implements vault.Store.
func (vs *VaultStore) Keysets(ctx context.Context) (vault.StoredKeysets, error) {
	var ks vault.StoredKeysets
	var at int64
	err := vs.db.r.QueryRowContext(ctx, `SELECT generation, kek_id, values_keyset, fingerprint_keyset, updated_at
		FROM vault_keysets WHERE id = 1`).Scan(&ks.Generation, &ks.KEKID, &ks.Values, &ks.Fingerprints, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return ks, fmt.Errorf("sqlite: vault keysets: %w", vault.ErrNotFound)
	}
	if err != nil {
		return ks, fmt.Errorf("sqlite: vault keysets: %w", err)
	}
	ks.UpdatedAt = fromMS(at)
	return ks, nil
}

// SaveKeysets implements vault.Store.
func (vs *VaultStore) SaveKeysets(ctx context.Context, ks vault.StoredKeysets, e vault.AuditEntry) error {
	return vs.write(ctx, func(tx *sql.Tx) (bool, error) {
		var cur int64
		err := tx.QueryRowContext(ctx, `SELECT generation FROM vault_keysets WHERE id = 1`).Scan(&cur)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return false, fmt.Errorf("sqlite: vault save keysets: %w", err)
		}
		if ks.Generation != cur+1 {
			return false, fmt.Errorf("sqlite: vault save keysets generation %d over %d: %w", ks.Generation, cur, vault.ErrConflict)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO vault_keysets (id, generation, kek_id, values_keyset, fingerprint_keyset, updated_at)
			VALUES (1, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET generation = excluded.generation, kek_id = excluded.kek_id,
			values_keyset = excluded.values_keyset, fingerprint_keyset = excluded.fingerprint_keyset, updated_at = excluded.updated_at`,
			ks.Generation, ks.KEKID, ks.Values, ks.Fingerprints, ms(ks.UpdatedAt)); err != nil {
			return false, fmt.Errorf("sqlite: vault save keysets: %w", err)
		}
		if _, err := appendVaultAudit(ctx, tx, e); err != nil {
			return false, err
		}
		// The previous keysets' cells are erased: a retired key must not
		// survive in the file.
		return cur > 0, nil
	})
}

const vaultRecordCols = `token, kind, format, scope, session, retention, expires_at, deterministic, created_at,
	fp_key_id, fingerprint, dek_key_id, wrapped_dek, ciphertext`

func scanVaultRecord(sc interface{ Scan(...any) error }) (vault.Record, error) {
	var r vault.Record
	var kind, format, retention string
	var expires, created, fpKey, dekKey int64
	var det int
	if err := sc.Scan(&r.Token, &kind, &format, &r.Scope, &r.Session, &retention, &expires, &det, &created,
		&fpKey, &r.Fingerprint, &dekKey, &r.WrappedDEK, &r.Ciphertext); err != nil {
		return r, err
	}
	ret, err := vault.ParseRetention(retention)
	if err != nil {
		return r, fmt.Errorf("sqlite: vault record %s: stored retention: %w", r.Token, err)
	}
	r.Kind, r.Format, r.Retention = vault.Kind(kind), vault.Format(format), ret
	r.ExpiresAt, r.CreatedAt = fromMS(expires), fromMS(created)
	r.Deterministic = det != 0
	r.FingerprintKeyID, r.DEKKeyID = uint32(fpKey), uint32(dekKey)
	return r, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Insert implements vault.Store.
func (vs *VaultStore) Insert(ctx context.Context, items []vault.Insertion) ([]bool, error) {
	ok := make([]bool, len(items))
	err := vs.write(ctx, func(tx *sql.Tx) (bool, error) {
		// One statement per item: skipped when the token is tombstoned,
		// and (ON CONFLICT DO NOTHING) when it is live or would repeat a
		// deterministic record.
		ins, err := tx.PrepareContext(ctx, `INSERT INTO vault_records (`+vaultRecordCols+`)
			SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?
			WHERE NOT EXISTS (SELECT 1 FROM vault_tombstones WHERE token = ?)
			ON CONFLICT DO NOTHING`)
		if err != nil {
			return false, fmt.Errorf("sqlite: vault insert: %w", err)
		}
		defer ins.Close()
		audit := newAuditAppender(tx)
		defer audit.close()
		for i, it := range items {
			r := it.Record
			res, err := ins.ExecContext(ctx, r.Token, string(r.Kind), string(r.Format), r.Scope, r.Session, r.Retention.String(),
				ms(r.ExpiresAt), boolInt(r.Deterministic), ms(r.CreatedAt), int64(r.FingerprintKeyID), r.Fingerprint,
				int64(r.DEKKeyID), r.WrappedDEK, r.Ciphertext, r.Token)
			if err != nil {
				return false, fmt.Errorf("sqlite: vault insert: %w", err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return false, fmt.Errorf("sqlite: vault insert: %w", err)
			}
			if n == 0 {
				continue
			}
			if _, err := audit.append(ctx, it.Audit); err != nil {
				return false, err
			}
			ok[i] = true
		}
		return false, nil
	})
	if err != nil {
		return nil, err
	}
	return ok, nil
}

// Get implements vault.Store.
func (vs *VaultStore) Get(ctx context.Context, token string) (vault.Record, error) {
	r, err := scanVaultRecord(vs.db.r.QueryRowContext(ctx, `SELECT `+vaultRecordCols+` FROM vault_records WHERE token = ?`, token))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("sqlite: vault record: %w", vault.ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("sqlite: vault record: %w", err)
	}
	return r, nil
}

// FindDeterministic implements vault.Store.
func (vs *VaultStore) FindDeterministic(ctx context.Context, keys []vault.DeterministicKey) (vault.Record, error) {
	for _, k := range keys {
		r, err := scanVaultRecord(vs.db.r.QueryRowContext(ctx, `SELECT `+vaultRecordCols+` FROM vault_records
			WHERE deterministic = 1 AND kind = ? AND scope = ? AND format = ? AND fp_key_id = ? AND fingerprint = ?`,
			string(k.Kind), k.Scope, string(k.Format), int64(k.FingerprintKeyID), k.Fingerprint))
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return r, fmt.Errorf("sqlite: vault find deterministic: %w", err)
		}
		return r, nil
	}
	return vault.Record{}, fmt.Errorf("sqlite: vault deterministic record: %w", vault.ErrNotFound)
}

// Update implements vault.Store.
func (vs *VaultStore) Update(ctx context.Context, ups []vault.Update, e *vault.AuditEntry) ([]bool, error) {
	ok := make([]bool, len(ups))
	err := vs.write(ctx, func(tx *sql.Tx) (bool, error) {
		stmt, err := tx.PrepareContext(ctx, `UPDATE vault_records SET retention = ?, expires_at = ?, fp_key_id = ?, fingerprint = ?,
			dek_key_id = ?, wrapped_dek = ?, ciphertext = ? WHERE token = ? AND wrapped_dek = ?`)
		if err != nil {
			return false, fmt.Errorf("sqlite: vault update: %w", err)
		}
		defer stmt.Close()
		audit := newAuditAppender(tx)
		defer audit.close()
		applied := false
		for i, u := range ups {
			r := u.Record
			res, err := stmt.ExecContext(ctx, r.Retention.String(), ms(r.ExpiresAt), int64(r.FingerprintKeyID), r.Fingerprint,
				int64(r.DEKKeyID), r.WrappedDEK, r.Ciphertext, r.Token, u.ExpectWrappedDEK)
			if err != nil {
				return false, fmt.Errorf("sqlite: vault update: %w", err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return false, fmt.Errorf("sqlite: vault update: %w", err)
			}
			ok[i] = n == 1
			applied = applied || ok[i]
		}
		if applied && e != nil {
			if _, err := audit.append(ctx, *e); err != nil {
				return false, err
			}
		}
		return applied, nil
	})
	if err != nil {
		return nil, err
	}
	return ok, nil
}

// Delete implements vault.Store.
func (vs *VaultStore) Delete(ctx context.Context, dels []vault.Deletion) ([]bool, error) {
	ok := make([]bool, len(dels))
	err := vs.write(ctx, func(tx *sql.Tx) (bool, error) {
		del, err := tx.PrepareContext(ctx, `DELETE FROM vault_records WHERE token = ?`)
		if err != nil {
			return false, fmt.Errorf("sqlite: vault delete: %w", err)
		}
		defer del.Close()
		audit := newAuditAppender(tx)
		defer audit.close()
		erased := false
		for i, d := range dels {
			res, err := del.ExecContext(ctx, d.Token)
			if err != nil {
				return false, fmt.Errorf("sqlite: vault delete: %w", err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return false, fmt.Errorf("sqlite: vault delete: %w", err)
			}
			if n == 0 {
				continue
			}
			if d.Tombstone {
				if _, err := tx.ExecContext(ctx, `INSERT INTO vault_tombstones (token, retired_at) VALUES (?, ?)
					ON CONFLICT DO NOTHING`, d.Token, ms(d.Audit.At)); err != nil {
					return false, fmt.Errorf("sqlite: vault delete: tombstone: %w", err)
				}
			}
			if _, err := audit.append(ctx, d.Audit); err != nil {
				return false, err
			}
			ok[i], erased = true, true
		}
		return erased, nil
	})
	if err != nil {
		return nil, err
	}
	return ok, nil
}

func (vs *VaultStore) refs(ctx context.Context, what, query string, args ...any) ([]vault.RecordRef, error) {
	rows, err := vs.db.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: vault %s: %w", what, err)
	}
	defer rows.Close()
	var out []vault.RecordRef
	for rows.Next() {
		var r vault.RecordRef
		var kind, format string
		if err := rows.Scan(&r.Token, &kind, &format); err != nil {
			return nil, fmt.Errorf("sqlite: vault %s: %w", what, err)
		}
		r.Kind, r.Format = vault.Kind(kind), vault.Format(format)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: vault %s: %w", what, err)
	}
	return out, nil
}

// Expired implements vault.Store.
func (vs *VaultStore) Expired(ctx context.Context, now time.Time, limit int) ([]vault.RecordRef, error) {
	return vs.refs(ctx, "expired", `SELECT token, kind, format FROM vault_records
		WHERE expires_at > 0 AND expires_at <= ? ORDER BY expires_at, token LIMIT ?`, ms(now), limit)
}

// SessionRecords implements vault.Store.
func (vs *VaultStore) SessionRecords(ctx context.Context, session string, limit int) ([]vault.RecordRef, error) {
	return vs.refs(ctx, "session records", `SELECT token, kind, format FROM vault_records
		WHERE session = ? AND session <> '' LIMIT ?`, session, limit)
}

// Stale implements vault.Store.
func (vs *VaultStore) Stale(ctx context.Context, valuesKeyID, fingerprintKeyID uint32, after string, limit int) ([]vault.Record, error) {
	rows, err := vs.db.r.QueryContext(ctx, `SELECT `+vaultRecordCols+` FROM vault_records
		WHERE (dek_key_id <> ? OR fp_key_id <> ?) AND token > ? ORDER BY token LIMIT ?`,
		int64(valuesKeyID), int64(fingerprintKeyID), after, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: vault stale: %w", err)
	}
	defer rows.Close()
	var out []vault.Record
	for rows.Next() {
		r, err := scanVaultRecord(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: vault stale: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: vault stale: %w", err)
	}
	return out, nil
}

// KeyUsage implements vault.Store.
func (vs *VaultStore) KeyUsage(ctx context.Context) (vault.KeyUsage, error) {
	u := vault.KeyUsage{Values: map[uint32]int64{}, Fingerprints: map[uint32]int64{}}
	for _, q := range []struct {
		col string
		m   map[uint32]int64
	}{{"dek_key_id", u.Values}, {"fp_key_id", u.Fingerprints}} {
		rows, err := vs.db.r.QueryContext(ctx, `SELECT `+q.col+`, COUNT(*) FROM vault_records GROUP BY `+q.col)
		if err != nil {
			return u, fmt.Errorf("sqlite: vault key usage: %w", err)
		}
		for rows.Next() {
			var id, n int64
			if err := rows.Scan(&id, &n); err != nil {
				rows.Close()
				return u, fmt.Errorf("sqlite: vault key usage: %w", err)
			}
			q.m[uint32(id)] = n
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return u, fmt.Errorf("sqlite: vault key usage: %w", err)
		}
	}
	return u, nil
}

// AppendAudit implements vault.Store.
func (vs *VaultStore) AppendAudit(ctx context.Context, e vault.AuditEntry) (vault.AuditEntry, error) {
	var out vault.AuditEntry
	err := vs.write(ctx, func(tx *sql.Tx) (bool, error) {
		var err error
		out, err = appendVaultAudit(ctx, tx, e)
		return false, err
	})
	return out, err
}

// Audit implements vault.Store and vault.AuditSource.
func (vs *VaultStore) Audit(ctx context.Context, afterSeq int64, limit int) ([]vault.AuditEntry, error) {
	return readVaultAudit(ctx, vs.db.r, afterSeq, limit)
}

func readVaultAudit(ctx context.Context, db *sql.DB, afterSeq int64, limit int) ([]vault.AuditEntry, error) {
	rows, err := db.QueryContext(ctx, `SELECT seq, at, action, outcome, principal, purpose, token, kind, key_id, detail, prev_hash, hash
		FROM vault_audit WHERE seq > ? ORDER BY seq LIMIT ?`, afterSeq, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: vault audit: %w", err)
	}
	defer rows.Close()
	var out []vault.AuditEntry
	for rows.Next() {
		var e vault.AuditEntry
		var at, keyID int64
		var action, outcome, kind string
		if err := rows.Scan(&e.Seq, &at, &action, &outcome, &e.Principal, &e.Purpose, &e.Token, &kind, &keyID, &e.Detail,
			&e.PrevHash, &e.Hash); err != nil {
			return nil, fmt.Errorf("sqlite: vault audit: %w", err)
		}
		e.At, e.Action, e.Outcome, e.Kind, e.KeyID = fromMS(at), vault.Action(action), vault.Outcome(outcome), vault.Kind(kind), uint32(keyID)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: vault audit: %w", err)
	}
	return out, nil
}

// AuditLog is a read-only view of a database's vault audit log, for
// verification by an operator or assessor: it opens the file read-only
// and applies no migrations, so verifying evidence does not change it.
type AuditLog struct {
	db *sql.DB
}

var _ vault.AuditSource = (*AuditLog)(nil)

// OpenAuditLog opens the database at path read-only.
func OpenAuditLog(ctx context.Context, path string) (*AuditLog, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	q := url.Values{}
	q.Set("mode", "ro")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "query_only(1)")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'vault_audit'`).Scan(&n); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if n == 0 {
		db.Close()
		return nil, fmt.Errorf("sqlite: %s has no vault audit log (not a secureflow database, or from before the vault)", path)
	}
	return &AuditLog{db: db}, nil
}

// Audit implements vault.AuditSource.
func (a *AuditLog) Audit(ctx context.Context, afterSeq int64, limit int) ([]vault.AuditEntry, error) {
	return readVaultAudit(ctx, a.db, afterSeq, limit)
}

// Close closes the database.
func (a *AuditLog) Close() error { return a.db.Close() }
