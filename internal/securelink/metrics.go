package securelink

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Outcomes of a page request, the label of securelink_requests_total.
const (
	outcomeForm      = "form"
	outcomeInvalid   = "invalid"
	outcomeSubmitted = "submitted"
	outcomeSpent     = "spent"
	outcomeGone      = "gone"
	outcomeNotFound  = "not_found"
	outcomeLimited   = "rate_limited"
	outcomeForbidden = "forbidden"
	outcomeError     = "error"
)

// metrics are the service's counters. Labels are outcomes only: never a
// session, a link or a value.
type metrics struct {
	issued   prometheus.Counter
	requests *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		issued: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "securelink_issued_total", Help: "Secure links issued.",
		}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "securelink_requests_total", Help: "Secure link page requests by outcome.",
		}, []string{"outcome"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.issued, m.requests} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, fmt.Errorf("%w: metrics already registered: %w", ErrInvalidConfig, err)
			}
			return nil, fmt.Errorf("securelink: metrics: %w", err)
		}
	}
	return m, nil
}
