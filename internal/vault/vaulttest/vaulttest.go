// Package vaulttest is the conformance suite every vault.Store must pass
// (store/sqlite now, store/postgres later), and an in-memory Store for
// tests of code that uses a vault.
//
// Run checks the Store contract directly (compare-and-sets, tombstones,
// deterministic uniqueness, audit chaining under concurrency) and then
// drives a real vault.Vault over the store, so that tokenization, reveal,
// retention, rotation and audit behave the same on every backend.
package vaulttest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/secureflow/secureflow/internal/secret"
	"github.com/secureflow/secureflow/internal/vault"
)

// Opener returns a fresh, empty, migrated store. The opener registers its
// own cleanup (closing the database) with t.Cleanup.
type Opener func(t *testing.T) vault.Store

// T0 is the suite's fixed "now".
var T0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

// Run runs the conformance suite against stores made by open.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(*testing.T, vault.Store)
	}{
		{"KeysetsCompareAndSet", testKeysetsCAS},
		{"InsertGetRoundTrip", testInsertGet},
		{"InsertSkipsTakenTokens", testInsertSkips},
		{"DeterministicUnique", testDeterministic},
		{"DeleteAndTombstones", testDelete},
		{"UpdateCompareAndSet", testUpdate},
		{"ExpiredOrderAndLimit", testExpired},
		{"SessionRecords", testSession},
		{"StaleAndKeyUsage", testStale},
		{"AuditChainConcurrent", testAuditConcurrent},
		{"AuditPaging", testAuditPaging},
		{"CanceledContext", testCanceled},
		{"VaultRoundTrip", testVaultRoundTrip},
		{"VaultSwappedCiphertextFails", testVaultSwap},
		{"VaultRetention", testVaultRetention},
		{"VaultRotateRewrapRetire", testVaultRotation},
		{"VaultDeterministic", testVaultDeterministic},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, open(t))
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func entry(action vault.Action, token string) vault.AuditEntry {
	return vault.AuditEntry{At: T0, Action: action, Outcome: vault.OutcomeOK, Principal: "test:suite", Token: token, Kind: vault.KindCard}
}

func record(token string, keyID uint32) vault.Record {
	return vault.Record{
		Token: token, Kind: vault.KindCard, Format: vault.FormatOpaque, Retention: vault.RetainDays(30),
		CreatedAt: T0, ExpiresAt: T0.Add(30 * 24 * time.Hour),
		FingerprintKeyID: keyID, Fingerprint: []byte("fp-" + token),
		DEKKeyID: keyID, WrappedDEK: []byte("dek-" + token), Ciphertext: []byte("ct-" + token),
	}
}

func insert(t *testing.T, s vault.Store, rs ...vault.Record) []bool {
	t.Helper()
	items := make([]vault.Insertion, len(rs))
	for i, r := range rs {
		items[i] = vault.Insertion{Record: r, Audit: entry(vault.ActionTokenize, r.Token)}
	}
	ok, err := s.Insert(context.Background(), items)
	must(t, err)
	if len(ok) != len(rs) {
		t.Fatalf("Insert returned %d results for %d items", len(ok), len(rs))
	}
	return ok
}

func auditLen(t *testing.T, s vault.Store) int64 {
	t.Helper()
	rep, err := vault.VerifyAudit(context.Background(), s)
	if err != nil {
		t.Fatalf("audit log does not verify: %v", err)
	}
	return rep.Entries
}

func equalRecords(a, b vault.Record) bool {
	return a.Token == b.Token && a.Kind == b.Kind && a.Format == b.Format && a.Scope == b.Scope && a.Session == b.Session &&
		a.Retention == b.Retention && a.ExpiresAt.Equal(b.ExpiresAt) && a.Deterministic == b.Deterministic &&
		a.CreatedAt.Equal(b.CreatedAt) && a.FingerprintKeyID == b.FingerprintKeyID && bytes.Equal(a.Fingerprint, b.Fingerprint) &&
		a.DEKKeyID == b.DEKKeyID && bytes.Equal(a.WrappedDEK, b.WrappedDEK) && bytes.Equal(a.Ciphertext, b.Ciphertext)
}

func testKeysetsCAS(t *testing.T, s vault.Store) {
	ctx := context.Background()
	if _, err := s.Keysets(ctx); !errors.Is(err, vault.ErrNotFound) {
		t.Fatalf("Keysets on an empty store = %v, want ErrNotFound", err)
	}
	ks := vault.StoredKeysets{Generation: 2, KEKID: "kek-a", Values: []byte("v1"), Fingerprints: []byte("f1"), UpdatedAt: T0}
	if err := s.SaveKeysets(ctx, ks, entry(vault.ActionKeysInit, "")); !errors.Is(err, vault.ErrConflict) {
		t.Fatalf("SaveKeysets generation 2 on empty = %v, want ErrConflict", err)
	}
	ks.Generation = 1
	must(t, s.SaveKeysets(ctx, ks, entry(vault.ActionKeysInit, "")))
	if err := s.SaveKeysets(ctx, ks, entry(vault.ActionKeysInit, "")); !errors.Is(err, vault.ErrConflict) {
		t.Fatalf("second SaveKeysets generation 1 = %v, want ErrConflict", err)
	}
	ks2 := vault.StoredKeysets{Generation: 2, KEKID: "kek-b", Values: []byte("v2"), Fingerprints: []byte("f2"), UpdatedAt: T0.Add(time.Minute)}
	must(t, s.SaveKeysets(ctx, ks2, entry(vault.ActionKeysRotate, "")))
	got, err := s.Keysets(ctx)
	must(t, err)
	if got.Generation != 2 || got.KEKID != "kek-b" || string(got.Values) != "v2" || string(got.Fingerprints) != "f2" || !got.UpdatedAt.Equal(ks2.UpdatedAt) {
		t.Fatalf("Keysets = %+v", got)
	}
	if n := auditLen(t, s); n != 2 {
		t.Fatalf("audit entries = %d, want 2 (failed saves must not append)", n)
	}
}

func testInsertGet(t *testing.T, s vault.Store) {
	ctx := context.Background()
	r := record("tok_a", 7)
	r.Scope, r.Session, r.Format, r.Deterministic = "merchant-1", "", vault.FormatCard, true
	r.Retention, r.ExpiresAt = vault.RetainPermanent, time.Time{}
	r.CreatedAt = T0.Add(123456789 * time.Nanosecond) // sub-millisecond part is dropped
	if ok := insert(t, s, r); !ok[0] {
		t.Fatal("insert refused")
	}
	got, err := s.Get(ctx, "tok_a")
	must(t, err)
	r.CreatedAt = T0.Add(123 * time.Millisecond)
	if !equalRecords(got, r) {
		t.Fatalf("Get = %+v\nwant  %+v", got, r)
	}
	if got.CreatedAt.Location() != time.UTC {
		t.Fatalf("times must come back in UTC, got %v", got.CreatedAt.Location())
	}
	s2 := record("tok_b", 7)
	s2.Retention, s2.Session, s2.ExpiresAt = vault.RetainSession, "sess-1", T0.Add(time.Hour)
	insert(t, s, s2)
	got, err = s.Get(ctx, "tok_b")
	must(t, err)
	if !equalRecords(got, s2) {
		t.Fatalf("Get = %+v\nwant  %+v", got, s2)
	}
	if _, err := s.Get(ctx, "tok_missing"); !errors.Is(err, vault.ErrNotFound) {
		t.Fatalf("Get missing = %v, want ErrNotFound", err)
	}
	if n := auditLen(t, s); n != 2 {
		t.Fatalf("audit entries = %d, want 2", n)
	}
}

func testInsertSkips(t *testing.T, s vault.Store) {
	insert(t, s, record("tok_a", 1))
	ok := insert(t, s, record("tok_b", 1), record("tok_a", 1), record("tok_c", 1))
	if fmt.Sprint(ok) != "[true false true]" {
		t.Fatalf("Insert = %v, want [true false true]", ok)
	}
	if n := auditLen(t, s); n != 3 {
		t.Fatalf("audit entries = %d, want 3 (a skipped item appends nothing)", n)
	}
	got, err := s.Get(context.Background(), "tok_a")
	must(t, err)
	if !equalRecords(got, record("tok_a", 1)) {
		t.Fatal("a skipped insert overwrote the live record")
	}
}

func detRecord(token, scope string, keyID uint32, fp string) vault.Record {
	r := record(token, keyID)
	r.Deterministic, r.Scope, r.Fingerprint = true, scope, []byte(fp)
	return r
}

func testDeterministic(t *testing.T, s vault.Store) {
	ctx := context.Background()
	ok := insert(t, s,
		detRecord("tok_1", "s1", 1, "same"),
		detRecord("tok_2", "s1", 1, "same"), // same value, same scope: refused
		detRecord("tok_3", "s2", 1, "same"), // other scope
		detRecord("tok_4", "s1", 2, "same"), // other fingerprint key
		record("tok_5", 1),                  // random tokens do not take part
	)
	if fmt.Sprint(ok) != "[true false true true true]" {
		t.Fatalf("Insert = %v", ok)
	}
	r := record("tok_6", 1)
	r.Fingerprint = []byte("same")
	insert(t, s, r)
	got, err := s.FindDeterministic(ctx, []vault.DeterministicKey{
		{Kind: vault.KindCard, Scope: "s2", Format: vault.FormatOpaque, FingerprintKeyID: 9, Fingerprint: []byte("same")},
		{Kind: vault.KindCard, Scope: "s2", Format: vault.FormatOpaque, FingerprintKeyID: 1, Fingerprint: []byte("same")},
	})
	must(t, err)
	if got.Token != "tok_3" {
		t.Fatalf("FindDeterministic = %s, want tok_3", got.Token)
	}
	for _, k := range []vault.DeterministicKey{
		{Kind: vault.KindCard, Scope: "s3", Format: vault.FormatOpaque, FingerprintKeyID: 1, Fingerprint: []byte("same")},
		{Kind: vault.KindCPF, Scope: "s1", Format: vault.FormatOpaque, FingerprintKeyID: 1, Fingerprint: []byte("same")},
		{Kind: vault.KindCard, Scope: "s1", Format: vault.FormatCard, FingerprintKeyID: 1, Fingerprint: []byte("same")},
		{Kind: vault.KindCard, Scope: "s1", Format: vault.FormatOpaque, FingerprintKeyID: 1, Fingerprint: []byte("other")},
		{Kind: vault.KindCard, Scope: "", Format: vault.FormatOpaque, FingerprintKeyID: 1, Fingerprint: []byte("fp-tok_5")},
	} {
		if _, err := s.FindDeterministic(ctx, []vault.DeterministicKey{k}); !errors.Is(err, vault.ErrNotFound) {
			t.Fatalf("FindDeterministic(%+v) = %v, want ErrNotFound", k, err)
		}
	}
	// Once the first is deleted, the value can be tokenized again.
	okd, err := s.Delete(ctx, []vault.Deletion{{Token: "tok_1", Audit: entry(vault.ActionDelete, "tok_1")}})
	must(t, err)
	if !okd[0] {
		t.Fatal("delete failed")
	}
	if ok := insert(t, s, detRecord("tok_2", "s1", 1, "same")); !ok[0] {
		t.Fatal("deterministic insert refused after the first was deleted")
	}
}

func testDelete(t *testing.T, s vault.Store) {
	ctx := context.Background()
	insert(t, s, record("tok_a", 1), record("tok_b", 1), record("tok_c", 1))
	ok, err := s.Delete(ctx, []vault.Deletion{
		{Token: "tok_a", Tombstone: true, Audit: entry(vault.ActionDelete, "tok_a")},
		{Token: "tok_missing", Audit: entry(vault.ActionDelete, "tok_missing")},
		{Token: "tok_b", Audit: entry(vault.ActionDelete, "tok_b")},
	})
	must(t, err)
	if fmt.Sprint(ok) != "[true false true]" {
		t.Fatalf("Delete = %v, want [true false true]", ok)
	}
	if n := auditLen(t, s); n != 5 {
		t.Fatalf("audit entries = %d, want 5 (a missing record appends nothing)", n)
	}
	for _, tok := range []string{"tok_a", "tok_b"} {
		if _, err := s.Get(ctx, tok); !errors.Is(err, vault.ErrNotFound) {
			t.Fatalf("Get deleted %s = %v", tok, err)
		}
	}
	ok, err = s.Delete(ctx, []vault.Deletion{{Token: "tok_a", Audit: entry(vault.ActionDelete, "tok_a")}})
	must(t, err)
	if ok[0] {
		t.Fatal("second delete reported the record as existing")
	}
	if got := insert(t, s, record("tok_a", 1), record("tok_b", 1)); fmt.Sprint(got) != "[false true]" {
		t.Fatalf("re-insert after delete = %v, want [false true] (tok_a is tombstoned)", got)
	}
	u, err := s.KeyUsage(ctx)
	must(t, err)
	if u.Values[1] != 2 || u.Fingerprints[1] != 2 {
		t.Fatalf("KeyUsage after deletes = %+v, want 2 records", u)
	}
}

func testUpdate(t *testing.T, s vault.Store) {
	ctx := context.Background()
	insert(t, s, record("tok_a", 1), record("tok_b", 1))
	n := record("tok_a", 2)
	n.Retention, n.ExpiresAt = vault.RetainPermanent, time.Time{}
	n.WrappedDEK, n.Ciphertext, n.Fingerprint = []byte("dek2"), []byte("ct2"), []byte("fp2")
	n.Kind, n.Scope = vault.KindCPF, "ignored" // not updatable
	stale := record("tok_b", 2)
	e := entry(vault.ActionKeysRewrap, "")
	ok, err := s.Update(ctx, []vault.Update{
		{Record: n, ExpectWrappedDEK: []byte("dek-tok_a")},
		{Record: stale, ExpectWrappedDEK: []byte("not-the-current-one")},
		{Record: record("tok_missing", 2), ExpectWrappedDEK: []byte("dek-tok_missing")},
	}, &e)
	must(t, err)
	if fmt.Sprint(ok) != "[true false false]" {
		t.Fatalf("Update = %v, want [true false false]", ok)
	}
	got, err := s.Get(ctx, "tok_a")
	must(t, err)
	want := record("tok_a", 2)
	want.Retention, want.ExpiresAt = vault.RetainPermanent, time.Time{}
	want.WrappedDEK, want.Ciphertext, want.Fingerprint = []byte("dek2"), []byte("ct2"), []byte("fp2")
	if !equalRecords(got, want) {
		t.Fatalf("after Update = %+v\nwant %+v", got, want)
	}
	if got, _ := s.Get(ctx, "tok_b"); !equalRecords(got, record("tok_b", 1)) {
		t.Fatal("an update whose compare-and-set failed was applied")
	}
	if n := auditLen(t, s); n != 3 {
		t.Fatalf("audit entries = %d, want 3", n)
	}
	ok, err = s.Update(ctx, []vault.Update{{Record: stale, ExpectWrappedDEK: []byte("nope")}}, &e)
	must(t, err)
	if ok[0] || auditLen(t, s) != 3 {
		t.Fatal("an update that applied nothing appended its entry")
	}
}

func testExpired(t *testing.T, s vault.Store) {
	ctx := context.Background()
	var rs []vault.Record
	for i, d := range []time.Duration{3, 1, 2, -1, 5} {
		r := record(fmt.Sprintf("tok_%d", i), 1)
		r.ExpiresAt = T0.Add(d * time.Minute)
		if d < 0 {
			r.ExpiresAt, r.Retention = time.Time{}, vault.RetainPermanent
		}
		rs = append(rs, r)
	}
	insert(t, s, rs...)
	got, err := s.Expired(ctx, T0.Add(3*time.Minute), 10)
	must(t, err)
	var toks []string
	for _, r := range got {
		toks = append(toks, r.Token)
		if r.Kind != vault.KindCard || r.Format != vault.FormatOpaque {
			t.Fatalf("Expired ref lacks kind or format: %+v", r)
		}
	}
	if fmt.Sprint(toks) != "[tok_1 tok_2 tok_0]" {
		t.Fatalf("Expired = %v, want [tok_1 tok_2 tok_0] (earliest first, expiry inclusive, never-expiring excluded)", toks)
	}
	got, err = s.Expired(ctx, T0.Add(time.Hour), 2)
	must(t, err)
	if len(got) != 2 {
		t.Fatalf("Expired with limit 2 = %d records", len(got))
	}
}

func testSession(t *testing.T, s vault.Store) {
	ctx := context.Background()
	var rs []vault.Record
	for i := range 5 {
		r := record(fmt.Sprintf("tok_%d", i), 1)
		r.Retention, r.Session = vault.RetainSession, fmt.Sprintf("s%d", i%2)
		rs = append(rs, r)
	}
	insert(t, s, rs...)
	got, err := s.SessionRecords(ctx, "s0", 10)
	must(t, err)
	if len(got) != 3 {
		t.Fatalf("SessionRecords(s0) = %d, want 3", len(got))
	}
	got, err = s.SessionRecords(ctx, "s0", 2)
	must(t, err)
	if len(got) != 2 {
		t.Fatalf("SessionRecords limit 2 = %d", len(got))
	}
	got, err = s.SessionRecords(ctx, "none", 10)
	must(t, err)
	if len(got) != 0 {
		t.Fatalf("SessionRecords(none) = %d", len(got))
	}
}

func testStale(t *testing.T, s vault.Store) {
	ctx := context.Background()
	var rs []vault.Record
	for i := range 6 {
		r := record(fmt.Sprintf("tok_%d", i), 1)
		switch i % 3 {
		case 1:
			r.DEKKeyID = 2
		case 2:
			r.DEKKeyID, r.FingerprintKeyID = 2, 2
		}
		rs = append(rs, r)
	}
	insert(t, s, rs...)
	got, err := s.Stale(ctx, 2, 2, "", 10)
	must(t, err)
	var toks []string
	for _, r := range got {
		toks = append(toks, r.Token)
	}
	if fmt.Sprint(toks) != "[tok_0 tok_1 tok_3 tok_4]" {
		t.Fatalf("Stale = %v", toks)
	}
	if !equalRecords(got[0], rs[0]) {
		t.Fatal("Stale must return whole records")
	}
	got, err = s.Stale(ctx, 2, 2, "tok_1", 1)
	must(t, err)
	if len(got) != 1 || got[0].Token != "tok_3" {
		t.Fatalf("Stale after tok_1 limit 1 = %+v", got)
	}
	u, err := s.KeyUsage(ctx)
	must(t, err)
	if u.Values[1] != 2 || u.Values[2] != 4 || u.Fingerprints[1] != 4 || u.Fingerprints[2] != 2 {
		t.Fatalf("KeyUsage = %+v", u)
	}
}

func testAuditConcurrent(t *testing.T, s vault.Store) {
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				var err error
				switch i % 3 {
				case 0:
					_, err = s.AppendAudit(ctx, entry(vault.ActionReveal, fmt.Sprintf("tok_%d_%d", g, i)))
				case 1:
					_, err = s.Insert(ctx, []vault.Insertion{{Record: record(fmt.Sprintf("tok_%d_%d", g, i), 1), Audit: entry(vault.ActionTokenize, "x")}})
				case 2:
					_, err = s.Delete(ctx, []vault.Deletion{{Token: fmt.Sprintf("tok_%d_%d", g, i-1), Audit: entry(vault.ActionDelete, "x")}})
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if n := auditLen(t, s); n != 200 {
		t.Fatalf("audit entries = %d, want 200", n)
	}
}

func testAuditPaging(t *testing.T, s vault.Store) {
	ctx := context.Background()
	var last vault.AuditEntry
	for i := range 7 {
		e := entry(vault.ActionReveal, fmt.Sprintf("tok_%d", i))
		e.Purpose, e.Detail, e.KeyID = "purpose", "detail", uint32(i)
		got, err := s.AppendAudit(ctx, e)
		must(t, err)
		if got.Seq != int64(i+1) || len(got.Hash) != vault.HashSize {
			t.Fatalf("AppendAudit returned seq %d hash %x", got.Seq, got.Hash)
		}
		if i > 0 && !bytes.Equal(got.PrevHash, last.Hash) {
			t.Fatal("entry does not chain to the previous one")
		}
		last = got
	}
	es, err := s.Audit(ctx, 2, 3)
	must(t, err)
	if len(es) != 3 || es[0].Seq != 3 || es[2].Seq != 5 {
		t.Fatalf("Audit(2, 3) = %d entries from %d", len(es), es[0].Seq)
	}
	if es[0].Token != "tok_2" || es[0].Purpose != "purpose" || es[0].Detail != "detail" || es[0].KeyID != 2 ||
		es[0].Principal != "test:suite" || es[0].Kind != vault.KindCard || es[0].Action != vault.ActionReveal ||
		es[0].Outcome != vault.OutcomeOK || !es[0].At.Equal(T0) {
		t.Fatalf("entry did not round-trip: %+v", es[0])
	}
	rep, err := vault.VerifyAudit(ctx, s, vault.Anchor{Seq: last.Seq, Hash: last.Hash})
	must(t, err)
	if rep.HeadSeq != 7 || !bytes.Equal(rep.HeadHash, last.Hash) {
		t.Fatalf("VerifyAudit head = %d %x", rep.HeadSeq, rep.HeadHash)
	}
}

func testCanceled(t *testing.T, s vault.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Get(ctx, "tok_x"); err == nil || errors.Is(err, vault.ErrNotFound) {
		t.Fatalf("Get with a canceled context = %v, want the context error", err)
	}
	if _, err := s.AppendAudit(ctx, entry(vault.ActionReveal, "x")); err == nil {
		t.Fatal("AppendAudit with a canceled context succeeded")
	}
	if _, err := s.Insert(ctx, []vault.Insertion{{Record: record("tok_x", 1), Audit: entry(vault.ActionTokenize, "x")}}); err == nil {
		t.Fatal("Insert with a canceled context succeeded")
	}
}

// Clock is a settable clock for vaults under test.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock at t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// NewPolicy returns a policy that lets "test:payments" reveal cards and CVVs to authorize
// payments, and "test:kyc" reveal CPFs for any purpose.
func NewPolicy(t testing.TB) *vault.Policy {
	t.Helper()
	p, err := vault.NewPolicy(
		vault.Rule{Principal: "test:payments", Kinds: []vault.Kind{vault.KindCard, vault.KindCVV}, Purposes: []string{"authorize"}},
		vault.Rule{Principal: "test:kyc", Kinds: []vault.Kind{vault.KindCPF}, Purposes: []string{"*"}},
	)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// NewVault opens a vault over s with a fresh in-memory KEK, NewPolicy and
// clock.
func NewVault(t testing.TB, s vault.Store, clock *Clock) *vault.Vault {
	t.Helper()
	kv, err := vault.NewKEKKeyset()
	if err != nil {
		t.Fatal(err)
	}
	kek, err := vault.ParseKEK(kv)
	if err != nil {
		t.Fatal(err)
	}
	v, err := vault.Open(context.Background(), vault.Config{Store: s, KEK: kek, Policy: NewPolicy(t), Now: clock.Now, CreateKeys: true})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

const testCard = "4111 1111 1111 1111"

// sameValue reports whether got holds want. This package is not on the
// secret.Value.Reveal allow-list, so it compares keyed fingerprints (equal
// only for equal values of a kind, up to separators) and lengths.
func sameValue(t *testing.T, v *vault.Vault, kind vault.Kind, got secret.Value, want string) bool {
	t.Helper()
	ctx := context.Background()
	a, err := v.Fingerprint(ctx, kind, got)
	must(t, err)
	b, err := v.Fingerprint(ctx, kind, secret.FromString(want))
	must(t, err)
	return a == b && got.Len() == len(want)
}

func opts(r vault.Retention) vault.Options {
	return vault.Options{Principal: "test:suite", Retention: r}
}

func testVaultRoundTrip(t *testing.T, s vault.Store) {
	ctx := context.Background()
	v := NewVault(t, s, NewClock(T0))
	o := opts(vault.RetainDays(30))
	o.Format = vault.FormatCard
	tok, err := v.Tokenize(ctx, vault.KindCard, secret.FromString(testCard), o)
	must(t, err)
	if len(tok.ID) != len(testCard) || tok.ID[len(tok.ID)-4:] != "1111" || tok.ID == testCard {
		t.Fatalf("card token %q does not preserve the format", tok.ID)
	}
	got, err := v.Reveal(ctx, tok.ID, "test:payments", "authorize")
	must(t, err)
	if !sameValue(t, v, vault.KindCard, got, testCard) {
		t.Fatal("Reveal returned another value")
	}
	if _, err := v.Reveal(ctx, tok.ID, "test:kyc", "authorize"); !errors.Is(err, vault.ErrDenied) {
		t.Fatalf("Reveal by a principal without a rule = %v, want ErrDenied", err)
	}
	if _, err := v.Reveal(ctx, tok.ID, "test:payments", "marketing"); !errors.Is(err, vault.ErrDenied) {
		t.Fatalf("Reveal for a purpose outside the rule = %v, want ErrDenied", err)
	}
	must(t, v.Delete(ctx, tok.ID, "test:suite", "done"))
	if _, err := v.Reveal(ctx, tok.ID, "test:payments", "authorize"); !errors.Is(err, vault.ErrNotFound) {
		t.Fatalf("Reveal after Delete = %v, want ErrNotFound", err)
	}
	if _, err := s.Get(ctx, tok.ID); !errors.Is(err, vault.ErrNotFound) {
		t.Fatalf("store still has the record after Delete: %v", err)
	}
	es, err := s.Audit(ctx, 0, 100)
	must(t, err)
	var trail []string
	for _, e := range es {
		trail = append(trail, string(e.Action)+":"+string(e.Outcome))
	}
	want := "[keys.init:ok tokenize:ok reveal:ok reveal:denied reveal:denied delete:ok reveal:not_found]"
	if fmt.Sprint(trail) != want {
		t.Fatalf("audit trail = %v\nwant %s", trail, want)
	}
	if n := auditLen(t, s); n != int64(len(es)) {
		t.Fatal("audit log does not verify")
	}
}

func testVaultSwap(t *testing.T, s vault.Store) {
	ctx := context.Background()
	v := NewVault(t, s, NewClock(T0))
	a, err := v.Tokenize(ctx, vault.KindCard, secret.FromString("4111111111111111"), opts(vault.RetainDays(1)))
	must(t, err)
	b, err := v.Tokenize(ctx, vault.KindCard, secret.FromString("5555555555554444"), opts(vault.RetainDays(1)))
	must(t, err)
	ra, err := s.Get(ctx, a.ID)
	must(t, err)
	rb, err := s.Get(ctx, b.ID)
	must(t, err)
	// Move a's wrapped key and ciphertext into b's row, as someone with
	// write access to the database might.
	moved := rb
	moved.WrappedDEK, moved.Ciphertext, moved.DEKKeyID = ra.WrappedDEK, ra.Ciphertext, ra.DEKKeyID
	ok, err := s.Update(ctx, []vault.Update{{Record: moved, ExpectWrappedDEK: rb.WrappedDEK}}, nil)
	must(t, err)
	if !ok[0] {
		t.Fatal("could not move the ciphertext")
	}
	if _, err := v.Reveal(ctx, b.ID, "test:payments", "authorize"); !errors.Is(err, vault.ErrIntegrity) {
		t.Fatalf("Reveal of a row holding another row's ciphertext = %v, want ErrIntegrity", err)
	}
	// Moving only the ciphertext fails too.
	moved = rb
	moved.Ciphertext = ra.Ciphertext
	_, err = s.Update(ctx, []vault.Update{{Record: moved, ExpectWrappedDEK: ra.WrappedDEK}}, nil)
	must(t, err)
	if _, err := v.Reveal(ctx, b.ID, "test:payments", "authorize"); !errors.Is(err, vault.ErrIntegrity) {
		t.Fatalf("Reveal with a foreign ciphertext = %v, want ErrIntegrity", err)
	}
	// Extending a row's life in the database does not work either.
	ext := ra
	ext.ExpiresAt, ext.Retention = time.Time{}, vault.RetainPermanent
	_, err = s.Update(ctx, []vault.Update{{Record: ext, ExpectWrappedDEK: ra.WrappedDEK}}, nil)
	must(t, err)
	if _, err := v.Reveal(ctx, a.ID, "test:payments", "authorize"); !errors.Is(err, vault.ErrIntegrity) {
		t.Fatalf("Reveal of a row whose expiry was edited = %v, want ErrIntegrity", err)
	}
}

func testVaultRetention(t *testing.T, s vault.Store) {
	ctx := context.Background()
	clock := NewClock(T0)
	v := NewVault(t, s, clock)
	cvv, err := v.Tokenize(ctx, vault.KindCVV, secret.FromString("123"), opts(vault.RetainEphemeral))
	must(t, err)
	if !cvv.ExpiresAt.Equal(T0.Add(vault.DefaultEphemeralMaxAge)) {
		t.Fatalf("ephemeral expiry = %v", cvv.ExpiresAt)
	}
	got, err := v.Reveal(ctx, cvv.ID, "test:payments", "authorize")
	must(t, err)
	if !sameValue(t, v, vault.KindCVV, got, "123") {
		t.Fatal("wrong CVV")
	}
	if _, err := v.Reveal(ctx, cvv.ID, "test:payments", "authorize"); !errors.Is(err, vault.ErrNotFound) {
		t.Fatalf("second reveal of an ephemeral value = %v, want ErrNotFound", err)
	}
	if _, err := s.Get(ctx, cvv.ID); !errors.Is(err, vault.ErrNotFound) {
		t.Fatal("an ephemeral value survived its reveal")
	}

	// Expiry: one of each class, then time passes.
	so := opts(vault.RetainSession)
	so.Session = "sess-1"
	sess, err := v.Tokenize(ctx, vault.KindCard, secret.FromString(testCard), so)
	must(t, err)
	eph, err := v.Tokenize(ctx, vault.KindCVV, secret.FromString("456"), opts(vault.RetainEphemeral))
	must(t, err)
	day, err := v.Tokenize(ctx, vault.KindCard, secret.FromString(testCard), opts(vault.RetainDays(1)))
	must(t, err)
	perm, err := v.Tokenize(ctx, vault.KindCard, secret.FromString(testCard), opts(vault.RetainPermanent))
	must(t, err)
	short := opts(vault.RetainDays(1))
	short.TTL = time.Minute
	ttl, err := v.Tokenize(ctx, vault.KindCard, secret.FromString(testCard), short)
	must(t, err)

	clock.Advance(vault.DefaultEphemeralMaxAge)
	if _, err := v.Reveal(ctx, eph.ID, "test:payments", "authorize"); !errors.Is(err, vault.ErrExpired) {
		t.Fatalf("Reveal of an expired ephemeral value = %v, want ErrExpired", err)
	}
	if _, err := s.Get(ctx, eph.ID); !errors.Is(err, vault.ErrNotFound) {
		t.Fatal("an expired value found on access was not erased")
	}
	n, err := v.Sweep(ctx)
	must(t, err)
	if n != 1 { // the TTL one
		t.Fatalf("Sweep after 10 minutes erased %d, want 1", n)
	}
	if _, err := s.Get(ctx, ttl.ID); !errors.Is(err, vault.ErrNotFound) {
		t.Fatal("TTL did not shorten the retention")
	}
	clock.Advance(vault.DefaultSessionMaxAge)
	n, err = v.Sweep(ctx)
	must(t, err)
	if n != 2 { // the day and the session one
		t.Fatalf("Sweep after a day erased %d, want 2", n)
	}
	for _, tok := range []string{sess.ID, day.ID} {
		if _, err := v.Describe(ctx, tok); !errors.Is(err, vault.ErrNotFound) {
			t.Fatalf("Describe(%s) after sweep = %v", tok, err)
		}
	}
	if _, err := v.Describe(ctx, perm.ID); err != nil {
		t.Fatalf("permanent value was swept: %v", err)
	}

	// EndSession erases a session's values at once.
	so.Session = "sess-2"
	for range 3 {
		_, err := v.Tokenize(ctx, vault.KindCard, secret.FromString(testCard), so)
		must(t, err)
	}
	n, err = v.EndSession(ctx, "sess-2", "test:suite")
	must(t, err)
	if n != 3 {
		t.Fatalf("EndSession erased %d, want 3", n)
	}
	auditLen(t, s)
}

func testVaultRotation(t *testing.T, s vault.Store) {
	ctx := context.Background()
	clock := NewClock(T0)
	v := NewVault(t, s, clock)
	var toks []vault.Token
	tokenize := func(n int) {
		for range n {
			o := opts(vault.RetainPermanent)
			o.Format = vault.FormatCard
			tok, err := v.Tokenize(ctx, vault.KindCard, secret.FromString(testCard), o)
			must(t, err)
			toks = append(toks, tok)
		}
	}
	tokenize(3)
	st1, err := v.Status(ctx)
	must(t, err)
	oldValues, oldFP := st1.Keys[0].ID, st1.Keys[1].ID
	if st1.Keys[0].Records != 3 || st1.Keys[1].Records != 3 || st1.Stale() != 0 {
		t.Fatalf("status before rotation = %+v", st1)
	}
	clock.Advance(time.Hour)
	st2, err := v.Rotate(ctx, "test:operator")
	must(t, err)
	if st2.Generation != st1.Generation+1 || st2.Keys[0].ID == oldValues || st2.Stale() != 6 {
		t.Fatalf("status after rotation = %+v", st2)
	}
	tokenize(2)
	for _, tok := range toks {
		got, err := v.Reveal(ctx, tok.ID, "test:payments", "authorize")
		must(t, err)
		if !sameValue(t, v, vault.KindCard, got, testCard) {
			t.Fatal("wrong value after rotation")
		}
	}
	res, err := v.Rewrap(ctx, "test:operator", 2)
	must(t, err)
	if res.Moved != 3 || res.Failed != 0 {
		t.Fatalf("Rewrap = %+v, want 3 moved", res)
	}
	st3, err := v.Status(ctx)
	must(t, err)
	if st3.Stale() != 0 {
		t.Fatalf("records still under old keys after rewrap: %+v", st3)
	}
	for _, k := range st3.Keys {
		if (k.ID == oldValues || k.ID == oldFP) && k.Records != 0 {
			t.Fatalf("old key %d still protects %d records", k.ID, k.Records)
		}
	}
	u, err := s.KeyUsage(ctx)
	must(t, err)
	if u.Values[oldValues] != 0 || u.Fingerprints[oldFP] != 0 {
		t.Fatalf("store still counts rows under the old keys: %+v", u)
	}
	if _, err := v.Retire(ctx, "test:operator", time.Hour); !errors.Is(err, vault.ErrInvalid) {
		t.Fatalf("Retire right after a rotation = %v, want ErrInvalid (grace period)", err)
	}
	clock.Advance(2 * time.Hour)
	ret, err := v.Retire(ctx, "test:operator", time.Hour)
	must(t, err)
	if fmt.Sprint(ret.Values) != fmt.Sprint([]uint32{oldValues}) || fmt.Sprint(ret.Fingerprints) != fmt.Sprint([]uint32{oldFP}) {
		t.Fatalf("Retire = %+v, want the old keys %d/%d", ret, oldValues, oldFP)
	}
	st4, err := v.Status(ctx)
	must(t, err)
	if len(st4.Keys) != 2 {
		t.Fatalf("keys after retire = %+v", st4.Keys)
	}
	for _, tok := range toks {
		got, err := v.Reveal(ctx, tok.ID, "test:payments", "authorize")
		must(t, err)
		if !sameValue(t, v, vault.KindCard, got, testCard) {
			t.Fatal("wrong value after retire")
		}
		same, err := v.Matches(ctx, tok.ID, secret.FromString("4111111111111111"))
		must(t, err)
		if !same {
			t.Fatal("fingerprint no longer matches after rewrap")
		}
	}
	auditLen(t, s)
}

func testVaultDeterministic(t *testing.T, s vault.Store) {
	ctx := context.Background()
	v := NewVault(t, s, NewClock(T0))
	o := opts(vault.RetainDays(1))
	o.Deterministic, o.Scope, o.Format = true, "merchant-1", vault.FormatCard
	a, err := v.Tokenize(ctx, vault.KindCard, secret.FromString(testCard), o)
	must(t, err)
	b, err := v.Tokenize(ctx, vault.KindCard, secret.FromString("4111111111111111"), o)
	must(t, err)
	if a.ID != b.ID {
		t.Fatalf("same card, same scope: %s != %s", a.ID, b.ID)
	}
	o.Retention = vault.RetainDays(30)
	c, err := v.Tokenize(ctx, vault.KindCard, secret.FromString(testCard), o)
	must(t, err)
	if c.ID != a.ID || !c.ExpiresAt.Equal(T0.Add(30*24*time.Hour)) {
		t.Fatalf("re-tokenizing for longer: token %s expires %v", c.ID, c.ExpiresAt)
	}
	o.Scope = "merchant-2"
	d, err := v.Tokenize(ctx, vault.KindCard, secret.FromString(testCard), o)
	must(t, err)
	if d.ID == a.ID {
		t.Fatal("different scopes share a deterministic token")
	}
	got, err := v.Reveal(ctx, a.ID, "test:payments", "authorize")
	must(t, err)
	if !sameValue(t, v, vault.KindCard, got, testCard) {
		t.Fatal("wrong value behind a deterministic token")
	}
	same, err := v.Same(ctx, a.ID, d.ID)
	must(t, err)
	if !same {
		t.Fatal("Same does not see the same card across scopes")
	}
	auditLen(t, s)
}
