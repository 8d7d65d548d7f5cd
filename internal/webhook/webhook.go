// Package webhook is the shared ingress for signed webhooks: it caps and
// reads the raw body, verifies the signature over those exact bytes before
// anything is parsed or stored, parses, hands the events to a sink that
// stores them durably, and only then acknowledges.
//
// Status codes: 401 for a missing or wrong signature (nothing stored), 413
// for a body over the cap, 400 for a verified body that does not parse, 503
// when the sink cannot store (the sender retries; nothing is lost), 200 once
// every event is stored (or recognized as a redelivery).
package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/secureflow/secureflow/internal/event"
)

// Sink stores events durably. It returns only once they are on disk.
type Sink interface {
	Accept(ctx context.Context, events []event.Event) error
}

// Metrics are the webhook counters, labelled by source.
type Metrics struct {
	Requests *prometheus.CounterVec // source, outcome
	Events   *prometheus.CounterVec // source, kind
}

// NewMetrics registers the webhook metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "secureflow_webhook_requests_total",
			Help: "Webhook requests by source and outcome (accepted, bad_signature, too_large, malformed, unavailable).",
		}, []string{"source", "outcome"}),
		Events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "secureflow_webhook_events_total",
			Help: "Events parsed from verified webhooks, by source and kind.",
		}, []string{"source", "kind"}),
	}
	reg.MustRegister(m.Requests, m.Events)
	return m
}

// Handler serves POST requests of one webhook source.
type Handler struct {
	// Source names the sender in metrics and logs ("whatsapp", "genesys").
	Source string
	// MaxBytes caps the body.
	MaxBytes int64
	// Verify checks the signature header value against the raw body.
	Verify func(header string, body []byte) error
	// Parse turns a verified body into events.
	Parse func(body []byte) ([]event.Event, error)
	// Sink stores the events.
	Sink    Sink
	Metrics *Metrics
	Logger  *slog.Logger
	// SignatureHeader is the header carrying the signature.
	SignatureHeader string
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.MaxBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			h.outcome("too_large")
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		h.outcome("unreadable")
		http.Error(w, "cannot read body", http.StatusBadRequest)
		return
	}
	// The signature is checked over the exact bytes received, before any
	// parsing: re-serialized JSON would not match (whatsapp.md §6.1).
	if err := h.Verify(r.Header.Get(h.SignatureHeader), body); err != nil {
		h.outcome("bad_signature")
		h.Logger.WarnContext(r.Context(), "webhook rejected", "source", h.Source, "reason", err.Error(), "remote", r.RemoteAddr)
		http.Error(w, "invalid signature", http.StatusUnauthorized)
		return
	}
	events, err := h.Parse(body)
	if err != nil {
		h.outcome("malformed")
		// The parser's error names fields and offsets, never values.
		h.Logger.WarnContext(r.Context(), "webhook body does not parse", "source", h.Source, "error", err.Error())
		http.Error(w, "malformed payload", http.StatusBadRequest)
		return
	}
	if len(events) > 0 {
		if err := h.Sink.Accept(r.Context(), events); err != nil {
			h.outcome("unavailable")
			h.Logger.ErrorContext(r.Context(), "webhook events not stored", "source", h.Source, "events", len(events), "error", err.Error())
			http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
			return
		}
	}
	for _, e := range events {
		h.Metrics.Events.WithLabelValues(h.Source, string(e.Kind)).Inc()
	}
	h.outcome("accepted")
	w.WriteHeader(http.StatusOK)
}

func (h *Handler) outcome(o string) {
	h.Metrics.Requests.WithLabelValues(h.Source, o).Inc()
}

// ParseError reports where a webhook body failed to parse, without quoting
// any of its values.
type ParseError struct {
	// Path is the JSON path of the offending field, e.g.
	// entry[0].changes[1].value.messages[2].timestamp.
	Path string
	// Reason says what is wrong.
	Reason string
}

// Error implements error: the JSON path and the reason, never the value.
func (e *ParseError) Error() string { return fmt.Sprintf("%s: %s", e.Path, e.Reason) }

// JSONError turns an encoding/json error into a ParseError that carries the
// field path and offset but never the offending bytes (a syntax error
// message otherwise quotes a character of the input).
func JSONError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return &ParseError{Path: "$", Reason: fmt.Sprintf("not valid JSON at byte %d", syn.Offset)}
	case errors.As(err, &typ):
		return &ParseError{Path: typ.Field, Reason: "expected " + typ.Type.String()}
	default:
		return &ParseError{Path: "$", Reason: "not valid JSON"}
	}
}
