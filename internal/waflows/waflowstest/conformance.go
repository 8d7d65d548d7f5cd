package waflowstest

import (
	"context"
	"crypto/sha256"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/secureflow/secureflow/internal/flow"
	"github.com/secureflow/secureflow/internal/securelink"
	"github.com/secureflow/secureflow/internal/waflows"
)

// Run checks that the stores made by newStore behave as waflows.Store
// requires: round trip, ErrNotFound, exactly-once Consume under
// concurrency, attempt counting and session revocation.
func Run(t *testing.T, newStore func(t *testing.T) waflows.Store) {
	t.Helper()
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	mk := func(name, session string) waflows.Grant {
		h := sha256.Sum256([]byte(name))
		return waflows.Grant{Hash: h[:], Session: session, Step: "pw", Locale: "pt-BR",
			Fields: []securelink.FieldSpec{
				{Var: "new_password", Type: flow.InputPassword, MinLength: 10, Label: map[string]string{"en": "New password"}},
				{Var: "otp", Type: flow.InputOTP, Length: 6},
			},
			CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	}
	t.Run("round trip", func(t *testing.T) {
		st := newStore(t)
		g := mk("a", "s1")
		if err := st.Create(ctx, g); err != nil {
			t.Fatal(err)
		}
		got, err := st.ByHash(ctx, g.Hash)
		if err != nil {
			t.Fatal(err)
		}
		if got.Session != "s1" || got.Step != "pw" || got.Locale != "pt-BR" || len(got.Fields) != 2 ||
			got.Fields[0].Label["en"] != "New password" || got.Fields[0].MinLength != 10 || got.Fields[1].Length != 6 ||
			!got.ExpiresAt.Equal(g.ExpiresAt) || !got.CreatedAt.Equal(t0) || !got.UsedAt.IsZero() || got.Attempts != 0 {
			t.Errorf("ByHash = %+v", got)
		}
		if err := st.Create(ctx, g); err == nil {
			t.Error("second Create with the same hash succeeded")
		}
	})
	t.Run("not found", func(t *testing.T) {
		st := newStore(t)
		h := sha256.Sum256([]byte("nope"))
		if _, err := st.ByHash(ctx, h[:]); !errors.Is(err, waflows.ErrNotFound) {
			t.Errorf("ByHash = %v, want ErrNotFound", err)
		}
		if err := st.Consume(ctx, h[:], t0); !errors.Is(err, waflows.ErrNotFound) {
			t.Errorf("Consume = %v, want ErrNotFound", err)
		}
		if _, err := st.CountAttempt(ctx, h[:]); !errors.Is(err, waflows.ErrNotFound) {
			t.Errorf("CountAttempt = %v, want ErrNotFound", err)
		}
	})
	t.Run("consume exactly once", func(t *testing.T) {
		st := newStore(t)
		g := mk("b", "s1")
		if err := st.Create(ctx, g); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		ok, used := 0, 0
		for range 8 {
			wg.Go(func() {
				err := st.Consume(ctx, g.Hash, t0.Add(time.Minute))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					ok++
				case errors.Is(err, waflows.ErrUsed):
					used++
				default:
					t.Errorf("Consume: %v", err)
				}
			})
		}
		wg.Wait()
		if ok != 1 || used != 7 {
			t.Errorf("%d successes and %d ErrUsed, want 1 and 7", ok, used)
		}
		got, _ := st.ByHash(ctx, g.Hash)
		if !got.UsedAt.Equal(t0.Add(time.Minute)) {
			t.Errorf("UsedAt = %v", got.UsedAt)
		}
	})
	t.Run("attempts", func(t *testing.T) {
		st := newStore(t)
		g := mk("c", "s1")
		if err := st.Create(ctx, g); err != nil {
			t.Fatal(err)
		}
		for want := 1; want <= 3; want++ {
			if n, err := st.CountAttempt(ctx, g.Hash); err != nil || n != want {
				t.Fatalf("CountAttempt = %d, %v; want %d", n, err, want)
			}
		}
		if got, _ := st.ByHash(ctx, g.Hash); got.Attempts != 3 {
			t.Errorf("Attempts = %d", got.Attempts)
		}
	})
	t.Run("revoke session", func(t *testing.T) {
		st := newStore(t)
		a, b, other := mk("d1", "s1"), mk("d2", "s1"), mk("d3", "s2")
		for _, g := range []waflows.Grant{a, b, other} {
			if err := st.Create(ctx, g); err != nil {
				t.Fatal(err)
			}
		}
		if err := st.Consume(ctx, b.Hash, t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		at := t0.Add(2 * time.Minute)
		if err := st.RevokeSession(ctx, "s1", at); err != nil {
			t.Fatal(err)
		}
		if got, _ := st.ByHash(ctx, a.Hash); !got.ExpiresAt.Equal(at) {
			t.Errorf("revoked token expires %v, want %v", got.ExpiresAt, at)
		}
		if got, _ := st.ByHash(ctx, b.Hash); !got.ExpiresAt.Equal(b.ExpiresAt) {
			t.Errorf("used token's expiry changed to %v", got.ExpiresAt)
		}
		if got, _ := st.ByHash(ctx, other.Hash); !got.ExpiresAt.Equal(other.ExpiresAt) {
			t.Errorf("other session's token changed: %v", got.ExpiresAt)
		}
	})
}
