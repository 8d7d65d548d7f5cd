package securelink

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// maxLimiters bounds each limiter set; idle entries are dropped first.
const maxLimiters = 10000

// limiters is a bounded set of token-bucket limiters by key.
type limiters struct {
	mu    sync.Mutex
	r     rate.Limit
	burst int
	m     map[string]*limiterEntry
}

type limiterEntry struct {
	lim  *rate.Limiter
	last time.Time
}

func newLimiters(r rate.Limit, burst int) *limiters {
	return &limiters{r: r, burst: burst, m: map[string]*limiterEntry{}}
}

// allow reports whether one more request for key is allowed at now.
func (l *limiters) allow(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.m[key]
	if !ok {
		if len(l.m) >= maxLimiters {
			l.sweep(now)
		}
		e = &limiterEntry{lim: rate.NewLimiter(l.r, l.burst)}
		l.m[key] = e
	}
	e.last = now
	return e.lim.AllowN(now, 1)
}

// sweep drops limiters idle long enough to have refilled; if that frees
// nothing, it drops them all (bounded memory beats perfect limiting under
// a flood of distinct keys).
func (l *limiters) sweep(now time.Time) {
	full := time.Duration(float64(l.burst) / float64(l.r) * float64(time.Second))
	for k, e := range l.m {
		if now.Sub(e.last) > full {
			delete(l.m, k)
		}
	}
	if len(l.m) >= maxLimiters {
		clear(l.m)
	}
}
