package whatsapp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/secureflow/secureflow/internal/emulator/internal/emulate"
)

// Faults are the failures the emulator injects. Counters ("next N calls")
// are consumed one per Graph API call, under a lock, in a fixed order, so a
// given sequence of calls always meets the same faults; randomness
// (DuplicateRate) comes from a generator seeded with Seed. The zero value
// injects nothing.
//
// A Graph API call consumes at most one counted fault, checked in this order:
// Status429, Status500, Timeout; a call that passes them and is accepted may
// then consume AcceptThenTimeout. Latency applies to every call.
type Faults struct {
	// Status429 makes the next N Graph API calls fail with error code 130429
	// ("Rate limit hit") and a Retry-After header.
	Status429 int
	// RateLimitStatus is the HTTP status of those answers; zero means 429.
	// Meta's error-code table documents 130429 with HTTP 400
	// (whatsapp.md §2.7), so 400 reproduces what Meta documents; a client
	// should key on the error code, not on the HTTP status.
	RateLimitStatus int
	// RetryAfter is the Retry-After header sent with Status429 answers,
	// rounded up to whole seconds; zero means one second.
	RetryAfter time.Duration
	// Status500 makes the next N Graph API calls fail with HTTP 500 and
	// error code 131000 (whatsapp.md §2.7: unknown error, retry).
	Status500 int
	// Timeout makes the next N Graph API calls hang, unprocessed, until the
	// caller gives up (its request context ends) or the emulator closes.
	Timeout int
	// AcceptThenTimeout makes the next N accepted sends be processed and
	// recorded, then hang like Timeout: the message goes out but the gateway
	// never learns it, and is expected to resend it with the same
	// biz_opaque_callback_data.
	AcceptThenTimeout int
	// Latency delays every Graph API call.
	Latency time.Duration

	// DuplicateRate is the probability, in [0, 1], that a webhook body is
	// delivered twice (the same signed bytes), as Meta may do (whatsapp.md §1.7).
	DuplicateRate float64
	// Reorder, when above 1, holds webhook deliveries and releases them in
	// reverse order in groups of Reorder. Use Concurrency 1 to observe the
	// reversed order exactly.
	Reorder int
	// ReorderWindow releases an incomplete reorder group (reversed) this long
	// after its first delivery was held; zero holds it until the group is
	// full or the faults change.
	ReorderWindow time.Duration
	// Concurrency is the number of webhook deliveries in flight at once
	// (Meta delivers concurrently, whatsapp.md §1.5); zero means
	// DefaultConcurrency. At most 256.
	Concurrency int
	// Seed seeds the generator behind DuplicateRate. Setting faults reseeds it.
	Seed uint64
}

// DefaultConcurrency is the number of concurrent webhook deliveries when
// Faults.Concurrency is zero.
const DefaultConcurrency = 8

// Validate reports every out-of-range field at once.
func (f Faults) Validate() error {
	var errs []error
	for _, c := range []struct {
		name string
		v    int
	}{
		{"status_429", f.Status429}, {"status_500", f.Status500}, {"timeout", f.Timeout},
		{"accept_then_timeout", f.AcceptThenTimeout}, {"reorder", f.Reorder},
	} {
		if c.v < 0 {
			errs = append(errs, fmt.Errorf("%s must not be negative", c.name))
		}
	}
	if f.RateLimitStatus != 0 && (f.RateLimitStatus < 400 || f.RateLimitStatus > 599) {
		errs = append(errs, errors.New("rate_limit_status must be a 4xx or 5xx status"))
	}
	if f.RetryAfter < 0 || f.Latency < 0 || f.ReorderWindow < 0 {
		errs = append(errs, errors.New("durations must not be negative"))
	}
	if f.DuplicateRate < 0 || f.DuplicateRate > 1 {
		errs = append(errs, errors.New("duplicate_rate must be between 0 and 1"))
	}
	if f.Concurrency < 0 || f.Concurrency > emulate.MaxWorkers {
		errs = append(errs, fmt.Errorf("concurrency must be between 0 and %d", emulate.MaxWorkers))
	}
	return errors.Join(errs...)
}

// faultsJSON is the control API's shape of Faults: snake_case like the rest
// of the WhatsApp emulator, durations as Go duration strings ("250ms").
type faultsJSON struct {
	Status429         int              `json:"status_429"`
	RateLimitStatus   int              `json:"rate_limit_status,omitempty"`
	RetryAfter        emulate.Duration `json:"retry_after"`
	Status500         int              `json:"status_500"`
	Timeout           int              `json:"timeout"`
	AcceptThenTimeout int              `json:"accept_then_timeout"`
	Latency           emulate.Duration `json:"latency"`
	DuplicateRate     float64          `json:"duplicate_rate"`
	Reorder           int              `json:"reorder"`
	ReorderWindow     emulate.Duration `json:"reorder_window"`
	Concurrency       int              `json:"concurrency"`
	Seed              uint64           `json:"seed"`
}

// MarshalJSON writes the control API's representation.
func (f Faults) MarshalJSON() ([]byte, error) {
	return json.Marshal(faultsJSON{
		Status429: f.Status429, RateLimitStatus: f.RateLimitStatus, RetryAfter: emulate.Duration(f.RetryAfter),
		Status500: f.Status500, Timeout: f.Timeout, AcceptThenTimeout: f.AcceptThenTimeout,
		Latency: emulate.Duration(f.Latency), DuplicateRate: f.DuplicateRate, Reorder: f.Reorder,
		ReorderWindow: emulate.Duration(f.ReorderWindow), Concurrency: f.Concurrency, Seed: f.Seed,
	})
}

// UnmarshalJSON reads the control API's representation, rejecting unknown
// fields so that a typo in a script fails loudly.
func (f *Faults) UnmarshalJSON(b []byte) error {
	var w faultsJSON
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return err
	}
	*f = Faults{
		Status429: w.Status429, RateLimitStatus: w.RateLimitStatus, RetryAfter: time.Duration(w.RetryAfter),
		Status500: w.Status500, Timeout: w.Timeout, AcceptThenTimeout: w.AcceptThenTimeout,
		Latency: time.Duration(w.Latency), DuplicateRate: w.DuplicateRate, Reorder: w.Reorder,
		ReorderWindow: time.Duration(w.ReorderWindow), Concurrency: w.Concurrency, Seed: w.Seed,
	}
	return nil
}

// newFaultState returns the holder of the current faults and their
// remaining counters.
func newFaultState() *emulate.FaultState[Faults] {
	return emulate.NewFaultState(func(f *Faults) emulate.FaultFields {
		return emulate.FaultFields{
			Status429: &f.Status429, Status500: &f.Status500, Timeout: &f.Timeout,
			AcceptThenTimeout: &f.AcceptThenTimeout, DuplicateRate: f.DuplicateRate, Seed: f.Seed,
		}
	})
}
