package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secureflow/secureflow/internal/config"
	waemu "github.com/secureflow/secureflow/internal/emulator/whatsapp"
	"github.com/secureflow/secureflow/internal/store"
)

// sessionStack starts a gateway running the flows of dirs.
func sessionStack(t *testing.T, dir string, tune func(*config.Config), flows ...string) (*stack, *logBuffer) {
	t.Helper()
	return startStack(t, stackOptions{DataDir: dir, Tune: func(c *config.Config) {
		c.Sessions.Enabled = true
		c.Sessions.Flows = flows
		if tune != nil {
			tune(c)
		}
	}})
}

func lastSent(s *stack, to string) string {
	texts := sentTexts(s.WA)[to]
	if len(texts) == 0 {
		return ""
	}
	return texts[len(texts)-1]
}

func joined(texts []string) string { return strings.Join(texts, "\n") }

// TestAgentReferredSessionInChat runs the agent-referred rules end to end:
// the agent's command is intercepted, the customer's entries never reach
// the contact centre, the reserved agent sees masked progress, agent
// messages are held until the session ends, and the customer returns to
// the agent with a sanitized summary.
func TestAgentReferredSessionInChat(t *testing.T) {
	dir := t.TempDir()
	s, logs := sessionStack(t, dir, nil, "testdata/sessions")
	ctx := context.Background()
	from := "5511955550101"
	code := fmt.Sprintf("%06d", 100000+rand.IntN(899999))
	send := func(text string) {
		t.Helper()
		if _, err := s.WA.SendCustomerMessage(ctx, waemu.CustomerMessage{From: from, Name: "Ana", Text: text}); err != nil {
			t.Fatal(err)
		}
	}
	send("hello, " + label(from))
	waitFor(t, "the first message at the contact centre", 20*time.Second, func() bool { return len(receivedTexts(s.GC)[from]) == 1 })
	conv, ok := s.GC.ConversationFor(from)
	if !ok {
		t.Fatal("no conversation")
	}
	if _, err := s.GC.SendAgentMessage(ctx, conv, "/secure pin-check account=AC-7"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the prompt", 20*time.Second, func() bool { return strings.Contains(lastSent(s, from), "6-digit code for account AC-7") })
	waitFor(t, "the agent's acknowledgement", 20*time.Second, func() bool {
		return strings.Contains(joined(receivedTexts(s.GC)[from]), "Secure session started: pin-check")
	})
	if strings.Contains(joined(sentTexts(s.WA)[from]), "/secure") {
		t.Fatal("the agent's command reached the customer")
	}

	send("12") // not a 6-digit code: asked again, nothing forwarded
	waitFor(t, "the reprompt", 20*time.Second, func() bool { return strings.Contains(lastSent(s, from), "try again") })
	if _, err := s.GC.SendAgentMessage(ctx, conv, "take your time"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the hold notice", 20*time.Second, func() bool {
		return strings.Contains(joined(receivedTexts(s.GC)[from]), "will be delivered when it ends")
	})
	send(code)
	waitFor(t, "the confirmation", 20*time.Second, func() bool { return strings.Contains(lastSent(s, from), "Use the code") })
	waitFor(t, "the masked progress", 20*time.Second, func() bool {
		return strings.Contains(joined(receivedTexts(s.GC)[from]), "received")
	})
	if strings.Contains(joined(sentTexts(s.WA)[from]), "take your time") {
		t.Fatal("an agent message reached the customer during the session")
	}
	send("yes")
	waitFor(t, "the summary to the agent", 20*time.Second, func() bool {
		return strings.Contains(joined(receivedTexts(s.GC)[from]), "Secure session ended (captured)")
	})
	waitFor(t, "the held message after the session", 20*time.Second, func() bool { return lastSent(s, from) == "take your time" })
	sent := sentTexts(s.WA)[from]
	if i := strings.Index(joined(sent), "back to your agent"); i < 0 || i > strings.Index(joined(sent), "take your time") {
		t.Fatalf("the held message was not delivered after the closing message: %q", sent)
	}

	// After the session, the customer's messages reach the agent again.
	send("thanks " + label(from))
	waitFor(t, "the relay to resume", 20*time.Second, func() bool {
		return strings.Contains(joined(receivedTexts(s.GC)[from]), "thanks "+label(from))
	})
	got := receivedTexts(s.GC)[from]
	for _, text := range got {
		if text == "12" {
			t.Fatal("the customer's invalid entry reached the contact centre")
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	assertAbsent(t, dir, map[string]string{"code": code}, map[string][]byte{
		"contact-centre raw bodies": bytes.Join(s.GC.RawBodies(), []byte("\n")),
		"logs":                      []byte(logs.String()),
	})
}

// assertAbsent fails if a canary is in any sink or any file of dir (the
// databases and their WAL files included).
func assertAbsent(t *testing.T, dir string, canaries map[string]string, sinks map[string][]byte) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	found := false
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sinks["file "+filepath.Base(f)] = b
		if filepath.Base(f) == "secureflow.db" {
			found = true
		}
	}
	if !found {
		t.Fatal("database file not found: the test would search nothing")
	}
	for sink, b := range sinks {
		if len(b) == 0 {
			continue
		}
		for name, c := range canaries {
			if bytes.Contains(b, []byte(c)) {
				t.Errorf("%s leaked into %s", name, sink)
			}
		}
	}
}

// TestAgentLeavesMidFlow: the agent leaves while the customer is in the
// flow; the gateway learns it from the Notifications API, the customer
// continues, and the path that would return to the agent takes the flow's
// on_agent_gone transfer, carried to the inbound flow as custom
// attributes.
func TestAgentLeavesMidFlow(t *testing.T) {
	s, _ := sessionStack(t, t.TempDir(), nil, "testdata/sessions")
	ctx := context.Background()
	from := "5511955550102"
	send := func(text string) {
		t.Helper()
		if _, err := s.WA.SendCustomerMessage(ctx, waemu.CustomerMessage{From: from, Name: "Bo", Text: text}); err != nil {
			t.Fatal(err)
		}
	}
	send("hello " + label(from))
	waitFor(t, "the first message", 20*time.Second, func() bool { return len(receivedTexts(s.GC)[from]) == 1 })
	conv, _ := s.GC.ConversationFor(from)
	if _, err := s.GC.SendAgentMessage(ctx, conv, "/secure pin-check account=AC-8"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the prompt", 20*time.Second, func() bool { return strings.Contains(lastSent(s, from), "6-digit code") })
	topic := "v2.detail.events.conversation." + conv + ".user.end"
	waitFor(t, "the subscription to the agent leaving", 20*time.Second, func() bool {
		for _, ch := range s.GC.NotificationChannels() {
			for _, tp := range ch.Topics {
				if tp == topic {
					return true
				}
			}
		}
		return false
	})
	if _, err := s.GC.AgentLeave(conv); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the session to learn the agent left", 20*time.Second, func() bool {
		rec, err := s.Program.sessions.Get(ctx, sessionOf(t, s, from))
		return err == nil && !rec.AgentPresent
	})
	send("482913")
	waitFor(t, "the confirmation", 20*time.Second, func() bool { return strings.Contains(lastSent(s, from), "Use the code") })
	send("yes")
	waitFor(t, "the transfer message", 20*time.Second, func() bool { return strings.Contains(lastSent(s, from), "transferring you") })
	waitFor(t, "the routing attributes", 20*time.Second, func() bool {
		for _, m := range s.GC.Received() {
			if m.FromID == from && m.CustomAttributes["secureflow.outcome"] == "agent_left" && m.CustomAttributes["secureflow.queue"] == "Support" {
				return true
			}
		}
		return false
	})
}

// sessionOf returns the id of the customer's latest session.
func sessionOf(t *testing.T, s *stack, customer string) string {
	t.Helper()
	st := s.Program.store.(interface {
		ActiveSession(context.Context, string) (store.SessionRecord, error)
	})
	rec, err := st.ActiveSession(context.Background(), customer)
	if err != nil {
		t.Fatalf("no active session for %s: %v", customer, err)
	}
	return rec.ID
}
