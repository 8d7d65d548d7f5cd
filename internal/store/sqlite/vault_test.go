package sqlite_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/keyset"

	"github.com/secureflow/secureflow/internal/secret"
	"github.com/secureflow/secureflow/internal/store/sqlite"
	"github.com/secureflow/secureflow/internal/vault"
	"github.com/secureflow/secureflow/internal/vault/vaulttest"
)

func openDB(t *testing.T) (*sqlite.DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "vault.db")
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, path
}

func TestVaultConformance(t *testing.T) {
	vaulttest.Run(t, func(t *testing.T) vault.Store {
		db, _ := openDB(t)
		return db.Vault()
	})
}

func mustT(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// fileBytes returns the database, WAL and shared-memory files' contents.
func fileBytes(t *testing.T, path string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		b, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		mustT(t, err)
		out[filepath.Base(p)] = b
	}
	return out
}

func contains(files map[string][]byte, needle []byte) string {
	for name, b := range files {
		if bytes.Contains(b, needle) {
			return name
		}
	}
	return ""
}

// TestVaultErasedFromFileBytes proves that a deleted, consumed or expired
// value is unrecoverable: neither its wrapped data key nor its ciphertext
// is left in the database or WAL file once the call returns.
func TestVaultErasedFromFileBytes(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		ret   vault.Retention
		erase func(t *testing.T, v *vault.Vault, clock *vaulttest.Clock, tok string)
	}{
		{"delete", vault.RetainPermanent, func(t *testing.T, v *vault.Vault, _ *vaulttest.Clock, tok string) {
			mustT(t, v.Delete(ctx, tok, "test:sqlite", "customer request"))
		}},
		{"ephemeral consumed", vault.RetainEphemeral, func(t *testing.T, v *vault.Vault, _ *vaulttest.Clock, tok string) {
			_, err := v.Reveal(ctx, tok, "test:payments", "authorize")
			mustT(t, err)
		}},
		{"expired and swept", vault.RetainDays(1), func(t *testing.T, v *vault.Vault, clock *vaulttest.Clock, _ string) {
			clock.Advance(25 * time.Hour)
			n, err := v.Sweep(ctx)
			mustT(t, err)
			if n != 1 {
				t.Fatalf("swept %d", n)
			}
		}},
		{"session ended", vault.RetainSession, func(t *testing.T, v *vault.Vault, _ *vaulttest.Clock, _ string) {
			n, err := v.EndSession(ctx, "sess-1", "test:sqlite")
			mustT(t, err)
			if n != 1 {
				t.Fatalf("ended %d", n)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, path := openDB(t)
			clock := vaulttest.NewClock(vaulttest.T0)
			v := vaulttest.NewVault(t, db.Vault(), clock)
			// Traffic around the value, so that pages are shared.
			for i := range 50 {
				_, err := v.Tokenize(ctx, vault.KindPassword, secret.FromString(fmt.Sprintf("neighbour-%d", i)),
					vault.Options{Principal: "test:sqlite", Retention: vault.RetainPermanent})
				mustT(t, err)
			}
			o := vault.Options{Principal: "test:sqlite", Retention: tt.ret}
			if tt.ret.Class == vault.ClassSession {
				o.Session = "sess-1"
			}
			tok, err := v.Tokenize(ctx, vault.KindCard, secret.FromString("4000056655665556"), o)
			mustT(t, err)
			rec, err := db.Vault().Get(ctx, tok.ID)
			mustT(t, err)
			before := fileBytes(t, path)
			if contains(before, rec.WrappedDEK) == "" || contains(before, rec.Ciphertext) == "" {
				t.Fatal("sanity: the wrapped key and ciphertext should be in the files before erasure")
			}
			if where := contains(before, []byte("4000056655665556")); where != "" {
				t.Fatalf("plaintext in %s", where)
			}
			tt.erase(t, v, clock, tok.ID)
			after := fileBytes(t, path)
			for what, needle := range map[string][]byte{"wrapped key": rec.WrappedDEK, "ciphertext": rec.Ciphertext, "fingerprint": rec.Fingerprint} {
				if where := contains(after, needle); where != "" {
					t.Fatalf("%s of the erased record still in %s", what, where)
				}
			}
			if _, err := v.Reveal(ctx, tok.ID, "test:payments", "authorize"); !errors.Is(err, vault.ErrNotFound) {
				t.Fatalf("Reveal after erasure = %v", err)
			}
			if _, err := vault.VerifyAudit(ctx, db.Vault()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestVaultRewrapErasesOldWrapping(t *testing.T) {
	ctx := context.Background()
	db, path := openDB(t)
	clock := vaulttest.NewClock(vaulttest.T0)
	v := vaulttest.NewVault(t, db.Vault(), clock)
	tok, err := v.Tokenize(ctx, vault.KindCard, secret.FromString("4000056655665556"), vault.Options{Principal: "test:sqlite", Retention: vault.RetainPermanent})
	mustT(t, err)
	old, err := db.Vault().Get(ctx, tok.ID)
	mustT(t, err)
	_, err = v.Rotate(ctx, "test:sqlite")
	mustT(t, err)
	res, err := v.Rewrap(ctx, "test:sqlite", 0)
	mustT(t, err)
	if res.Moved != 1 {
		t.Fatalf("rewrap = %+v", res)
	}
	after := fileBytes(t, path)
	if where := contains(after, old.WrappedDEK); where != "" {
		t.Fatalf("the old wrapped key is still in %s after rewrap", where)
	}
	if where := contains(after, old.Ciphertext); where != "" {
		t.Fatalf("the old ciphertext is still in %s after rewrap", where)
	}
	st, err := v.Status(ctx)
	mustT(t, err)
	if st.Stale() != 0 {
		t.Fatalf("status after rewrap: %+v", st)
	}
}

func TestVaultAuditTamperSQL(t *testing.T) {
	ctx := context.Background()
	build := func(t *testing.T) (*sqlite.DB, string, *sql.DB) {
		db, path := openDB(t)
		v := vaulttest.NewVault(t, db.Vault(), vaulttest.NewClock(vaulttest.T0))
		for range 5 {
			tok, err := v.Tokenize(ctx, vault.KindCard, secret.FromString("4111111111111111"), vault.Options{Principal: "test:sqlite", Retention: vault.RetainDays(1)})
			mustT(t, err)
			_, err = v.Reveal(ctx, tok.ID, "test:payments", "authorize")
			mustT(t, err)
		}
		raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
		mustT(t, err)
		t.Cleanup(func() { raw.Close() })
		return db, path, raw
	}
	t.Run("triggers refuse edits", func(t *testing.T) {
		_, _, raw := build(t)
		if _, err := raw.ExecContext(ctx, `UPDATE vault_audit SET principal = 'x' WHERE seq = 3`); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Fatalf("UPDATE on the audit log = %v, want append-only refusal", err)
		}
		if _, err := raw.ExecContext(ctx, `DELETE FROM vault_audit WHERE seq = 3`); err == nil {
			t.Fatal("DELETE on the audit log succeeded")
		}
	})
	tests := []struct {
		name    string
		sql     []string
		wantSeq int64
	}{
		{"edited principal", []string{`UPDATE vault_audit SET principal = 'operator:mallory' WHERE seq = 5`}, 5},
		{"edited outcome", []string{`UPDATE vault_audit SET outcome = 'denied' WHERE seq = 8`}, 8},
		{"removed entry", []string{`DELETE FROM vault_audit WHERE seq = 4`}, 4},
		{"reordered entries", []string{
			`UPDATE vault_audit SET seq = 1000 WHERE seq = 6`,
			`UPDATE vault_audit SET seq = 6 WHERE seq = 7`,
			`UPDATE vault_audit SET seq = 7 WHERE seq = 1000`,
		}, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, path, raw := build(t)
			if _, err := vault.VerifyAudit(ctx, db.Vault()); err != nil {
				t.Fatal(err)
			}
			for _, q := range append([]string{`DROP TRIGGER vault_audit_no_update`, `DROP TRIGGER vault_audit_no_delete`}, tt.sql...) {
				if _, err := raw.ExecContext(ctx, q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			log, err := sqlite.OpenAuditLog(ctx, path)
			mustT(t, err)
			defer log.Close()
			_, err = vault.VerifyAudit(ctx, log)
			var ae *vault.AuditError
			if !errors.As(err, &ae) || ae.Seq != tt.wantSeq {
				t.Fatalf("VerifyAudit = %v, want broken at %d", err, tt.wantSeq)
			}
		})
	}
}

func TestOpenAuditLog(t *testing.T) {
	ctx := context.Background()
	if _, err := sqlite.OpenAuditLog(ctx, filepath.Join(t.TempDir(), "missing.db")); err == nil {
		t.Fatal("opened a missing file")
	}
	db, path := openDB(t)
	v := vaulttest.NewVault(t, db.Vault(), vaulttest.NewClock(vaulttest.T0))
	_, err := v.Tokenize(ctx, vault.KindCard, secret.FromString("4111111111111111"), vault.Options{Principal: "test:sqlite", Retention: vault.RetainDays(1)})
	mustT(t, err)
	log, err := sqlite.OpenAuditLog(ctx, path)
	mustT(t, err)
	defer log.Close()
	rep, err := vault.VerifyAudit(ctx, log)
	mustT(t, err)
	if rep.Entries != 2 {
		t.Fatalf("entries = %d", rep.Entries)
	}
}

// luhnComplete appends the Luhn check digit to body.
func luhnComplete(body string) string {
	sum := 0
	for i := len(body) - 1; i >= 0; i-- {
		v := int(body[i] - '0')
		if (len(body)-1-i)%2 == 0 {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
	}
	return body + string(rune('0'+(10-sum%10)%10))
}

func randDigits(n int) string {
	var b strings.Builder
	for range n {
		d, _ := rand.Int(rand.Reader, big.NewInt(10))
		b.WriteByte(byte('0' + d.Int64()))
	}
	return b.String()
}

func cpfComplete(d string) string {
	for n := 9; n <= 10; n++ {
		sum := 0
		for i := 0; i < n; i++ {
			sum += int(d[i]-'0') * (n + 1 - i)
		}
		r := sum % 11
		c := 0
		if r >= 2 {
			c = 11 - r
		}
		d += string(rune('0' + c))
	}
	return d[:3] + "." + d[3:6] + "." + d[6:9] + "-" + d[9:]
}

// search reports which needles (all of length n) occur in hay, in one pass.
func search(hay []byte, needles map[string]bool, n int) []string {
	var hits []string
	for i := 0; i+n <= len(hay); i++ {
		if needles[string(hay[i:i+n])] {
			hits = append(hits, string(hay[i:i+n]))
		}
	}
	return hits
}

// TestVaultLeakCanaries tokenizes 10,000 canary values (cards,
// format-preserving and opaque; CPFs; passwords; ephemeral security codes),
// reveals and deletes some, and then searches the database, WAL and
// shared-memory files, the vault's logs and every error for any of them.
func TestVaultLeakCanaries(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 tokenizations; skipped in -short")
	}
	ctx := context.Background()
	db, path := openDB(t)
	var logs bytes.Buffer
	kv, err := vault.NewKEKKeyset()
	mustT(t, err)
	kek, err := vault.ParseKEK(kv)
	mustT(t, err)
	clock := vaulttest.NewClock(vaulttest.T0)
	v, err := vault.Open(ctx, vault.Config{Store: db.Vault(), KEK: kek, Policy: vaulttest.NewPolicy(t), Now: clock.Now, CreateKeys: true,
		Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	mustT(t, err)

	cards := map[string]bool{}   // 16 digits, starting with 4 (never a token's first digit)
	cpfs := map[string]bool{}    // 000.000.000-00
	secrets := map[string]bool{} // canary-pw-<16 hex>, 26 bytes
	cvvs := map[string]bool{}    // canary-cvv-<15 hex>, 26 bytes
	var reqs []vault.Request
	for len(cards) < 4000 {
		c := luhnComplete("4" + randDigits(14))
		if !cards[c] {
			cards[c] = true
			f := vault.FormatOpaque
			if len(cards)%2 == 0 {
				f = vault.FormatCard
			}
			reqs = append(reqs, vault.Request{Kind: vault.KindCard, Value: secret.FromString(c), Options: vault.Options{Principal: "test:leak", Retention: vault.RetainDays(30), Format: f}})
		}
	}
	for len(cpfs) < 2500 {
		c := cpfComplete(randDigits(9))
		if !cpfs[c] && c[:3] != c[4:7] { // skip the odd repeated-digit draw
			cpfs[c] = true
			reqs = append(reqs, vault.Request{Kind: vault.KindCPF, Value: secret.FromString(c), Options: vault.Options{Principal: "test:leak", Retention: vault.RetainPermanent, Format: vault.FormatCPF}})
		}
	}
	for len(secrets) < 2500 {
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		s := "canary-pw-" + hex.EncodeToString(b)
		secrets[s] = true
		o := vault.Options{Principal: "test:leak", Retention: vault.RetainPermanent}
		if len(secrets)%5 == 0 {
			o.Deterministic, o.Scope = true, "tenant-1"
		}
		reqs = append(reqs, vault.Request{Kind: vault.KindPassword, Value: secret.FromString(s), Options: o})
	}
	for len(cvvs) < 1000 {
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		s := "canary-cvv-" + hex.EncodeToString(b)[:15]
		cvvs[s] = true
		reqs = append(reqs, vault.Request{Kind: vault.KindCVV, Value: secret.FromString(s), Options: vault.Options{Principal: "test:leak", Retention: vault.RetainEphemeral}})
	}
	if n := len(reqs); n != 10000 {
		t.Fatalf("%d canaries", n)
	}
	var toks []vault.Token
	for i := 0; i < len(reqs); i += 500 {
		ts, err := v.TokenizeBatch(ctx, reqs[i:min(i+500, len(reqs))])
		mustT(t, err)
		toks = append(toks, ts...)
	}
	var errs []string
	issued := map[string]bool{}
	for i, tok := range toks {
		issued[tok.ID] = true
		switch {
		case tok.Kind == vault.KindCVV && i%2 == 0:
			_, err := v.Reveal(ctx, tok.ID, "test:payments", "authorize") // consumed
			mustT(t, err)
		case tok.Kind == vault.KindCard && i%7 == 0:
			_, err := v.Reveal(ctx, tok.ID, "test:payments", "authorize")
			mustT(t, err)
		case tok.Kind == vault.KindCard && i%11 == 0:
			mustT(t, v.Delete(ctx, tok.ID, "test:leak", "customer request"))
		case i%13 == 0:
			_, err := v.Reveal(ctx, tok.ID, "test:nobody", "curiosity")
			errs = append(errs, err.Error())
		}
	}
	// Values passed where tokens belong, and invalid requests quoting nothing.
	for c := range cards {
		_, err := v.Reveal(ctx, c, "test:payments", "authorize")
		errs = append(errs, err.Error())
		_, err = v.Tokenize(ctx, vault.KindCVV, secret.FromString(c), vault.Options{Principal: "test:leak", Retention: vault.RetainEphemeral, Format: vault.FormatCard})
		errs = append(errs, err.Error())
		break
	}
	clock.Advance(time.Hour)
	n, err := v.Sweep(ctx) // the unrevealed CVVs
	mustT(t, err)
	if n != 500 {
		t.Fatalf("swept %d CVVs, want 500", n)
	}
	_, err = v.Rotate(ctx, "test:leak")
	mustT(t, err)
	_, err = v.Rewrap(ctx, "test:leak", 1000)
	mustT(t, err)

	check := func(where string, hay []byte) {
		t.Helper()
		var leaks []string
		leaks = append(leaks, search(hay, cards, 16)...)
		for _, h := range search(hay, cpfs, 14) {
			// A random CPF token can coincide with a real CPF: that is a
			// token, not the value leaking.
			if !issued[h] {
				leaks = append(leaks, h)
			}
		}
		leaks = append(leaks, search(hay, secrets, 26)...)
		leaks = append(leaks, search(hay, cvvs, 26)...)
		if len(leaks) > 0 {
			t.Fatalf("%d canaries found in %s, e.g. %q", len(leaks), where, leaks[0])
		}
	}
	files := fileBytes(t, path)
	if len(files["vault.db"]) < 1<<20 {
		t.Fatalf("database is only %d bytes: are the records there?", len(files["vault.db"]))
	}
	for name, b := range files {
		check(name, b)
	}
	es, err := db.Vault().Audit(ctx, 0, 1<<20)
	mustT(t, err)
	var audit strings.Builder
	for _, e := range es {
		fmt.Fprintf(&audit, "%+v\n", e)
	}
	check("audit log", []byte(audit.String()))
	check("logs", logs.Bytes())
	check("errors", []byte(strings.Join(errs, "\n")))
	if _, err := vault.VerifyAudit(ctx, db.Vault()); err != nil {
		t.Fatal(err)
	}
	mustT(t, db.Close())
	for name, b := range fileBytes(t, path) {
		check(name+" after close", b)
	}
}

// BenchmarkVault measures tokenize and reveal on SQLite (every commit
// fsynced), single and batched, next to the bare Tink AES-256-GCM encrypt
// they are built on. p99 latencies are reported as extra metrics.
//
//	go test ./internal/store/sqlite -run '^$' -bench Vault -benchtime 5000x
func BenchmarkVault(b *testing.B) {
	ctx := context.Background()
	value := secret.FromString("4111 1111 1111 1111")
	o := vault.Options{Principal: "bench", Retention: vault.RetainDays(1), Format: vault.FormatCard}
	open := func(b *testing.B) *vault.Vault {
		db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { db.Close() })
		return vaulttest.NewVault(b, db.Vault(), vaulttest.NewClock(time.Now()))
	}
	p99 := func(b *testing.B, ds []time.Duration) {
		slices.Sort(ds)
		if len(ds) > 0 {
			b.ReportMetric(float64(ds[len(ds)*99/100].Microseconds()), "p99-µs")
		}
	}
	b.Run("tink-aead-baseline", func(b *testing.B) {
		h, err := keyset.NewHandle(aead.AES256GCMKeyTemplate())
		if err != nil {
			b.Fatal(err)
		}
		a, err := aead.New(h)
		if err != nil {
			b.Fatal(err)
		}
		pt := []byte("4111 1111 1111 1111")
		for b.Loop() {
			if _, err := a.Encrypt(pt, []byte("ad")); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("tokenize-single", func(b *testing.B) {
		v := open(b)
		var ds []time.Duration
		for b.Loop() {
			t0 := time.Now()
			if _, err := v.Tokenize(ctx, vault.KindCard, value, o); err != nil {
				b.Fatal(err)
			}
			ds = append(ds, time.Since(t0))
		}
		p99(b, ds)
	})
	b.Run("tokenize-batch-500", func(b *testing.B) {
		v := open(b)
		reqs := make([]vault.Request, 500)
		for i := range reqs {
			reqs[i] = vault.Request{Kind: vault.KindCard, Value: value, Options: o}
		}
		n := 0
		start := time.Now()
		for b.Loop() {
			if _, err := v.TokenizeBatch(ctx, reqs); err != nil {
				b.Fatal(err)
			}
			n += len(reqs)
		}
		b.ReportMetric(float64(n)/time.Since(start).Seconds(), "values/s")
	})
	b.Run("reveal", func(b *testing.B) {
		v := open(b)
		var toks []string
		for range 1000 {
			tok, err := v.Tokenize(ctx, vault.KindCard, value, o)
			if err != nil {
				b.Fatal(err)
			}
			toks = append(toks, tok.ID)
		}
		var ds []time.Duration
		i := 0
		for b.Loop() {
			t0 := time.Now()
			if _, err := v.Reveal(ctx, toks[i%len(toks)], "test:payments", "authorize"); err != nil {
				b.Fatal(err)
			}
			ds = append(ds, time.Since(t0))
			i++
		}
		p99(b, ds)
	})
}
