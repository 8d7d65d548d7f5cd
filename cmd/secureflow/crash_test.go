package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	gcemu "github.com/secureflow/secureflow/internal/emulator/genesys"
	waemu "github.com/secureflow/secureflow/internal/emulator/whatsapp"
	"github.com/secureflow/secureflow/internal/keyring"
)

// childEnv marks a test binary started as a gateway process.
const childEnv = "SECUREFLOW_TEST_CHILD_GATEWAY"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		// Run `secureflow serve` configured entirely from SECUREFLOW_*
		// variables, until killed.
		os.Exit(run(context.Background(), []string{"serve"}, os.Stdin, os.Stdout, os.Stderr, os.Environ()))
	}
	os.Exit(m.Run())
}

// TestCrashSafety kills the gateway with SIGKILL while acknowledged
// messages are waiting to be forwarded, restarts it on the same database,
// and checks that every message reaches the contact centre exactly once
// (at the application level: resends carry the same message id) and in
// order.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("starts gateway processes")
	}
	dir := t.TempDir()
	kek, err := keyring.NewKEK()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "kek.json"), kek.Reveal(), 0o600); err != nil {
		t.Fatal(err)
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	gw := "http://127.0.0.1:" + port
	const (
		appSecret    = "crash-test-app-secret"
		accessToken  = "crash-test-access-token"
		clientSecret = "crash-test-client-secret"
		hookSecret   = "crash-test-webhook-secret-0123456789"
	)
	log := slog.New(slog.DiscardHandler)
	wa, err := waemu.New(waemu.Config{WebhookURL: gw + "/webhooks/whatsapp", AppSecret: []byte(appSecret), VerifyToken: "v",
		AccessToken: accessToken, PhoneNumberID: demoPhoneNumberID, Logger: log,
		RetrySchedule: []time.Duration{50 * time.Millisecond, 200 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	defer wa.Close()
	gc, err := gcemu.New(gcemu.Config{WebhookURL: gw + "/webhooks/genesys", WebhookSecret: []byte(hookSecret), ClientID: demoClientID,
		ClientSecret: clientSecret, IntegrationID: demoIntegration, TokenTTL: time.Hour, RetryDelay: 100 * time.Millisecond, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer gc.Close()
	waSrv := httptest.NewServer(wa.Handler())
	defer waSrv.Close()
	gcSrv := httptest.NewServer(gc.Handler())
	defer gcSrv.Close()
	// A slow contact centre keeps acknowledged messages waiting in the
	// outbox, so the kill lands between acknowledging and forwarding.
	if err := gc.SetFaults(gcemu.Faults{Latency: 60 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}

	env := append(os.Environ(),
		childEnv+"=1",
		"SECUREFLOW_SERVER_ADDR=127.0.0.1:"+port,
		"SECUREFLOW_STORE_SQLITE_PATH="+filepath.Join(dir, "secureflow.db"),
		"SECUREFLOW_KEYS_KEYSET_FILE="+filepath.Join(dir, "keyset.json"),
		"SECUREFLOW_KEYS_KEK=file:"+filepath.Join(dir, "kek.json"),
		"SECUREFLOW_WHATSAPP_APP_SECRET=env:CRASH_APP_SECRET", "CRASH_APP_SECRET="+appSecret,
		"SECUREFLOW_WHATSAPP_VERIFY_TOKEN=v",
		"SECUREFLOW_WHATSAPP_ACCESS_TOKEN="+accessToken,
		"SECUREFLOW_WHATSAPP_PHONE_NUMBER_ID="+demoPhoneNumberID,
		"SECUREFLOW_WHATSAPP_GRAPH_URL="+waSrv.URL+"/emulator/whatsapp/graph",
		"SECUREFLOW_GENESYS_API_URL="+gcSrv.URL+"/emulator/genesys",
		"SECUREFLOW_GENESYS_LOGIN_URL="+gcSrv.URL+"/emulator/genesys/login",
		"SECUREFLOW_GENESYS_CLIENT_ID="+demoClientID,
		"SECUREFLOW_GENESYS_CLIENT_SECRET="+clientSecret,
		"SECUREFLOW_GENESYS_INTEGRATION_ID="+demoIntegration,
		"SECUREFLOW_GENESYS_WEBHOOK_SECRET="+hookSecret,
		"SECUREFLOW_RELAY_WORKERS=8",
		"SECUREFLOW_RELAY_REORDER_WINDOW=300ms",
		"SECUREFLOW_RELAY_RETRY_INITIAL=50ms",
		"SECUREFLOW_RELAY_RETRY_MAX=1s",
		"SECUREFLOW_LOG_LEVEL=warn",
	)
	var childLog strings.Builder
	start := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = env
		cmd.Stdout, cmd.Stderr = io.Discard, &childLog
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if err := waitReady(context.Background(), gw); err != nil {
			cmd.Process.Kill()
			t.Fatalf("gateway did not start: %v\n%s", err, childLog.String())
		}
		return cmd
	}

	child := start()
	ctx := context.Background()
	const customers, per = 10, 20
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	for i := range per {
		for c := range customers {
			from := fmt.Sprintf("55619%06d", c)
			if _, err := wa.SendCustomerMessage(ctx, waemu.CustomerMessage{From: from, Text: fmt.Sprintf("%s #%02d", label(from), i),
				Timestamp: base.Add(time.Duration(i) * time.Second)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = wa.WaitIdle(waitCtx) // every webhook acknowledged
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "forwarding under way", 20*time.Second, func() bool { return len(gc.Received()) >= 20 })
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()
	atKill := len(gc.Received())
	if atKill >= customers*per {
		t.Fatalf("everything was forwarded before the kill (%d); the test did not crash mid-flight", atKill)
	}
	t.Logf("killed the gateway with %d of %d acknowledged messages forwarded", atKill, customers*per)

	child = start()
	defer func() { child.Process.Kill(); child.Wait() }()
	waitFor(t, "every message after restart", 60*time.Second, func() bool { return len(gc.Received()) >= customers*per })
	time.Sleep(300 * time.Millisecond)
	got := receivedTexts(gc)
	for c := range customers {
		from := fmt.Sprintf("55619%06d", c)
		if len(got[from]) != per {
			t.Fatalf("%s: %d messages at the contact centre, want %d", from, len(got[from]), per)
		}
		for i, txt := range got[from] {
			if want := fmt.Sprintf("%s #%02d", label(from), i); txt != want {
				t.Fatalf("%s: position %d has %q, want %q", from, i, txt, want)
			}
		}
	}
	t.Logf("after the crash: %d messages forwarded once each; the contact centre dropped %d resends carrying an already-seen message id", customers*per, gc.Resends())
}
