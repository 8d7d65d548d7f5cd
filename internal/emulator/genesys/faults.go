package genesys

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"
)

// Faults are the failures the emulator injects. Counters ("next N calls")
// are consumed one per inbound API call, under a lock, in a fixed order, so
// a given sequence of calls always meets the same faults; randomness
// (DuplicateRate) comes from a generator seeded with Seed. The zero value
// injects nothing.
//
// An inbound API call (message, structured response, event, receipt)
// consumes at most one counted fault, checked in this order: Status429,
// Status500, Timeout; a call that passes them and is accepted may then
// consume AcceptThenTimeout. Latency applies to every call. OAuth and the
// control API are never faulted.
type Faults struct {
	// Status429 makes the next N calls fail with HTTP 429 and a Retry-After
	// header (genesys.md §1.9: the SDKs expect 429 + Retry-After).
	Status429 int
	// RetryAfter is the Retry-After header sent with Status429 answers,
	// rounded up to whole seconds; zero means one second.
	RetryAfter time.Duration
	// Status500 makes the next N calls fail with HTTP 500.
	Status500 int
	// Timeout makes the next N calls hang, unprocessed, until the caller
	// gives up (its request context ends) or the emulator closes.
	Timeout int
	// AcceptThenTimeout makes the next N accepted calls be processed and
	// recorded, then hang like Timeout: the contact centre has the message
	// but the gateway never learns it, and is expected to resend it with the
	// same channel.messageId (counted by Resends).
	AcceptThenTimeout int
	// Latency delays every call.
	Latency time.Duration

	// DuplicateRate is the probability, in [0, 1], that an outbound webhook
	// body is delivered twice (the same signed bytes).
	DuplicateRate float64
	// Reorder, when above 1, holds webhook deliveries and releases them in
	// reverse order in groups of Reorder. Use Concurrency 1 to observe the
	// reversed order exactly.
	Reorder int
	// ReorderWindow releases an incomplete reorder group (reversed) this long
	// after its first delivery was held; zero holds it until the group is
	// full or the faults change.
	ReorderWindow time.Duration
	// Concurrency is the number of webhook deliveries in flight at once;
	// zero means DefaultConcurrency. At most 256.
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
		{"status429", f.Status429}, {"status500", f.Status500}, {"timeout", f.Timeout},
		{"acceptThenTimeout", f.AcceptThenTimeout}, {"reorder", f.Reorder},
	} {
		if c.v < 0 {
			errs = append(errs, fmt.Errorf("%s must not be negative", c.name))
		}
	}
	if f.RetryAfter < 0 || f.Latency < 0 || f.ReorderWindow < 0 {
		errs = append(errs, errors.New("durations must not be negative"))
	}
	if f.DuplicateRate < 0 || f.DuplicateRate > 1 {
		errs = append(errs, errors.New("duplicateRate must be between 0 and 1"))
	}
	if f.Concurrency < 0 || f.Concurrency > maxWorkers {
		errs = append(errs, fmt.Errorf("concurrency must be between 0 and %d", maxWorkers))
	}
	return errors.Join(errs...)
}

// faultsJSON is the control API's shape of Faults: camelCase like the rest
// of the Genesys emulator, durations as Go duration strings ("250ms").
type faultsJSON struct {
	Status429         int          `json:"status429"`
	RetryAfter        jsonDuration `json:"retryAfter"`
	Status500         int          `json:"status500"`
	Timeout           int          `json:"timeout"`
	AcceptThenTimeout int          `json:"acceptThenTimeout"`
	Latency           jsonDuration `json:"latency"`
	DuplicateRate     float64      `json:"duplicateRate"`
	Reorder           int          `json:"reorder"`
	ReorderWindow     jsonDuration `json:"reorderWindow"`
	Concurrency       int          `json:"concurrency"`
	Seed              uint64       `json:"seed"`
}

// MarshalJSON writes the control API's representation.
func (f Faults) MarshalJSON() ([]byte, error) {
	return json.Marshal(faultsJSON{
		Status429: f.Status429, RetryAfter: jsonDuration(f.RetryAfter), Status500: f.Status500,
		Timeout: f.Timeout, AcceptThenTimeout: f.AcceptThenTimeout, Latency: jsonDuration(f.Latency),
		DuplicateRate: f.DuplicateRate, Reorder: f.Reorder, ReorderWindow: jsonDuration(f.ReorderWindow),
		Concurrency: f.Concurrency, Seed: f.Seed,
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
		Status429: w.Status429, RetryAfter: time.Duration(w.RetryAfter), Status500: w.Status500,
		Timeout: w.Timeout, AcceptThenTimeout: w.AcceptThenTimeout, Latency: time.Duration(w.Latency),
		DuplicateRate: w.DuplicateRate, Reorder: w.Reorder, ReorderWindow: time.Duration(w.ReorderWindow),
		Concurrency: w.Concurrency, Seed: w.Seed,
	}
	return nil
}

// jsonDuration is a duration written as a Go duration string and read from
// either such a string or a number of milliseconds.
type jsonDuration time.Duration

func (d jsonDuration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

func (d *jsonDuration) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		v, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		*d = jsonDuration(v)
		return nil
	}
	ms, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("duration must be a string like \"250ms\" or a number of milliseconds: %w", err)
	}
	*d = jsonDuration(time.Duration(ms * float64(time.Millisecond)))
	return nil
}

// callFault is what one inbound API call meets before it is processed.
type callFault int

const (
	faultNone callFault = iota
	fault429
	fault500
	faultTimeout
)

// faultState holds the current faults and their remaining counters.
type faultState struct {
	mu  sync.Mutex
	f   Faults
	rng *rand.Rand
}

func newFaultState() *faultState {
	return &faultState{rng: rand.New(rand.NewPCG(0, 0))}
}

func (s *faultState) set(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.f = f
	s.rng = rand.New(rand.NewPCG(f.Seed, f.Seed))
}

func (s *faultState) get() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.f
}

// before consumes the counted fault, if any, that the next call meets.
func (s *faultState) before() (callFault, Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.f
	switch {
	case s.f.Status429 > 0:
		s.f.Status429--
		return fault429, f
	case s.f.Status500 > 0:
		s.f.Status500--
		return fault500, f
	case s.f.Timeout > 0:
		s.f.Timeout--
		return faultTimeout, f
	}
	return faultNone, f
}

// acceptThenTimeout consumes one AcceptThenTimeout, if any is left.
func (s *faultState) acceptThenTimeout() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f.AcceptThenTimeout > 0 {
		s.f.AcceptThenTimeout--
		return true
	}
	return false
}

// duplicate draws whether the next webhook body is delivered twice.
func (s *faultState) duplicate() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f.DuplicateRate <= 0 {
		return false
	}
	return s.rng.Float64() < s.f.DuplicateRate
}
