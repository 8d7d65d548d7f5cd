package vaulttest

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/secureflow/secureflow/internal/vault"
)

// MemStore is an in-memory vault.Store for tests: it follows the Store
// contract (it passes Run) but keeps nothing across processes and erases
// nothing from memory pages. Never use it outside tests.
type MemStore struct {
	mu         sync.Mutex
	keysets    *vault.StoredKeysets
	records    map[string]vault.Record
	tombstones map[string]bool
	audit      []vault.AuditEntry
}

var _ vault.Store = (*MemStore)(nil)

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore {
	return &MemStore{records: map[string]vault.Record{}, tombstones: map[string]bool{}}
}

func copyRecord(r vault.Record) vault.Record {
	r.Fingerprint = bytes.Clone(r.Fingerprint)
	r.WrappedDEK = bytes.Clone(r.WrappedDEK)
	r.Ciphertext = bytes.Clone(r.Ciphertext)
	r.CreatedAt = ms(r.CreatedAt)
	r.ExpiresAt = ms(r.ExpiresAt)
	return r
}

func ms(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return time.UnixMilli(t.UnixMilli()).UTC()
}

func (m *MemStore) appendLocked(e vault.AuditEntry) vault.AuditEntry {
	var seq int64
	var prev []byte
	if n := len(m.audit); n > 0 {
		seq, prev = m.audit[n-1].Seq, m.audit[n-1].Hash
	}
	e = vault.ChainAuditEntry(seq, prev, e)
	m.audit = append(m.audit, e)
	return e
}

// Keysets implements vault.Store.
func (m *MemStore) Keysets(ctx context.Context) (vault.StoredKeysets, error) {
	if err := ctx.Err(); err != nil {
		return vault.StoredKeysets{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.keysets == nil {
		return vault.StoredKeysets{}, fmt.Errorf("keysets: %w", vault.ErrNotFound)
	}
	ks := *m.keysets
	ks.Values, ks.Fingerprints = bytes.Clone(ks.Values), bytes.Clone(ks.Fingerprints)
	return ks, nil
}

// SaveKeysets implements vault.Store.
func (m *MemStore) SaveKeysets(ctx context.Context, ks vault.StoredKeysets, e vault.AuditEntry) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var cur int64
	if m.keysets != nil {
		cur = m.keysets.Generation
	}
	if ks.Generation != cur+1 {
		return fmt.Errorf("save keysets generation %d over %d: %w", ks.Generation, cur, vault.ErrConflict)
	}
	ks.Values, ks.Fingerprints, ks.UpdatedAt = bytes.Clone(ks.Values), bytes.Clone(ks.Fingerprints), ms(ks.UpdatedAt)
	m.keysets = &ks
	m.appendLocked(e)
	return nil
}

func (m *MemStore) detTakenLocked(r *vault.Record) bool {
	for _, o := range m.records {
		if o.Deterministic && o.Kind == r.Kind && o.Scope == r.Scope && o.Format == r.Format &&
			o.FingerprintKeyID == r.FingerprintKeyID && bytes.Equal(o.Fingerprint, r.Fingerprint) && o.Token != r.Token {
			return true
		}
	}
	return false
}

// Insert implements vault.Store.
func (m *MemStore) Insert(ctx context.Context, items []vault.Insertion) ([]bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	ok := make([]bool, len(items))
	for i, it := range items {
		r := it.Record
		if _, live := m.records[r.Token]; live || m.tombstones[r.Token] {
			continue
		}
		if r.Deterministic && m.detTakenLocked(&r) {
			continue
		}
		m.records[r.Token] = copyRecord(r)
		m.appendLocked(it.Audit)
		ok[i] = true
	}
	return ok, nil
}

// Get implements vault.Store.
func (m *MemStore) Get(ctx context.Context, token string) (vault.Record, error) {
	if err := ctx.Err(); err != nil {
		return vault.Record{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.records[token]
	if !ok {
		return vault.Record{}, fmt.Errorf("record: %w", vault.ErrNotFound)
	}
	return copyRecord(r), nil
}

// FindDeterministic implements vault.Store.
func (m *MemStore) FindDeterministic(ctx context.Context, keys []vault.DeterministicKey) (vault.Record, error) {
	if err := ctx.Err(); err != nil {
		return vault.Record{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, k := range keys {
		for _, r := range m.records {
			if r.Deterministic && r.Kind == k.Kind && r.Scope == k.Scope && r.Format == k.Format &&
				r.FingerprintKeyID == k.FingerprintKeyID && bytes.Equal(r.Fingerprint, k.Fingerprint) {
				return copyRecord(r), nil
			}
		}
	}
	return vault.Record{}, fmt.Errorf("deterministic record: %w", vault.ErrNotFound)
}

// Update implements vault.Store.
func (m *MemStore) Update(ctx context.Context, ups []vault.Update, e *vault.AuditEntry) ([]bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	ok := make([]bool, len(ups))
	applied := false
	for i, u := range ups {
		r, live := m.records[u.Record.Token]
		if !live || !bytes.Equal(r.WrappedDEK, u.ExpectWrappedDEK) {
			continue
		}
		n := copyRecord(u.Record)
		r.Retention, r.ExpiresAt = n.Retention, n.ExpiresAt
		r.FingerprintKeyID, r.Fingerprint = n.FingerprintKeyID, n.Fingerprint
		r.DEKKeyID, r.WrappedDEK, r.Ciphertext = n.DEKKeyID, n.WrappedDEK, n.Ciphertext
		m.records[r.Token] = r
		ok[i], applied = true, true
	}
	if applied && e != nil {
		m.appendLocked(*e)
	}
	return ok, nil
}

// Delete implements vault.Store.
func (m *MemStore) Delete(ctx context.Context, dels []vault.Deletion) ([]bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	ok := make([]bool, len(dels))
	for i, d := range dels {
		if _, live := m.records[d.Token]; !live {
			continue
		}
		delete(m.records, d.Token)
		if d.Tombstone {
			m.tombstones[d.Token] = true
		}
		m.appendLocked(d.Audit)
		ok[i] = true
	}
	return ok, nil
}

func ref(r vault.Record) vault.RecordRef {
	return vault.RecordRef{Token: r.Token, Kind: r.Kind, Format: r.Format}
}

// Expired implements vault.Store.
func (m *MemStore) Expired(ctx context.Context, now time.Time, limit int) ([]vault.RecordRef, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var rs []vault.Record
	for _, r := range m.records {
		if !r.ExpiresAt.IsZero() && !r.ExpiresAt.After(now) {
			rs = append(rs, r)
		}
	}
	sort.Slice(rs, func(i, j int) bool {
		if !rs[i].ExpiresAt.Equal(rs[j].ExpiresAt) {
			return rs[i].ExpiresAt.Before(rs[j].ExpiresAt)
		}
		return rs[i].Token < rs[j].Token
	})
	var out []vault.RecordRef
	for _, r := range rs[:min(limit, len(rs))] {
		out = append(out, ref(r))
	}
	return out, nil
}

// SessionRecords implements vault.Store.
func (m *MemStore) SessionRecords(ctx context.Context, session string, limit int) ([]vault.RecordRef, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []vault.RecordRef
	for _, r := range m.records {
		if r.Session == session && len(out) < limit {
			out = append(out, ref(r))
		}
	}
	return out, nil
}

// Stale implements vault.Store.
func (m *MemStore) Stale(ctx context.Context, valuesKeyID, fingerprintKeyID uint32, after string, limit int) ([]vault.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []vault.Record
	for _, r := range m.records {
		if (r.DEKKeyID != valuesKeyID || r.FingerprintKeyID != fingerprintKeyID) && strings.Compare(r.Token, after) > 0 {
			out = append(out, copyRecord(r))
		}
	}
	slices.SortFunc(out, func(a, b vault.Record) int { return strings.Compare(a.Token, b.Token) })
	return out[:min(limit, len(out))], nil
}

// KeyUsage implements vault.Store.
func (m *MemStore) KeyUsage(ctx context.Context) (vault.KeyUsage, error) {
	if err := ctx.Err(); err != nil {
		return vault.KeyUsage{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	u := vault.KeyUsage{Values: map[uint32]int64{}, Fingerprints: map[uint32]int64{}}
	for _, r := range m.records {
		u.Values[r.DEKKeyID]++
		u.Fingerprints[r.FingerprintKeyID]++
	}
	return u, nil
}

// AppendAudit implements vault.Store.
func (m *MemStore) AppendAudit(ctx context.Context, e vault.AuditEntry) (vault.AuditEntry, error) {
	if err := ctx.Err(); err != nil {
		return vault.AuditEntry{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.appendLocked(e), nil
}

// Audit implements vault.Store.
func (m *MemStore) Audit(ctx context.Context, afterSeq int64, limit int) ([]vault.AuditEntry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []vault.AuditEntry
	for _, e := range m.audit {
		if e.Seq > afterSeq && len(out) < limit {
			out = append(out, e)
		}
	}
	return out, nil
}

// TamperAudit lets tests edit the stored log (the SQLite store's triggers
// forbid it; tests there use SQL).
func (m *MemStore) TamperAudit(fn func([]vault.AuditEntry) []vault.AuditEntry) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.audit = fn(m.audit)
}

// Records returns a copy of every stored record, for tests that look at
// what the store holds.
func (m *MemStore) Records() []vault.Record {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []vault.Record
	for _, r := range m.records {
		out = append(out, copyRecord(r))
	}
	return out
}

// PutRecord overwrites a stored record as an attacker with write access to
// the database would, for tamper tests.
func (m *MemStore) PutRecord(r vault.Record) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.records[r.Token] = copyRecord(r)
}
