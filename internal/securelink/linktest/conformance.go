package linktest

import (
	"context"
	"crypto/sha256"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/secureflow/secureflow/internal/flow"
	"github.com/secureflow/secureflow/internal/securelink"
)

// Run checks that the stores newStore returns behave as securelink.Store
// requires. newStore must return an empty store each time.
func Run(t *testing.T, newStore func(t *testing.T) securelink.Store) {
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	mk := func(name, session string) securelink.Link {
		h := sha256.Sum256([]byte(name))
		return securelink.Link{
			Hash: h[:], Session: session, Step: "card", Locale: "pt-BR",
			Fields: []securelink.FieldSpec{
				{Var: "card", Type: flow.InputCardNumber},
				{Var: "code", Type: flow.InputPattern, Pattern: `^(?:[A-Z]{3})$`, MaxLength: 3,
					Label: map[string]string{"en": "Code", "pt-BR": "Código"}},
				{Var: "pin", Type: flow.InputDigits, Length: 4},
				{Var: "pw", Type: flow.InputPassword, MinLength: 10, MaxLength: 20},
			},
			CreatedAt: t0, ExpiresAt: t0.Add(5 * time.Minute),
		}
	}

	t.Run("RoundTrip", func(t *testing.T) {
		st := newStore(t)
		want := mk("a", "s1")
		if err := st.CreateLink(ctx, want); err != nil {
			t.Fatal(err)
		}
		got, err := st.LinkByHash(ctx, want.Hash)
		if err != nil {
			t.Fatal(err)
		}
		if !got.CreatedAt.Equal(want.CreatedAt) || !got.ExpiresAt.Equal(want.ExpiresAt) {
			t.Errorf("times: got %v %v, want %v %v", got.CreatedAt, got.ExpiresAt, want.CreatedAt, want.ExpiresAt)
		}
		got.CreatedAt, got.ExpiresAt = want.CreatedAt, want.ExpiresAt
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got %+v\nwant %+v", got, want)
		}
		if !got.OpenedAt.IsZero() || !got.UsedAt.IsZero() || got.Attempts != 0 {
			t.Errorf("new link is opened, used or attempted: %+v", got)
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		st := newStore(t)
		h := sha256.Sum256([]byte("nope"))
		if _, err := st.LinkByHash(ctx, h[:]); !errors.Is(err, securelink.ErrNotFound) {
			t.Errorf("LinkByHash: %v, want ErrNotFound", err)
		}
		if err := st.MarkOpened(ctx, h[:], t0, t0); !errors.Is(err, securelink.ErrNotFound) {
			t.Errorf("MarkOpened: %v, want ErrNotFound", err)
		}
		if _, err := st.CountAttempt(ctx, h[:]); !errors.Is(err, securelink.ErrNotFound) {
			t.Errorf("CountAttempt: %v, want ErrNotFound", err)
		}
		if err := st.Consume(ctx, h[:], t0); !errors.Is(err, securelink.ErrNotFound) {
			t.Errorf("Consume: %v, want ErrNotFound", err)
		}
	})

	t.Run("DuplicateHash", func(t *testing.T) {
		st := newStore(t)
		l := mk("dup", "s1")
		if err := st.CreateLink(ctx, l); err != nil {
			t.Fatal(err)
		}
		if err := st.CreateLink(ctx, l); err == nil {
			t.Error("second CreateLink with the same hash succeeded")
		}
	})

	t.Run("MarkOpenedOnce", func(t *testing.T) {
		st := newStore(t)
		l := mk("open", "s1")
		if err := st.CreateLink(ctx, l); err != nil {
			t.Fatal(err)
		}
		at1, exp1 := t0.Add(time.Minute), t0.Add(16*time.Minute)
		if err := st.MarkOpened(ctx, l.Hash, at1, exp1); err != nil {
			t.Fatal(err)
		}
		if err := st.MarkOpened(ctx, l.Hash, t0.Add(2*time.Minute), t0.Add(17*time.Minute)); err != nil {
			t.Fatal(err)
		}
		got, err := st.LinkByHash(ctx, l.Hash)
		if err != nil {
			t.Fatal(err)
		}
		if !got.OpenedAt.Equal(at1) || !got.ExpiresAt.Equal(exp1) {
			t.Errorf("opened %v expires %v, want %v %v", got.OpenedAt, got.ExpiresAt, at1, exp1)
		}
	})

	t.Run("CountAttempt", func(t *testing.T) {
		st := newStore(t)
		l := mk("attempts", "s1")
		if err := st.CreateLink(ctx, l); err != nil {
			t.Fatal(err)
		}
		for want := 1; want <= 3; want++ {
			n, err := st.CountAttempt(ctx, l.Hash)
			if err != nil || n != want {
				t.Fatalf("CountAttempt = %d, %v; want %d", n, err, want)
			}
		}
		got, _ := st.LinkByHash(ctx, l.Hash)
		if got.Attempts != 3 {
			t.Errorf("Attempts = %d, want 3", got.Attempts)
		}
	})

	t.Run("ConsumeExactlyOnce", func(t *testing.T) {
		st := newStore(t)
		l := mk("consume", "s1")
		if err := st.CreateLink(ctx, l); err != nil {
			t.Fatal(err)
		}
		const n = 8
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() { errs[i] = st.Consume(ctx, l.Hash, t0.Add(time.Duration(i+1)*time.Second)) })
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, securelink.ErrUsed):
				t.Errorf("Consume: %v, want nil or ErrUsed", err)
			}
		}
		if ok != 1 {
			t.Errorf("%d concurrent Consume calls succeeded, want exactly 1", ok)
		}
		got, _ := st.LinkByHash(ctx, l.Hash)
		if got.UsedAt.IsZero() {
			t.Error("UsedAt not set")
		}
	})

	t.Run("RevokeSession", func(t *testing.T) {
		st := newStore(t)
		a, b, other := mk("r1", "victim"), mk("r2", "victim"), mk("r3", "bystander")
		for _, l := range []securelink.Link{a, b, other} {
			if err := st.CreateLink(ctx, l); err != nil {
				t.Fatal(err)
			}
		}
		at := t0.Add(time.Minute)
		if err := st.RevokeSession(ctx, "victim", at); err != nil {
			t.Fatal(err)
		}
		for _, l := range []securelink.Link{a, b} {
			got, _ := st.LinkByHash(ctx, l.Hash)
			if got.ExpiresAt.After(at) {
				t.Errorf("revoked link expires at %v, after %v", got.ExpiresAt, at)
			}
		}
		got, _ := st.LinkByHash(ctx, other.Hash)
		if !got.ExpiresAt.Equal(other.ExpiresAt) {
			t.Errorf("other session's link changed: expires %v", got.ExpiresAt)
		}
	})
}
