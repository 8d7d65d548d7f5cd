package vault

import (
	"strconv"
	"strings"
	"time"
)

// RetentionClass is how long a value may live.
type RetentionClass string

const (
	// ClassEphemeral is for sensitive authentication data (card security
	// codes, PINs): single use, erased by the first successful Reveal, and
	// never kept longer than Config.EphemeralMaxAge (PCI DSS 3.3.1 forbids
	// keeping it after authorization).
	ClassEphemeral RetentionClass = "ephemeral"
	// ClassSession lives until [Vault.EndSession] for its session, and never
	// longer than Config.SessionMaxAge.
	ClassSession RetentionClass = "session"
	// ClassDays lives for Retention.Days days.
	ClassDays RetentionClass = "days"
	// ClassPermanent lives until deleted.
	ClassPermanent RetentionClass = "permanent"
)

// Retention is a record's retention class, written "ephemeral", "session",
// "days:N" (1 ≤ N ≤ 36500) or "permanent". The zero Retention is not
// valid: every tokenization states how long its value may live.
type Retention struct {
	Class RetentionClass
	// Days is N for ClassDays, zero otherwise.
	Days int
}

// Convenience values for the classes without a parameter.
var (
	RetainEphemeral = Retention{Class: ClassEphemeral}
	RetainSession   = Retention{Class: ClassSession}
	RetainPermanent = Retention{Class: ClassPermanent}
)

// RetainDays returns the days:N class.
func RetainDays(n int) Retention { return Retention{Class: ClassDays, Days: n} }

// ParseRetention parses the textual form String returns.
func ParseRetention(s string) (Retention, error) {
	switch s {
	case string(ClassEphemeral), string(ClassSession), string(ClassPermanent):
		return Retention{Class: RetentionClass(s)}, nil
	}
	if n, ok := strings.CutPrefix(s, "days:"); ok {
		d, err := strconv.Atoi(n)
		if err == nil && strconv.Itoa(d) == n { // canonical digits only: no sign, no leading zero
			r := RetainDays(d)
			if r.validate() == nil {
				return r, nil
			}
		}
	}
	return Retention{}, invalid("retention must be ephemeral, session, days:N (1-36500) or permanent")
}

// String returns the textual form: "ephemeral", "session", "days:N" or
// "permanent".
func (r Retention) String() string {
	if r.Class == ClassDays {
		return "days:" + strconv.Itoa(r.Days)
	}
	return string(r.Class)
}

// MarshalText implements encoding.TextMarshaler.
func (r Retention) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (r *Retention) UnmarshalText(b []byte) error {
	v, err := ParseRetention(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

func (r Retention) validate() error {
	switch r.Class {
	case ClassEphemeral, ClassSession, ClassPermanent:
		if r.Days != 0 {
			return invalid("retention days apply to the days class only")
		}
	case ClassDays:
		if r.Days < 1 || r.Days > 36500 {
			return invalid("retention days:N needs 1 <= N <= 36500")
		}
	default:
		return invalid("retention must be ephemeral, session, days:N or permanent")
	}
	return nil
}

// expiry computes when a value tokenized at now expires: the class's limit,
// shortened by ttl when ttl is positive. Zero means never.
func (r Retention) expiry(now time.Time, ttl, ephemeralMax, sessionMax time.Duration) time.Time {
	var limit time.Duration
	switch r.Class {
	case ClassEphemeral:
		limit = ephemeralMax
	case ClassSession:
		limit = sessionMax
	case ClassDays:
		limit = time.Duration(r.Days) * 24 * time.Hour
	}
	if ttl > 0 && (limit == 0 || ttl < limit) {
		limit = ttl
	}
	if limit == 0 {
		return time.Time{}
	}
	return msTime(now.Add(limit))
}

// msTime truncates t to the millisecond, in UTC: the precision stores keep,
// and therefore the precision associated data binds.
func msTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return time.UnixMilli(t.UnixMilli()).UTC()
}

func unixMS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}
