package secret

import (
	"context"
	"log/slog"
	"strings"
)

// DefaultSensitiveKeys are attribute keys whose values RedactingHandler
// replaces, matched case-insensitively against the whole key or a
// "_"/"-"/"." separated part of it ("app_secret", "Authorization").
var DefaultSensitiveKeys = []string{
	"secret", "password", "passwd", "token", "authorization", "cookie",
	"text", "body", "payload", "value", "pan", "cvv", "cpf", "pin", "otp",
}

// RedactingHandler wraps another slog.Handler and replaces the value of every
// attribute whose key is sensitive with "[REDACTED]", in groups too. It is a
// second line of defence behind Value: it catches a plain string logged under
// an obviously dangerous key, such as a message body.
type RedactingHandler struct {
	next slog.Handler
	keys map[string]struct{}
}

// NewRedactingHandler returns a handler that redacts keys (or
// DefaultSensitiveKeys when keys is empty) before passing records to next.
func NewRedactingHandler(next slog.Handler, keys ...string) *RedactingHandler {
	if len(keys) == 0 {
		keys = DefaultSensitiveKeys
	}
	m := make(map[string]struct{}, len(keys))
	for _, k := range keys {
		m[strings.ToLower(k)] = struct{}{}
	}
	return &RedactingHandler{next: next, keys: m}
}

// Enabled implements slog.Handler.
func (h *RedactingHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

// Handle implements slog.Handler.
func (h *RedactingHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.redact(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

// WithAttrs implements slog.Handler.
func (h *RedactingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		red[i] = h.redact(a)
	}
	return &RedactingHandler{next: h.next.WithAttrs(red), keys: h.keys}
}

// WithGroup implements slog.Handler.
func (h *RedactingHandler) WithGroup(name string) slog.Handler {
	return &RedactingHandler{next: h.next.WithGroup(name), keys: h.keys}
}

func (h *RedactingHandler) redact(a slog.Attr) slog.Attr {
	if h.sensitive(a.Key) {
		return slog.String(a.Key, redacted)
	}
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		g := v.Group()
		red := make([]any, len(g))
		for i, ga := range g {
			red[i] = h.redact(ga)
		}
		return slog.Group(a.Key, red...)
	}
	return slog.Attr{Key: a.Key, Value: v}
}

func (h *RedactingHandler) sensitive(key string) bool {
	k := strings.ToLower(key)
	if _, ok := h.keys[k]; ok {
		return true
	}
	for _, part := range strings.FieldsFunc(k, func(r rune) bool { return r == '_' || r == '-' || r == '.' }) {
		if _, ok := h.keys[part]; ok {
			return true
		}
	}
	return false
}
