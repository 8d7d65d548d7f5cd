package emulate

import (
	"math/rand/v2"
	"sync"
)

// Call is the counted fault one API call meets before it is processed.
type Call int

// The calls FaultState.Before returns.
const (
	// CallNone means the call meets no counted fault.
	CallNone Call = iota
	// Call429 means the call is answered as rate limited.
	Call429
	// Call500 means the call is answered with a server error.
	Call500
	// CallTimeout means the call hangs, unprocessed.
	CallTimeout
)

// FaultFields are the fields of an emulator's Faults that FaultState uses:
// pointers to the counters it consumes, and the values it reads.
type FaultFields struct {
	// Status429, Status500, Timeout and AcceptThenTimeout point at the
	// "next N calls" counters.
	Status429, Status500, Timeout, AcceptThenTimeout *int
	// DuplicateRate is the probability that a webhook body goes out twice.
	DuplicateRate float64
	// Seed seeds the generator behind DuplicateRate.
	Seed uint64
}

// FaultState holds an emulator's current faults, of type F, and consumes
// their counters one call at a time, under a lock and in a fixed order, so
// that a given sequence of calls always meets the same faults. It is safe
// for concurrent use.
type FaultState[F any] struct {
	fields func(*F) FaultFields

	mu  sync.Mutex
	f   F
	rng *rand.Rand
}

// NewFaultState returns a state holding the zero F. fields tells it where
// the counters and the duplicate settings of an F are.
func NewFaultState[F any](fields func(*F) FaultFields) *FaultState[F] {
	return &FaultState[F]{fields: fields, rng: rand.New(rand.NewPCG(0, 0))}
}

// Set replaces the faults and their counters, and reseeds the generator
// behind the duplicate draw.
func (s *FaultState[F]) Set(f F) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.f = f
	seed := s.fields(&f).Seed
	s.rng = rand.New(rand.NewPCG(seed, seed))
}

// Get returns the faults, with the counters that remain.
func (s *FaultState[F]) Get() F {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.f
}

// Before consumes the counted fault, if any, that the next call meets:
// Status429, then Status500, then Timeout. It also returns the faults as
// they were before the call, for their other settings (latency, retry
// delay...).
func (s *FaultState[F]) Before() (Call, F) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.f
	c := s.fields(&s.f)
	switch {
	case *c.Status429 > 0:
		*c.Status429--
		return Call429, f
	case *c.Status500 > 0:
		*c.Status500--
		return Call500, f
	case *c.Timeout > 0:
		*c.Timeout--
		return CallTimeout, f
	}
	return CallNone, f
}

// AcceptThenTimeout consumes one AcceptThenTimeout, if any is left.
func (s *FaultState[F]) AcceptThenTimeout() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.fields(&s.f); *c.AcceptThenTimeout > 0 {
		*c.AcceptThenTimeout--
		return true
	}
	return false
}

// Duplicate draws whether the next webhook body is delivered twice.
func (s *FaultState[F]) Duplicate() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	rate := s.fields(&s.f).DuplicateRate
	if rate <= 0 {
		return false
	}
	return s.rng.Float64() < rate
}
