package vault

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strings"
	"time"

	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/prf"
	tinkpb "github.com/tink-crypto/tink-go/v2/proto/tink_go_proto"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// Associated data. Each names its purpose and version, so a blob made for
// one purpose never authenticates for another.
const (
	adValuesKeyset      = "secureflow/vault/keyset/values/v1"
	adFingerprintKeyset = "secureflow/vault/keyset/fingerprints/v1"
	adDEK               = "secureflow/vault/dek/v1"
	adValue             = "secureflow/vault/value/v1"
	prfFingerprint      = "secureflow/vault/fingerprint/v1"
	prfToken            = "secureflow/vault/token/v1"
	prfProbe            = "secureflow/vault/probe/v1"
)

// fingerprintSize is the PRF output kept as a fingerprint: 32 bytes, the
// whole HMAC-SHA256 output. Tink's guidance (2n+32 bits for 2^n inputs)
// is met for any plausible n.
const fingerprintSize = 32

// Key templates. AES-256-GCM with Tink's output prefix for the values
// keyset, so every wrapped DEK names the key that wrapped it and any key
// of the keyset decrypts; no prefix for per-record DEKs, which have one key
// each. HMAC-SHA256 used as a PRF for fingerprints.
var (
	valuesTemplate      = aead.AES256GCMKeyTemplate
	dekTemplate         = aead.AES256GCMNoPrefixKeyTemplate
	fingerprintTemplate = prf.HMACSHA256PRFKeyTemplate
)

// keys is an immutable snapshot of the decrypted keysets.
type keys struct {
	generation int64
	kekID      string
	updatedAt  time.Time

	values        *keyset.Handle
	aead          tink.AEAD
	valuesPrimary uint32
	valuesIDs     map[uint32]bool

	fingerprints *keyset.Handle
	prf          *prf.Set
}

func newKeys(values, fingerprints *keyset.Handle, gen int64, kekID string, at time.Time) (*keys, error) {
	a, err := aead.New(values)
	if err != nil {
		return nil, fmt.Errorf("vault: values keyset: %w", err)
	}
	p, err := prf.NewPRFSet(fingerprints)
	if err != nil {
		return nil, fmt.Errorf("vault: fingerprint keyset: %w", err)
	}
	k := &keys{
		generation: gen, kekID: kekID, updatedAt: at,
		values: values, aead: a, valuesPrimary: values.KeysetInfo().GetPrimaryKeyId(), valuesIDs: map[uint32]bool{},
		fingerprints: fingerprints, prf: p,
	}
	for _, ki := range values.KeysetInfo().GetKeyInfo() {
		k.valuesIDs[ki.GetKeyId()] = true
	}
	return k, nil
}

// freshKeysets generates the two keysets, one key each.
func freshKeysets() (values, fingerprints *keyset.Handle, err error) {
	values, err = keyset.NewHandle(valuesTemplate())
	if err != nil {
		return nil, nil, fmt.Errorf("vault: generate values keyset: %w", err)
	}
	fingerprints, err = keyset.NewHandle(fingerprintTemplate())
	if err != nil {
		return nil, nil, fmt.Errorf("vault: generate fingerprint keyset: %w", err)
	}
	return values, fingerprints, nil
}

// encryptKeysets encrypts both keysets under kek, each with associated data
// naming its purpose.
func encryptKeysets(ctx context.Context, kek KEK, values, fingerprints *keyset.Handle) (v, f []byte, err error) {
	var vb, fb bytes.Buffer
	if err := values.WriteWithContext(ctx, keyset.NewBinaryWriter(&vb), kek, []byte(adValuesKeyset)); err != nil {
		return nil, nil, fmt.Errorf("%w: encrypt values keyset under %s: %w", ErrKEK, kek.ID(), err)
	}
	if err := fingerprints.WriteWithContext(ctx, keyset.NewBinaryWriter(&fb), kek, []byte(adFingerprintKeyset)); err != nil {
		return nil, nil, fmt.Errorf("%w: encrypt fingerprint keyset under %s: %w", ErrKEK, kek.ID(), err)
	}
	return vb.Bytes(), fb.Bytes(), nil
}

// decryptKeysets is the inverse of encryptKeysets. A wrong KEK fails here,
// and the error says which KEK the keysets were stored under.
func decryptKeysets(ctx context.Context, kek KEK, st StoredKeysets) (*keys, error) {
	wrong := func(which string) error {
		return fmt.Errorf("%w: cannot decrypt the %s keyset with KEK %s (the keysets were stored under KEK %s)", ErrKEK, which, kek.ID(), st.KEKID)
	}
	values, err := keyset.ReadWithContext(ctx, keyset.NewBinaryReader(bytes.NewReader(st.Values)), kek, []byte(adValuesKeyset))
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, wrong("values")
	}
	fingerprints, err := keyset.ReadWithContext(ctx, keyset.NewBinaryReader(bytes.NewReader(st.Fingerprints)), kek, []byte(adFingerprintKeyset))
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, wrong("fingerprint")
	}
	return newKeys(values, fingerprints, st.Generation, st.KEKID, st.UpdatedAt)
}

// recordAD is the associated data of a record's wrapped DEK (purpose
// adDEK) and value (adValue): every field that must not change without the
// vault noticing.
func recordAD(purpose string, r *Record) []byte {
	b := make([]byte, 0, 96+len(r.Token)+len(r.Scope)+len(r.Session))
	for _, s := range []string{purpose, r.Token, string(r.Kind), string(r.Format), r.Scope, r.Session, r.Retention.String()} {
		b = appendString(b, s)
	}
	b = binary.BigEndian.AppendUint64(b, uint64(unixMS(r.ExpiresAt)))
	if r.Deterministic {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	return b
}

// seal encrypts value for r under a fresh data key wrapped by the primary
// values key, setting DEKKeyID, WrappedDEK and Ciphertext. Every other
// field of r must be final: it is bound into the associated data.
func (k *keys) seal(r *Record, value []byte) error {
	dek, err := keyset.NewHandle(dekTemplate())
	if err != nil {
		return fmt.Errorf("vault: generate data key: %w", err)
	}
	a, err := aead.New(dek)
	if err != nil {
		return fmt.Errorf("vault: data key: %w", err)
	}
	ct, err := a.Encrypt(value, recordAD(adValue, r))
	if err != nil {
		return fmt.Errorf("vault: encrypt value: %w", err)
	}
	var buf bytes.Buffer
	if err := dek.WriteWithAssociatedData(keyset.NewBinaryWriter(&buf), k.aead, recordAD(adDEK, r)); err != nil {
		return fmt.Errorf("vault: wrap data key: %w", err)
	}
	r.DEKKeyID, r.WrappedDEK, r.Ciphertext = k.valuesPrimary, buf.Bytes(), ct
	return nil
}

// open unwraps r's data key and decrypts its value. Any failure is
// ErrIntegrity: Tink does not say why, and neither do we.
func (k *keys) open(r *Record) ([]byte, error) {
	dek, err := keyset.ReadWithAssociatedData(keyset.NewBinaryReader(bytes.NewReader(r.WrappedDEK)), k.aead, recordAD(adDEK, r))
	if err != nil {
		return nil, ErrIntegrity
	}
	a, err := aead.New(dek)
	if err != nil {
		return nil, ErrIntegrity
	}
	pt, err := a.Decrypt(r.Ciphertext, recordAD(adValue, r))
	if err != nil {
		return nil, ErrIntegrity
	}
	return pt, nil
}

// prfInput frames PRF inputs: a domain string, then length-prefixed
// fields, so inputs of different purposes or field splits never coincide.
func prfInput(domain string, fields ...[]byte) []byte {
	b := appendString(nil, domain)
	for _, f := range fields {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	return b
}

// fingerprint computes kind's fingerprint of a canonical value with key id.
func (k *keys) fingerprint(id uint32, kind Kind, canon []byte) ([]byte, error) {
	p, ok := k.prf.PRFs[id]
	if !ok {
		return nil, fmt.Errorf("vault: fingerprint key %d is not in the keyset", id)
	}
	in := prfInput(prfFingerprint, []byte(kind), canon)
	defer clear(in)
	out, err := p.ComputePRF(in, fingerprintSize)
	if err != nil {
		return nil, fmt.Errorf("vault: fingerprint: %w", err)
	}
	return out, nil
}

// probe is a short keyed digest of a string that was presented as a token
// but matches none: it lets an auditor correlate repeated probes without
// the audit log ever holding the string, which could be a value passed by
// mistake.
func (k *keys) probe(s string) string {
	out, err := k.prf.ComputePrimaryPRF(prfInput(prfProbe, []byte(s)), 8)
	if err != nil {
		return "unavailable"
	}
	return fmt.Sprintf("%x", out)
}

// prfStream is an endless keyed pseudo-random byte stream: block i is
// PRF(input, i). It drives deterministic token derivation through the same
// digit sampler the random tokens use.
type prfStream struct {
	p     prf.PRF
	input []byte
	block uint32
	buf   []byte
}

func (s *prfStream) Read(b []byte) (int, error) {
	n := 0
	for n < len(b) {
		if len(s.buf) == 0 {
			out, err := s.p.ComputePRF(binary.BigEndian.AppendUint32(bytes.Clone(s.input), s.block), 32)
			if err != nil {
				return n, err
			}
			s.block++
			s.buf = out
		}
		c := copy(b[n:], s.buf)
		s.buf = s.buf[c:]
		n += c
	}
	return n, nil
}

// tokenStream returns the deterministic stream for a value in a scope,
// under the primary fingerprint key; attempt separates the candidates tried
// when a candidate collides with another value's token.
func (k *keys) tokenStream(kind Kind, scope string, f Format, canon []byte, attempt int) *prfStream {
	return &prfStream{
		p:     k.prf.PRFs[k.prf.PrimaryID],
		input: prfInput(prfToken, []byte(kind), []byte(scope), []byte(f), canon, binary.BigEndian.AppendUint32(nil, uint32(attempt))),
	}
}

// formatFingerprint renders a fingerprint: "fp_", the key id in hex, "_",
// and the PRF output in unpadded base64url. The key id is part of it
// because fingerprints under different keys never compare equal.
func formatFingerprint(id uint32, sum []byte) string {
	return fmt.Sprintf("fp_%08x_%s", id, base64.RawURLEncoding.EncodeToString(sum))
}

// KeyInfo describes one key of a keyset.
type KeyInfo struct {
	// Keyset is "values" (AES-256-GCM, wraps data keys) or "fingerprints"
	// (HMAC-SHA256 PRF).
	Keyset string
	// ID is Tink's key id; wrapped data keys carry it in their prefix.
	ID uint32
	// Primary marks the key new records use.
	Primary bool
	// Status is Tink's key status (ENABLED, DISABLED), or MISSING for a key
	// id that records use but the keyset no longer has (those records
	// cannot be decrypted).
	Status string
	// Records is the number of live records under the key.
	Records int64
}

// Status describes the vault's keys.
type Status struct {
	// Generation counts keyset changes since "keys init".
	Generation int64
	// KEKID names the KEK the keysets are stored under.
	KEKID string
	// UpdatedAt is when the keysets last changed.
	UpdatedAt time.Time
	// Keys lists every key, values keyset first, primary first.
	Keys []KeyInfo
}

// Stale reports how many records are not yet under the primary keys: what
// a re-wrap has left to do.
func (s Status) Stale() int64 {
	var n int64
	for _, k := range s.Keys {
		if !k.Primary {
			n += k.Records
		}
	}
	return n
}

func (k *keys) status(u KeyUsage) Status {
	s := Status{Generation: k.generation, KEKID: k.kekID, UpdatedAt: k.updatedAt}
	add := func(name string, h *keyset.Handle, counts map[uint32]int64) {
		seen := map[uint32]bool{}
		var primary []KeyInfo
		var rest []KeyInfo
		for i := 0; i < h.Len(); i++ {
			e, err := h.Entry(i)
			if err != nil {
				continue
			}
			seen[e.KeyID()] = true
			ki := KeyInfo{Keyset: name, ID: e.KeyID(), Primary: e.IsPrimary(), Status: strings.ToUpper(e.KeyStatus().String()), Records: counts[e.KeyID()]}
			if ki.Primary {
				primary = append(primary, ki)
			} else {
				rest = append(rest, ki)
			}
		}
		for id, n := range counts {
			if !seen[id] && n > 0 {
				rest = append(rest, KeyInfo{Keyset: name, ID: id, Status: "MISSING", Records: n})
			}
		}
		s.Keys = append(append(s.Keys, primary...), rest...)
	}
	add("values", k.values, u.Values)
	add("fingerprints", k.fingerprints, u.Fingerprints)
	return s
}

// rotated returns copies of both keysets with a fresh primary key each.
func (k *keys) rotated() (values, fingerprints *keyset.Handle, err error) {
	add := func(h *keyset.Handle, t func() *tinkpb.KeyTemplate) (*keyset.Handle, error) {
		m := keyset.NewManagerFromHandle(h)
		id, err := m.Add(t())
		if err != nil {
			return nil, err
		}
		if err := m.SetPrimary(id); err != nil {
			return nil, err
		}
		return m.Handle()
	}
	if values, err = add(k.values, valuesTemplate); err != nil {
		return nil, nil, fmt.Errorf("vault: rotate values keyset: %w", err)
	}
	if fingerprints, err = add(k.fingerprints, fingerprintTemplate); err != nil {
		return nil, nil, fmt.Errorf("vault: rotate fingerprint keyset: %w", err)
	}
	return values, fingerprints, nil
}

// without returns copies of both keysets minus the given non-primary keys.
func (k *keys) without(values, fingerprints []uint32) (*keyset.Handle, *keyset.Handle, error) {
	del := func(h *keyset.Handle, ids []uint32) (*keyset.Handle, error) {
		if len(ids) == 0 {
			return h, nil
		}
		m := keyset.NewManagerFromHandle(h)
		for _, id := range ids {
			if err := m.Delete(id); err != nil {
				return nil, err
			}
		}
		return m.Handle()
	}
	v, err := del(k.values, values)
	if err != nil {
		return nil, nil, fmt.Errorf("vault: retire values keys: %w", err)
	}
	f, err := del(k.fingerprints, fingerprints)
	if err != nil {
		return nil, nil, fmt.Errorf("vault: retire fingerprint keys: %w", err)
	}
	return v, f, nil
}
