package waflows

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Outcomes of a request, the label of waflows_requests_total.
const (
	outcomePing          = "ping"
	outcomeErrorNotice   = "error_notification"
	outcomeForm          = "form"
	outcomeInvalid       = "invalid"
	outcomeSubmitted     = "submitted"
	outcomeSpent         = "spent"
	outcomeUnknownToken  = "unknown_token"
	outcomeBadSignature  = "bad_signature"
	outcomeUndecryptable = "undecryptable"
	outcomeBadRequest    = "bad_request"
	outcomeError         = "error"
)

// metrics are the service's counters. Labels are outcomes only: never a
// session, a token or a value.
type metrics struct {
	issued   prometheus.Counter
	requests *prometheus.CounterVec
	latency  prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		issued: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "waflows_issued_total", Help: "WhatsApp Flow tokens issued.",
		}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "waflows_requests_total", Help: "WhatsApp Flows data endpoint requests by outcome.",
		}, []string{"outcome"}),
		// whatsapp.md §3.8: Meta watches endpoint latency; aim for < 1 s.
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "waflows_request_duration_seconds", Help: "WhatsApp Flows data endpoint request latency.",
			Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5},
		}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.issued, m.requests, m.latency} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, fmt.Errorf("%w: metrics already registered: %w", ErrInvalidConfig, err)
			}
			return nil, fmt.Errorf("waflows: metrics: %w", err)
		}
	}
	return m, nil
}
