package relay

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the relay's Prometheus metrics. Labels carry destinations and
// kinds only, never ids or content.
type Metrics struct {
	InboxStored     *prometheus.CounterVec // source, result (new, duplicate)
	CommitBatch     prometheus.Histogram
	Processed       *prometheus.CounterVec // kind, outcome
	Delivered       *prometheus.CounterVec // destination, kind
	Retries         *prometheus.CounterVec // destination
	DeadLetters     *prometheus.CounterVec // destination, kind
	DeliveryLatency *prometheus.HistogramVec
	InFlight        prometheus.Gauge
	Detections      *prometheus.CounterVec // direction, entity, action
	// Direct counts messages handed to a worker without an outbox row;
	// Parked is the events waiting in memory behind them (see direct.go).
	Direct prometheus.Counter
	Parked prometheus.Gauge
}

// NewMetrics registers the relay metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		InboxStored: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "secureflow_inbox_events_total", Help: "Webhook events offered to the inbox, by source and result (new or duplicate).",
		}, []string{"source", "result"}),
		CommitBatch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "secureflow_inbox_commit_batch_size", Help: "Events committed per inbox transaction (group commit).",
			Buckets: prometheus.ExponentialBuckets(1, 2, 11),
		}),
		Processed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "secureflow_events_processed_total", Help: "Inbox events processed, by kind and outcome.",
		}, []string{"kind", "outcome"}),
		Delivered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "secureflow_outbox_delivered_total", Help: "Outbox messages delivered, by destination and kind.",
		}, []string{"destination", "kind"}),
		Retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "secureflow_outbox_retries_total", Help: "Failed delivery attempts rescheduled, by destination.",
		}, []string{"destination"}),
		DeadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "secureflow_outbox_dead_letters_total", Help: "Messages moved to the dead-letter table, by destination and kind.",
		}, []string{"destination", "kind"}),
		DeliveryLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "secureflow_outbox_delivery_seconds", Help: "Time from enqueue to successful delivery, by destination.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 18),
		}, []string{"destination"}),
		InFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "secureflow_outbox_in_flight", Help: "Deliveries in flight.",
		}),
		Direct: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "secureflow_relay_direct_deliveries_total",
			Help: "Customer messages delivered directly, without an outbox row (their event completed once the send has an outcome).",
		}),
		Parked: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "secureflow_relay_parked_events", Help: "Events held in memory behind a direct delivery of their conversation.",
		}),
	}
	m.Detections = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "secureflow_detections_total", Help: "Sensitive spans found in chat text, by direction, entity and the action taken.",
	}, []string{"direction", "entity", "action"})
	reg.MustRegister(m.Detections, m.InboxStored, m.CommitBatch, m.Processed, m.Delivered, m.Retries, m.DeadLetters, m.DeliveryLatency, m.InFlight, m.Direct, m.Parked)
	return m
}
