package config_test

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/secureflow/secureflow/internal/config"
)

var env = []string{
	"TEST_KEK=kek-json",
	"TEST_WA_SECRET=wa-app-secret-canary",
	"TEST_WA_TOKEN=wa-token",
	"TEST_GC_SECRET=gc-secret",
	"TEST_GC_WEBHOOK=0123456789abcdefXYZ",
}

func TestLoadValid(t *testing.T) {
	cfg, warnings, err := config.Load("testdata/valid.yaml", env)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings = %v, want none", warnings)
	}
	if cfg.Server.Addr != "127.0.0.1:9090" {
		t.Errorf("addr = %q", cfg.Server.Addr)
	}
	if got := cfg.Genesys.APIURL; got != "https://api.mypurecloud.ie" {
		t.Errorf("api url = %q, derived from region wrongly", got)
	}
	if got := cfg.Genesys.LoginURL; got != "https://login.mypurecloud.ie" {
		t.Errorf("login url = %q", got)
	}
	if got := string(cfg.WhatsApp.VerifyToken.Value.Reveal()); got != "verify-me" {
		t.Errorf("file: reference resolved to %q", got)
	}
	if cfg.Relay.DedupeRetention < 7*24*time.Hour {
		t.Errorf("default dedupe retention %s is below Meta's 7-day redelivery window", cfg.Relay.DedupeRetention)
	}
	if s := fmt.Sprintf("%+v", cfg); strings.Contains(s, "wa-app-secret-canary") {
		t.Fatalf("formatting the config leaked a secret: %s", s)
	}
}

func TestEnvOverrides(t *testing.T) {
	e := append([]string{
		"SECUREFLOW_RELAY_WORKERS=7",
		"SECUREFLOW_RELAY_REORDER_WINDOW=2s",
		"SECUREFLOW_WHATSAPP_PREVIOUS_APP_SECRETS=literal-old, env:TEST_WA_TOKEN",
		"SECUREFLOW_GENESYS_CLIENT_SECRET=env:TEST_WA_TOKEN",
	}, env...)
	cfg, warnings, err := config.Load("testdata/valid.yaml", e)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if cfg.Relay.Workers != 7 || cfg.Relay.ReorderWindow != 2*time.Second {
		t.Errorf("overrides not applied: workers=%d window=%s", cfg.Relay.Workers, cfg.Relay.ReorderWindow)
	}
	if n := len(cfg.WhatsApp.PreviousAppSecrets); n != 2 {
		t.Fatalf("previous secrets = %d, want 2", n)
	}
	if got := string(cfg.Genesys.ClientSecret.Value.Reveal()); got != "wa-token" {
		t.Errorf("env override of a secret resolved to %q", got)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "previous_app_secrets[0]") {
		t.Errorf("warnings = %q, want one about the literal", warnings)
	}
}

func TestLoadReportsEveryProblem(t *testing.T) {
	_, _, err := config.Load("testdata/broken.yaml", []string{"SECUREFLOW_RELAY_RETRY_MAX=soon"})
	if !errors.Is(err, config.ErrInvalid) {
		t.Fatalf("err = %v, want ErrInvalid", err)
	}
	for _, want := range []string{
		"server.addr", "store.driver", "NOPE_NOT_SET", "genesys.webhook_secret", "relay.workers",
		"relay.dedupe_retention", "log.level", "relay.retry_max (from SECUREFLOW_RELAY_RETRY_MAX)",
		"keys.kek", "whatsapp.access_token", "genesys.client_id",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
}

func TestUnknownFieldRejected(t *testing.T) {
	_, _, err := config.Load("testdata/unknown.yaml", env)
	if !errors.Is(err, config.ErrInvalid) || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("err = %v, want ErrInvalid naming line 2", err)
	}
}

func TestFieldsListsEnvNames(t *testing.T) {
	found := false
	for _, f := range config.Fields() {
		if f[0] == "whatsapp.app_secret" && f[1] == "SECUREFLOW_WHATSAPP_APP_SECRET" {
			found = true
		}
	}
	if !found {
		t.Fatal("Fields() lacks whatsapp.app_secret")
	}
}

// TestReferenceDocumentsEverySetting keeps docs/configuration.md complete.
func TestReferenceDocumentsEverySetting(t *testing.T) {
	doc, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range config.Fields() {
		row := "| `" + f[0] + "` | `" + f[1] + "` |"
		if !strings.Contains(string(doc), row) {
			t.Errorf("docs/configuration.md lacks a row for %s (%s)", f[0], f[1])
		}
	}
}
