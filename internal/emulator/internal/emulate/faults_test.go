package emulate

import (
	"slices"
	"testing"
)

type testFaults struct {
	A429, A500, Timeout, ATT int
	Rate                     float64
	Seed                     uint64
	Latency                  int
}

func newTestFaultState() *FaultState[testFaults] {
	return NewFaultState(func(f *testFaults) FaultFields {
		return FaultFields{Status429: &f.A429, Status500: &f.A500, Timeout: &f.Timeout,
			AcceptThenTimeout: &f.ATT, DuplicateRate: f.Rate, Seed: f.Seed}
	})
}

func TestFaultStateConsumesInOrder(t *testing.T) {
	s := newTestFaultState()
	s.Set(testFaults{A429: 1, A500: 2, Timeout: 1, ATT: 1, Latency: 7})
	var calls []Call
	for range 5 {
		c, f := s.Before()
		if f.Latency != 7 {
			t.Fatalf("Before returned latency %d", f.Latency)
		}
		calls = append(calls, c)
	}
	if want := []Call{Call429, Call500, Call500, CallTimeout, CallNone}; !slices.Equal(calls, want) {
		t.Fatalf("calls = %v, want %v", calls, want)
	}
	if !s.AcceptThenTimeout() || s.AcceptThenTimeout() {
		t.Fatal("AcceptThenTimeout should be consumed exactly once")
	}
	if got := s.Get(); got != (testFaults{Latency: 7}) {
		t.Fatalf("Get = %+v, want every counter consumed", got)
	}
}

func TestFaultStateDuplicateIsSeeded(t *testing.T) {
	draws := func() []bool {
		s := newTestFaultState()
		s.Set(testFaults{Rate: 0.5, Seed: 42})
		var out []bool
		for range 32 {
			out = append(out, s.Duplicate())
		}
		return out
	}
	a, b := draws(), draws()
	if !slices.Equal(a, b) {
		t.Fatal("same seed gave different draws")
	}
	if !slices.Contains(a, true) || !slices.Contains(a, false) {
		t.Fatalf("rate 0.5 drew %v", a)
	}
	s := newTestFaultState()
	if s.Duplicate() {
		t.Fatal("zero rate drew a duplicate")
	}
}
