package retry_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/secureflow/secureflow/internal/retry"
)

func TestBackoffBounds(t *testing.T) {
	b := retry.Backoff{Initial: 100 * time.Millisecond, Max: 2 * time.Second}
	rnd := rand.New(rand.NewPCG(1, 2))
	for attempt := range 12 {
		ceil := min(100*time.Millisecond<<attempt, 2*time.Second)
		for range 200 {
			d := b.Delay(attempt, 0, rnd)
			if d < ceil/10 || d > ceil {
				t.Fatalf("attempt %d: delay %s outside [%s, %s]", attempt, d, ceil/10, ceil)
			}
		}
	}
	if d := b.Delay(0, 7*time.Second, rnd); d != 7*time.Second {
		t.Fatalf("Retry-After floor ignored: %s", d)
	}
}

func TestParseAfter(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"3", 3 * time.Second},
		{" 0 ", 0},
		{"-1", 0},
		{"soon", 0},
		{"Mon, 23 Nov 2026 10:00:30 GMT", 30 * time.Second},
		{"Mon, 23 Nov 2026 09:00:00 GMT", 0},
	}
	for _, tt := range tests {
		if got := retry.ParseAfter(tt.in, now); got != tt.want {
			t.Errorf("ParseAfter(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}
