package vault

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tink-crypto/tink-go/v2/keyset"
)

// sweepBatch is how many records one sweeper transaction erases.
const sweepBatch = 500

// Sweep erases every record whose expiry has passed, in batches, each
// erasure audited as "expire" by system:sweeper, and returns how many it
// erased.
func (v *Vault) Sweep(ctx context.Context) (int, error) {
	total := 0
	for {
		refs, err := v.store.Expired(ctx, msTime(v.now()), sweepBatch)
		if err != nil {
			return total, fmt.Errorf("vault: sweep: %w", err)
		}
		if len(refs) == 0 {
			return total, nil
		}
		n, err := v.erase(ctx, refs, ActionExpire, PrincipalSweeper, "retention expired")
		total += n
		if err != nil {
			return total, err
		}
		if len(refs) < sweepBatch {
			return total, nil
		}
	}
}

// Status reports the keys and how many records each protects.
func (v *Vault) Status(ctx context.Context) (Status, error) {
	k, err := v.refresh(ctx)
	if err != nil {
		return Status{}, err
	}
	u, err := v.store.KeyUsage(ctx)
	if err != nil {
		return Status{}, fmt.Errorf("vault: status: %w", err)
	}
	return k.status(u), nil
}

// saveKeysets encrypts and stores new keysets as the next generation after
// k, audited, and installs them. ErrConflict means another process changed
// the keysets first; callers reload and retry.
func (v *Vault) saveKeysets(ctx context.Context, k *keys, kek KEK, values, fps *keyset.Handle, e AuditEntry) (*keys, error) {
	vb, fb, err := encryptKeysets(ctx, kek, values, fps)
	if err != nil {
		return nil, err
	}
	now := msTime(v.now())
	st := StoredKeysets{Generation: k.generation + 1, KEKID: kek.ID(), Values: vb, Fingerprints: fb, UpdatedAt: now}
	nk, err := newKeys(values, fps, st.Generation, st.KEKID, now)
	if err != nil {
		return nil, err
	}
	e.At = now
	if e.KeyID == 0 {
		e.KeyID = nk.valuesPrimary
	}
	if err := v.store.SaveKeysets(ctx, st, e); err != nil {
		return nil, err
	}
	v.reloadMu.Lock()
	if cur := v.keys.Load(); cur.generation < nk.generation {
		v.keys.Store(nk)
	}
	v.reloadMu.Unlock()
	return nk, nil
}

// retryKeys runs change against the latest keysets, retrying when another
// process changed them concurrently.
func (v *Vault) retryKeys(ctx context.Context, change func(k *keys) error) error {
	for range 5 {
		k, err := v.refresh(ctx)
		if err != nil {
			return err
		}
		err = change(k)
		if !errors.Is(err, ErrConflict) {
			return err
		}
	}
	return fmt.Errorf("%w: keysets keep changing under us", ErrConflict)
}

// Rotate adds a fresh primary key to both keysets. Records keep
// decrypting under their old keys; new records use the new ones; Rewrap
// moves the old records. Other processes pick the new keys up when they
// meet a record under a key they do not know, and at each maintenance
// tick.
func (v *Vault) Rotate(ctx context.Context, principal string) (Status, error) {
	if err := validName(principal, 128); err != nil {
		return Status{}, invalid("principal: %v", err)
	}
	err := v.retryKeys(ctx, func(k *keys) error {
		values, fps, err := k.rotated()
		if err != nil {
			return err
		}
		nv := values.KeysetInfo().GetPrimaryKeyId()
		nf := fps.KeysetInfo().GetPrimaryKeyId()
		_, err = v.saveKeysets(ctx, k, v.currentKEK(), values, fps, AuditEntry{Action: ActionKeysRotate, Outcome: OutcomeOK, Principal: principal,
			KeyID: nv, Detail: fmt.Sprintf("values %d->%d fingerprints %d->%d", k.valuesPrimary, nv, k.prf.PrimaryID, nf)})
		return err
	})
	if err != nil {
		return Status{}, err
	}
	return v.Status(ctx)
}

// RewrapResult counts a re-wrap's work.
type RewrapResult struct {
	// Moved records are now under the primary keys.
	Moved int
	// Failed records did not authenticate and were left as they are
	// (their tokens are logged); they need an operator.
	Failed int
}

// Rewrap moves every record not under both primary keys to them, batch
// records per transaction: each value is decrypted, sealed under a fresh
// data key wrapped by the primary values key, and re-fingerprinted under
// the primary fingerprint key. A fresh data key, not just a re-wrapped
// one, means that a data key or wrapped key copied before the re-wrap is
// useless once the old key is retired. Each batch is audited as one
// keys.rewrap entry. A concurrent delete or re-wrap of a record wins over
// this one.
func (v *Vault) Rewrap(ctx context.Context, principal string, batch int) (RewrapResult, error) {
	var res RewrapResult
	if err := validName(principal, 128); err != nil {
		return res, invalid("principal: %v", err)
	}
	if batch <= 0 {
		batch = 500
	}
	k, err := v.refresh(ctx)
	if err != nil {
		return res, err
	}
	after := ""
	for {
		n, last, err := v.rewrapBatch(ctx, k, principal, after, batch, &res)
		if err != nil || n < batch {
			return res, err
		}
		after = last
	}
}

// rewrapBatch re-seals one batch after token `after` and returns how many
// records it looked at and the last token.
func (v *Vault) rewrapBatch(ctx context.Context, k *keys, principal, after string, batch int, res *RewrapResult) (int, string, error) {
	recs, err := v.store.Stale(ctx, k.valuesPrimary, k.prf.PrimaryID, after, batch)
	if err != nil {
		return 0, "", fmt.Errorf("vault: rewrap: %w", err)
	}
	if len(recs) == 0 {
		return 0, after, nil
	}
	ups := make([]Update, 0, len(recs))
	for i := range recs {
		r := &recs[i]
		rk := k
		if !k.valuesIDs[r.DEKKeyID] || k.prf.PRFs[r.FingerprintKeyID] == nil {
			// Written by a process with newer keys than ours.
			if rk, err = v.refresh(ctx); err != nil {
				return 0, "", err
			}
		}
		pt, err := rk.open(r)
		if err != nil {
			res.Failed++
			v.log.ErrorContext(ctx, "vault: rewrap: record does not authenticate", "token", r.Token, "kind", string(r.Kind), "key_id", r.DEKKeyID)
			continue
		}
		n := *r
		fp, ferr := k.fingerprint(k.prf.PrimaryID, r.Kind, canonical(r.Kind, pt))
		var serr error
		if ferr == nil {
			n.FingerprintKeyID, n.Fingerprint = k.prf.PrimaryID, fp
			serr = k.seal(&n, pt)
		}
		clear(pt)
		if err := errors.Join(ferr, serr); err != nil {
			return 0, "", err
		}
		ups = append(ups, Update{Record: n, ExpectWrappedDEK: r.WrappedDEK})
	}
	last := recs[len(recs)-1].Token
	if len(ups) == 0 {
		return len(recs), last, nil
	}
	// The entry's detail is filled in after the fact only as a count of
	// candidates; the store appends it if any update applied.
	e := AuditEntry{At: msTime(v.now()), Action: ActionKeysRewrap, Outcome: OutcomeOK, Principal: principal, KeyID: k.valuesPrimary,
		Detail: fmt.Sprintf("records=%d values=%d fingerprints=%d", len(ups), k.valuesPrimary, k.prf.PrimaryID)}
	ok, err := v.store.Update(ctx, ups, &e)
	if err != nil {
		return 0, "", fmt.Errorf("vault: rewrap: %w", err)
	}
	for _, applied := range ok {
		if applied {
			res.Moved++
		}
	}
	return len(recs), last, nil
}

// RetireResult lists the keys Retire deleted.
type RetireResult struct {
	Values       []uint32
	Fingerprints []uint32
}

// Retire deletes from both keysets every non-primary key that protects no
// record, once the keysets have been unchanged for at least grace (so every
// process has had time to load the current primaries and none is still
// writing under a key about to go). Deleting a key is what turns leftover
// copies of re-wrapped rows (backups, WAL frames, freed pages) into noise.
// Run Rewrap first; keys still in use are kept and reported by Status.
func (v *Vault) Retire(ctx context.Context, principal string, grace time.Duration) (RetireResult, error) {
	var res RetireResult
	if err := validName(principal, 128); err != nil {
		return res, invalid("principal: %v", err)
	}
	err := v.retryKeys(ctx, func(k *keys) error {
		res = RetireResult{}
		if age := v.now().Sub(k.updatedAt); age < grace {
			return invalid("keysets changed %s ago; retire waits %s so that every process uses the new primaries", age.Round(time.Second), grace)
		}
		u, err := v.store.KeyUsage(ctx)
		if err != nil {
			return fmt.Errorf("vault: retire: %w", err)
		}
		st := k.status(u)
		for _, ki := range st.Keys {
			if ki.Primary || ki.Records > 0 || ki.Status == "MISSING" {
				continue
			}
			if ki.Keyset == "values" {
				res.Values = append(res.Values, ki.ID)
			} else {
				res.Fingerprints = append(res.Fingerprints, ki.ID)
			}
		}
		if len(res.Values)+len(res.Fingerprints) == 0 {
			return nil
		}
		values, fps, err := k.without(res.Values, res.Fingerprints)
		if err != nil {
			return err
		}
		_, err = v.saveKeysets(ctx, k, v.currentKEK(), values, fps, AuditEntry{Action: ActionKeysRetire, Outcome: OutcomeOK, Principal: principal,
			Detail: fmt.Sprintf("values=%v fingerprints=%v", res.Values, res.Fingerprints)})
		return err
	})
	return res, err
}

// ChangeKEK re-encrypts the keysets under next, as one audited keyset
// change. Keep the old KEK until every process runs with the new one: a
// process still configured with the old KEK fails to load the keysets
// (ErrKEK) on its next reload. The Vault uses next from then on.
func (v *Vault) ChangeKEK(ctx context.Context, next KEK, principal string) error {
	if next == nil {
		return invalid("new KEK required")
	}
	if err := validName(principal, 128); err != nil {
		return invalid("principal: %v", err)
	}
	old := v.currentKEK()
	err := v.retryKeys(ctx, func(k *keys) error {
		_, err := v.saveKeysets(ctx, k, next, k.values, k.fingerprints, AuditEntry{Action: ActionKEKChange, Outcome: OutcomeOK, Principal: principal,
			Detail: fmt.Sprintf("kek %s->%s", old.ID(), next.ID())})
		if err == nil {
			v.reloadMu.Lock()
			v.kek = next
			v.reloadMu.Unlock()
		}
		return err
	})
	return err
}

func (v *Vault) currentKEK() KEK {
	v.reloadMu.Lock()
	defer v.reloadMu.Unlock()
	return v.kek
}

// RunOptions tune the maintenance loop.
type RunOptions struct {
	// Interval between ticks; default one minute.
	Interval time.Duration
	// RewrapBatch is how many records a tick re-wraps at most; default 500.
	RewrapBatch int
}

// Run does the vault's background work until ctx ends: at every tick it
// reloads the keysets (picking up another process's rotation), sweeps
// expired records, and re-wraps up to RewrapBatch records. Errors are
// logged and retried at the next tick; Run returns ctx's error.
func (v *Vault) Run(ctx context.Context, o RunOptions) error {
	if o.Interval <= 0 {
		o.Interval = time.Minute
	}
	if o.RewrapBatch <= 0 {
		o.RewrapBatch = 500
	}
	t := time.NewTicker(o.Interval)
	defer t.Stop()
	cursor := ""
	for {
		v.tick(ctx, o, &cursor)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

func (v *Vault) tick(ctx context.Context, o RunOptions, cursor *string) {
	k, err := v.refresh(ctx)
	if err != nil {
		v.log.ErrorContext(ctx, "vault: reload keysets", "err", err)
		return
	}
	if n, err := v.Sweep(ctx); err != nil {
		v.log.ErrorContext(ctx, "vault: sweep", "err", err, "erased", n)
	} else if n > 0 {
		v.log.InfoContext(ctx, "vault: swept expired records", "erased", n)
	}
	var res RewrapResult
	n, last, err := v.rewrapBatch(ctx, k, PrincipalVault, *cursor, o.RewrapBatch, &res)
	switch {
	case err != nil:
		v.log.ErrorContext(ctx, "vault: rewrap", "err", err)
	case n < o.RewrapBatch:
		*cursor = "" // reached the end: start over next time
	default:
		*cursor = last
	}
	if res.Moved+res.Failed > 0 {
		v.log.InfoContext(ctx, "vault: rewrapped records", "moved", res.Moved, "failed", res.Failed)
	}
}
