package securelink_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/secureflow/secureflow/internal/flow"
	"github.com/secureflow/secureflow/internal/securelink"
	"github.com/secureflow/secureflow/internal/store/sqlite"
)

// canaryCPF is a valid CPF that, like canaryCard, must reach the sink and
// nowhere else.
const canaryCPF = "52998224725"

// TestCanary submits a card number and a CPF through every path (invalid
// attempt, sink failure, success, reuse) against the SQLite store, and
// checks that they reach the sink and appear in no stored byte, log line,
// metric or response body.
func TestCanary(t *testing.T) {
	dir := t.TempDir()
	db, err := sqlite.Open(context.Background(), filepath.Join(dir, "gw.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	reg := prometheus.NewRegistry()
	e := newEnv(t, db.Links(), func(c *securelink.Config) { c.Metrics = reg })
	fields := append(cardFields(), &flow.Field{Var: "cpf", Type: flow.InputCPF})
	p := e.issue("pt-BR", fields)
	form := func(csrf, cvv string) map[string][]string {
		f := cardForm(csrf, "4012 8888 8888 1881", validExpiry, cvv)
		f["f-cpf"] = []string{"529.982.247-25"}
		return f
	}
	csrf := e.csrf(p)
	if r := e.post(p, form(csrf, "1")); r.code != http.StatusUnprocessableEntity {
		t.Fatalf("invalid: %d", r.code)
	}
	e.sink.setErr(errors.New("vault down"))
	if r := e.post(p, form(csrf, validCVV)); r.code != http.StatusServiceUnavailable {
		t.Fatalf("sink error: %d", r.code)
	}
	e.sink.setErr(nil)
	r := e.post(p, form(csrf, validCVV))
	if r.code != http.StatusOK {
		t.Fatalf("submit: %d", r.code)
	}
	if !strings.Contains(r.body, "Recebido ✓") || !strings.Contains(r.body, "••••1881") {
		t.Errorf("confirmation lacks the masked card:\n%s", r.body)
	}
	if r := e.post(p, form(csrf, validCVV)); r.code != http.StatusGone {
		t.Fatalf("reuse: %d", r.code)
	}

	// The one place the values must reach.
	subs := e.sink.submissions()
	if len(subs) != 1 {
		t.Fatalf("%d submissions", len(subs))
	}
	got := map[string]string{}
	for _, v := range subs[0].Values {
		got[v.Var] = string(v.Secret.Reveal())
		if strings.Contains(v.Masked, canaryCard) || strings.Contains(v.Masked, canaryCPF) {
			t.Errorf("mask of %s holds the value", v.Var)
		}
		if s := fmt.Sprintf("%v %+v %#v %s %q", v, v, v, v, v); strings.Contains(s, canaryCard) || strings.Contains(s, canaryCPF) {
			t.Errorf("formatting a Value prints the secret: %s", s)
		}
	}
	if got["card"] != canaryCard || got["cpf"] != canaryCPF || got["cvv"] != validCVV || got["expiry"] != validExpiry {
		t.Errorf("sink got %d values, not the normalized ones", len(got))
	}

	// Nowhere else: not in the database files while open (WAL included)
	// nor after close.
	needles := []string{canaryCard, "4012 8888 8888 1881", canaryCPF, "529.982.247-25"}
	scan := func(when string) (names []string) {
		files, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			b, err := os.ReadFile(filepath.Join(dir, f.Name()))
			if err != nil {
				t.Fatal(err)
			}
			names = append(names, f.Name())
			for _, n := range needles {
				if strings.Contains(string(b), n) {
					t.Errorf("%s, %s holds %q", when, f.Name(), n)
				}
			}
		}
		return names
	}
	if names := scan("open"); !slices.Contains(names, "gw.db-wal") {
		t.Errorf("no WAL among %q: the check would miss it", names)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	scan("closed")
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	metrics := fmt.Sprint(mfs)
	if !strings.Contains(metrics, "securelink_requests_total") {
		t.Error("metrics not registered")
	}
	for _, n := range needles {
		if strings.Contains(e.logs.String(), n) {
			t.Errorf("logs hold %q", n)
		}
		if strings.Contains(e.allBodies(), n) {
			t.Errorf("a response body holds %q", n)
		}
		if strings.Contains(metrics, n) {
			t.Errorf("metrics hold %q", n)
		}
	}
	if strings.Contains(e.logs.String(), strings.TrimPrefix(p, "/s/")) {
		t.Error("token logged")
	}
}

// TestWALHoldsNoValue checks the WAL while the database is still open
// (before a checkpoint could fold it away).
func TestWALHoldsNoValue(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "gw.db")
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e := newEnv(t, db.Links(), nil)
	p := e.issue("en", cardFields())
	csrf := e.csrf(p)
	if r := e.post(p, cardForm(csrf, "1", validExpiry, validCVV)); r.code != http.StatusUnprocessableEntity {
		t.Fatalf("invalid: %d", r.code)
	}
	if r := e.post(p, cardForm(csrf, canaryCard, validExpiry, validCVV)); r.code != http.StatusOK {
		t.Fatalf("submit: %d", r.code)
	}
	wal, err := os.ReadFile(path + "-wal")
	if err != nil {
		t.Fatalf("no WAL to inspect: %v", err)
	}
	if len(wal) == 0 {
		t.Fatal("empty WAL: the test would prove nothing")
	}
	main, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"wal": wal, "db": main} {
		if strings.Contains(string(b), canaryCard) {
			t.Errorf("%s holds the card number", name)
		}
	}
}
