package main

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/secureflow/secureflow/internal/secret"
	"github.com/secureflow/secureflow/internal/store/sqlite"
	"github.com/secureflow/secureflow/internal/vault"
)

// runVaultCLI runs the CLI in-process.
func runVaultCLI(t *testing.T, environ []string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(""), &stdout, &stderr, environ)
	return code, stdout.String(), stderr.String()
}

func TestKeysAndAuditCommands(t *testing.T) {
	dir := t.TempDir()
	kekPath := filepath.Join(dir, "kek.json")
	dbPath := filepath.Join(dir, "data", "secureflow.db")
	environ := []string{"USER=alice"}
	vaultArgs := []string{"--db", dbPath, "--kek", "file:" + kekPath}

	code, out, errOut := runVaultCLI(t, environ, "keys", "init", "--kek-file", kekPath, "--db", dbPath)
	if code != 0 {
		t.Fatalf("keys init = %d: %s%s", code, out, errOut)
	}
	fi, err := os.Stat(kekPath)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("KEK file: %v, mode %v", err, fi.Mode().Perm())
	}
	if !strings.Contains(out, "created vault keysets") || !strings.Contains(out, "every record is under the primary keys") {
		t.Fatalf("keys init output:\n%s", out)
	}
	kekBytes, _ := os.ReadFile(kekPath)

	// A second init refuses to overwrite either the KEK or the keysets.
	if code, _, errOut := runVaultCLI(t, environ, "keys", "init", "--kek-file", kekPath, "--db", dbPath); code == 0 || !strings.Contains(errOut, "exists") {
		t.Fatalf("second init with the same KEK file = %d: %s", code, errOut)
	}
	if code, _, errOut := runVaultCLI(t, environ, append([]string{"keys", "init"}, vaultArgs...)...); code == 0 || !strings.Contains(errOut, "already has vault keysets") {
		t.Fatalf("second init on the same database = %d: %s", code, errOut)
	}

	// Some records, written by the vault as the gateway would.
	ctx := context.Background()
	db, err := sqlite.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	kek, err := vault.LoadKEKFile(kekPath)
	if err != nil {
		t.Fatal(err)
	}
	v, err := vault.Open(ctx, vault.Config{Store: db.Vault(), KEK: kek})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := v.Tokenize(ctx, vault.KindCard, secret.FromString("4111111111111111"),
			vault.Options{Principal: "test:cli", Retention: vault.RetainPermanent}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	code, out, errOut = runVaultCLI(t, environ, append([]string{"keys", "status"}, vaultArgs...)...)
	if code != 0 || !regexp.MustCompile(`values\s+\d+\s+primary\s+ENABLED\s+3`).MatchString(out) {
		t.Fatalf("keys status = %d:\n%s%s", code, out, errOut)
	}
	code, out, errOut = runVaultCLI(t, environ, append([]string{"keys", "rotate"}, vaultArgs...)...)
	if code != 0 || !regexp.MustCompile(`values\s+\d+\s+old\s+ENABLED\s+3`).MatchString(out) || !strings.Contains(out, "6 record keys still under old keys") {
		t.Fatalf("keys rotate = %d:\n%s%s", code, out, errOut)
	}
	code, out, errOut = runVaultCLI(t, environ, append([]string{"keys", "rewrap"}, vaultArgs...)...)
	if code != 0 || !strings.Contains(out, "rewrapped 3 records (0 failed)") || !strings.Contains(out, "every record is under the primary keys") ||
		!regexp.MustCompile(`values\s+\d+\s+old\s+ENABLED\s+0`).MatchString(out) {
		t.Fatalf("keys rewrap = %d:\n%s%s", code, out, errOut)
	}
	code, _, errOut = runVaultCLI(t, environ, append([]string{"keys", "retire"}, vaultArgs...)...)
	if code == 0 || !strings.Contains(errOut, "retire waits") {
		t.Fatalf("keys retire right after rotate = %d: %s", code, errOut)
	}
	code, out, errOut = runVaultCLI(t, environ, append([]string{"keys", "retire", "--grace", "0s"}, vaultArgs...)...)
	if code != 0 || strings.Count(out, " old ") != 0 || !strings.Contains(out, "retired values keys [") {
		t.Fatalf("keys retire = %d:\n%s%s", code, out, errOut)
	}

	// The KEK from the environment works the same; a wrong KEK is refused
	// without printing key material.
	code, _, errOut = runVaultCLI(t, append(environ, "SECUREFLOW_KEYS_KEK=env:MY_KEK", "MY_KEK="+string(kekBytes)), "keys", "status", "--db", dbPath)
	if code != 0 {
		t.Fatalf("keys status with env KEK = %d: %s", code, errOut)
	}
	other := filepath.Join(dir, "other.json")
	if code, _, errOut := runVaultCLI(t, environ, "keys", "init", "--kek-file", other); code != 0 {
		t.Fatalf("init of a KEK file only = %d: %s", code, errOut)
	}
	code, _, errOut = runVaultCLI(t, environ, "keys", "status", "--db", dbPath, "--kek", "file:"+other)
	if code == 0 || !strings.Contains(errOut, "cannot decrypt") || strings.Contains(errOut, "AES") || strings.Contains(errOut, "value\":") {
		t.Fatalf("keys status with the wrong KEK = %d: %s", code, errOut)
	}

	// Audit: intact, then anchored, then tampered.
	code, out, errOut = runVaultCLI(t, environ, "audit", "verify", "--db", dbPath)
	m := regexp.MustCompile(`head (\d+:[0-9a-f]{64})`).FindStringSubmatch(out)
	if code != 0 || !strings.Contains(out, "audit log intact") || m == nil {
		t.Fatalf("audit verify = %d:\n%s%s", code, out, errOut)
	}
	anchor := m[1]
	code, out, _ = runVaultCLI(t, environ, "audit", "show", "--db", dbPath, "--limit", "3")
	if code != 0 || strings.Count(out, "\n") != 3 || !strings.Contains(out, "keys.init") || !strings.Contains(out, `principal="operator:alice"`) {
		t.Fatalf("audit show = %d:\n%s", code, out)
	}
	if strings.Contains(out, "4111111111111111") {
		t.Fatal("audit show printed a value")
	}
	raw, err := sql.Open("sqlite", "file:"+dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for _, q := range []string{
		`DROP TRIGGER vault_audit_no_update`,
		`UPDATE vault_audit SET principal = 'operator:mallory' WHERE seq = 3`,
	} {
		if _, err := raw.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	code, out, _ = runVaultCLI(t, environ, "audit", "verify", "--db", dbPath, "--anchor", anchor)
	if code != 1 || !strings.Contains(out, "BROKEN at entry 3") {
		t.Fatalf("audit verify after tampering = %d:\n%s", code, out)
	}
	if code, _, errOut := runVaultCLI(t, environ, "audit", "verify", "--db", filepath.Join(dir, "missing.db")); code == 0 || errOut == "" {
		t.Fatalf("audit verify of a missing database = %d", code)
	}
}
