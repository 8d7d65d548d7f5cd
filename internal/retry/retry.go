// Package retry computes when to try again: exponential backoff with full
// jitter, and the Retry-After header that servers use to ask for a delay.
package retry

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Backoff is exponential backoff with full jitter: the n-th retry waits a
// uniformly random time in [0, min(Max, Initial·2ⁿ)], so that many clients
// failing together do not retry together.
type Backoff struct {
	Initial time.Duration
	Max     time.Duration
}

// Delay returns the wait before retry number attempt (0 for the first
// retry), at least floor (a server's Retry-After). rnd is the source of
// jitter; nil uses the global one.
func (b Backoff) Delay(attempt int, floor time.Duration, rnd *rand.Rand) time.Duration {
	ceil := b.Initial
	for i := 0; i < attempt && ceil < b.Max; i++ {
		ceil *= 2
	}
	if ceil > b.Max {
		ceil = b.Max
	}
	var d time.Duration
	if ceil > 0 {
		if rnd != nil {
			d = time.Duration(rnd.Int64N(int64(ceil) + 1))
		} else {
			d = time.Duration(rand.Int64N(int64(ceil) + 1))
		}
	}
	// Never below a tenth of the ceiling, so a retry storm still spreads.
	if min := ceil / 10; d < min {
		d = min
	}
	if d < floor {
		d = floor
	}
	return d
}

// ParseAfter reads a Retry-After header value: delay-seconds or an HTTP
// date (RFC 9110 §10.2.3). It returns zero when absent or unparseable.
func ParseAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
