package secret_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/secureflow/secureflow/internal/secret"
)

const canary = "canary-4111111111111111"

func TestValueNeverFormats(t *testing.T) {
	v := secret.FromString(canary)
	type wrapper struct {
		Name string
		Key  secret.Value
		Ptr  *secret.Value
	}
	w := wrapper{Name: "n", Key: v, Ptr: &v}
	var outs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10s", "%-8v"} {
		outs = append(outs, fmt.Sprintf(verb, v), fmt.Sprintf(verb, w), fmt.Sprintf(verb, &w))
	}
	outs = append(outs, fmt.Sprint(v), fmt.Sprintln(v, w))
	js, err := json.Marshal(w)
	if err != nil {
		t.Fatal(err)
	}
	outs = append(outs, string(js))
	txt, _ := v.MarshalText()
	outs = append(outs, string(txt))
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	logger.Info("m", "v", v, "w", w, slog.Any("p", &v))
	tlog := slog.New(slog.NewTextHandler(&buf, nil))
	tlog.Info("m", "v", v, "w", w)
	outs = append(outs, buf.String())
	for _, o := range outs {
		if strings.Contains(o, canary) || strings.Contains(o, fmt.Sprintf("%x", canary)) {
			t.Fatalf("secret leaked through formatting: %q", o)
		}
	}
	if got := string(v.Reveal()); got != canary {
		t.Fatalf("Reveal() = %q, want the original", got)
	}
}

func TestValueCopies(t *testing.T) {
	b := []byte("abc")
	v := secret.New(b)
	b[0] = 'x'
	r := v.Reveal()
	if string(r) != "abc" {
		t.Fatalf("New did not copy: %q", r)
	}
	r[1] = 'y'
	if string(v.Reveal()) != "abc" {
		t.Fatal("Reveal did not copy")
	}
	if !secret.New(nil).IsZero() || v.IsZero() || v.Len() != 3 {
		t.Fatal("IsZero/Len wrong")
	}
}

func TestRedactingHandler(t *testing.T) {
	tests := []struct {
		name string
		log  func(*slog.Logger)
	}{
		{"top-level key", func(l *slog.Logger) { l.Info("x", "text", canary) }},
		{"compound key", func(l *slog.Logger) { l.Info("x", "app_secret", canary) }},
		{"header key", func(l *slog.Logger) { l.Info("x", "Authorization", "Bearer "+canary) }},
		{"in group", func(l *slog.Logger) { l.Info("x", slog.Group("msg", "body", canary)) }},
		{"with attrs", func(l *slog.Logger) { l.With("password", canary).Info("x") }},
		{"with group", func(l *slog.Logger) { l.WithGroup("g").Info("x", "token", canary) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			l := slog.New(secret.NewRedactingHandler(slog.NewJSONHandler(&buf, nil)))
			tt.log(l)
			if strings.Contains(buf.String(), canary) {
				t.Fatalf("leaked: %s", buf.String())
			}
			if !strings.Contains(buf.String(), "[REDACTED]") {
				t.Fatalf("no redaction marker: %s", buf.String())
			}
		})
	}
	var buf bytes.Buffer
	slog.New(secret.NewRedactingHandler(slog.NewJSONHandler(&buf, nil))).Info("x", "conversation", "c-1")
	if !strings.Contains(buf.String(), "c-1") {
		t.Fatalf("non-sensitive attribute was redacted: %s", buf.String())
	}
}
