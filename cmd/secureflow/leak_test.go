package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secureflow/secureflow/internal/detect"
	waemu "github.com/secureflow/secureflow/internal/emulator/whatsapp"
)

// canaryDigits returns a random digit string of length n that valid accepts,
// starting with prefix: a value that exists nowhere else, so finding it in a
// sink can only mean it leaked there.
func canaryDigits(t *testing.T, prefix string, n int, valid func(string) bool) string {
	t.Helper()
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	for range 100000 {
		var b strings.Builder
		b.WriteString(prefix)
		for b.Len() < n {
			b.WriteByte(byte('0' + r.IntN(10)))
		}
		if valid(b.String()) {
			return b.String()
		}
	}
	t.Fatal("no canary found")
	return ""
}

// TestVolunteeredSecretsNeverLeak sends a card number, a CPF and a password
// as ordinary chat, and an agent pasting a card number, then searches every
// sink: what the contact-centre emulator received (raw bytes), what the
// customer received, the logs, the metrics, and the database files (WAL
// included).
func TestVolunteeredSecretsNeverLeak(t *testing.T) {
	dir := t.TempDir()
	s, logs := startStack(t, stackOptions{DataDir: dir})
	card := canaryDigits(t, "4", 16, detect.ValidCard)
	cardSpaced := card[0:4] + " " + card[4:8] + " " + card[8:12] + " " + card[12:16]
	cpf := canaryDigits(t, "", 11, detect.ValidCPF)
	cpfFormatted := cpf[0:3] + "." + cpf[3:6] + "." + cpf[6:9] + "-" + cpf[9:11]
	password := fmt.Sprintf("Canary%dPw!", rand.IntN(1e9))
	agentCard := canaryDigits(t, "5", 16, detect.ValidCard)
	canaries := map[string]string{
		"card": card, "card as typed": cardSpaced, "cpf": cpf, "cpf as typed": cpfFormatted,
		"password": password, "agent card": agentCard,
	}

	ctx := context.Background()
	from := "5511912345678"
	for _, text := range []string{
		"hi, my card is " + cardSpaced + " thanks",
		"meu cpf é " + cpfFormatted,
		"my password is " + password,
	} {
		if _, err := s.WA.SendCustomerMessage(ctx, waemu.CustomerMessage{From: from, Name: "Ana", Text: text}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "three messages at the contact centre", 20*time.Second, func() bool { return len(s.GC.Received()) == 3 })
	got := receivedTexts(s.GC)[from]
	want := "[card ••••" + card[12:] + " tok_" // masked, with a vault token
	if !strings.Contains(strings.Join(got, "\n"), want) {
		t.Fatalf("the agent does not see the masked card %q: %q", want, got)
	}
	conv, ok := s.GC.ConversationFor(from)
	if !ok {
		t.Fatal("no conversation")
	}
	blockedID, err := s.GC.SendAgentMessage(ctx, conv, "the card on file is "+agentCard)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.GC.SendAgentMessage(ctx, conv, "anything else?"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the agent's next message", 20*time.Second, func() bool { return len(sentTexts(s.WA)[from]) == 1 })
	waitFor(t, "the DataFiltered receipt", 20*time.Second, func() bool {
		for _, r := range s.GC.Receipts() {
			if r.MessageID == blockedID && r.Status == "Failed" && len(r.Reasons) == 1 && r.Reasons[0].Code == "DataFiltered" {
				return true
			}
		}
		return false
	})

	resp, err := http.Get(s.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(metrics, []byte(`secureflow_detections_total{action="tokenize",direction="customer",entity="CREDIT_CARD"} 1`)) {
		t.Fatalf("detection not counted:\n%s", grepLines(string(metrics), "detections"))
	}
	if err := s.Close(); err != nil { // flush the WAL as a real stop would… and check the files as they are
		t.Fatal(err)
	}

	sinks := map[string][]byte{
		"contact-centre raw bodies": bytes.Join(s.GC.RawBodies(), []byte("\n")),
		"customer raw bodies":       rawSent(s.WA),
		"logs":                      []byte(logs.String()),
		"metrics":                   metrics,
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sinks["file "+filepath.Base(f)] = b
	}
	if _, ok := sinks["file secureflow.db"]; !ok {
		t.Fatal("database file not found: the test would search nothing")
	}
	for sink, b := range sinks {
		for name, c := range canaries {
			if bytes.Contains(b, []byte(c)) {
				t.Errorf("%s leaked into %s", name, sink)
			}
		}
	}
}

func rawSent(wa *waemu.Emulator) []byte {
	var b bytes.Buffer
	for _, m := range wa.Sent() {
		b.Write(m.Raw)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func grepLines(s, sub string) string {
	var out []string
	for l := range strings.SplitSeq(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
