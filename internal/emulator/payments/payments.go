package payments

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Outcome forces the result of the next charge.
type Outcome string

// Outcomes of [Emulator.SetNext].
const (
	OutcomeApprove Outcome = "approve"
	OutcomeDecline Outcome = "decline"
	OutcomeTimeout Outcome = "timeout"
	OutcomeError   Outcome = "error"
)

// maxBody bounds a request body.
const maxBody = 64 << 10

// Config configures an [Emulator].
type Config struct {
	// Prefix is the path the emulator serves under, such as
	// "/emulator/payments/"; empty means "/".
	Prefix string
	// Token is the bearer token /v1 requests must carry; empty accepts
	// any request. A test credential, not a production secret.
	Token string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Charge is one processed charge, with the card masked.
type Charge struct {
	ID                string    `json:"id"`
	Status            string    `json:"status"`
	DeclineReason     string    `json:"decline_reason,omitempty"`
	AuthorizationCode string    `json:"authorization_code,omitempty"`
	Amount            string    `json:"amount"`
	Currency          string    `json:"currency"`
	Reference         string    `json:"reference,omitempty"`
	Card              string    `json:"card"`
	IdempotencyKey    string    `json:"idempotency_key,omitempty"`
	At                time.Time `json:"at"`
}

type stored struct {
	status int
	body   []byte
}

// Emulator is the payment processor. It is safe for concurrent use.
type Emulator struct {
	prefix string
	token  string
	now    func() time.Time
	mux    *http.ServeMux

	mu        sync.Mutex
	next      Outcome
	failing   int // charges still to answer with a 500
	charges   []Charge
	requests  [][]byte
	idem      map[string]stored
	customers map[string]string
	otps      map[string]string // account → the one-time code "sent" to its phone

	closeOnce sync.Once
	closed    chan struct{}
}

// New returns an Emulator.
func New(cfg Config) *Emulator {
	p := "/" + strings.Trim(cfg.Prefix, "/") + "/"
	if p == "//" {
		p = "/"
	}
	e := &Emulator{prefix: p, token: cfg.Token, now: cfg.Now, mux: http.NewServeMux(), closed: make(chan struct{})}
	if e.now == nil {
		e.now = time.Now
	}
	e.reset()
	e.mux.HandleFunc("POST "+p+"v1/charges", e.auth(e.charge))
	e.mux.HandleFunc("POST "+p+"v1/cpf/verify", e.auth(e.verifyCPF))
	e.mux.HandleFunc("POST "+p+"v1/accounts/{id}/password", e.auth(e.setPassword))
	e.mux.HandleFunc("POST "+p+"v1/accounts/{id}/otp", e.auth(e.sendOTP))
	e.mux.HandleFunc("POST "+p+"v1/accounts/{id}/otp/verify", e.auth(e.verifyOTP))
	e.mux.HandleFunc("PUT "+p+"next", e.setNext)
	e.mux.HandleFunc("GET "+p+"charges", e.listCharges)
	e.mux.HandleFunc("GET "+p+"otps", func(w http.ResponseWriter, r *http.Request) {
		// What the account service "texted" to each account's phone: the
		// demo shows it where a customer would read it.
		e.mu.Lock()
		out := maps.Clone(e.otps)
		e.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"otps": out})
	})
	e.mux.HandleFunc("POST "+p+"reset", func(w http.ResponseWriter, r *http.Request) {
		e.Reset()
		w.WriteHeader(http.StatusNoContent)
	})
	return e
}

// ServeHTTP implements http.Handler.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) { e.mux.ServeHTTP(w, r) }

// Close releases requests held by the timeout outcome. The emulator keeps
// serving; further timeouts return at once.
func (e *Emulator) Close() { e.closeOnce.Do(func() { close(e.closed) }) }

// SetNext sets the outcome of the next charge.
func (e *Emulator) SetNext(o Outcome) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.next = o
}

// FailNext makes the next n charge attempts answer 500 (an outage that
// outlasts the caller's retries).
func (e *Emulator) FailNext(n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.failing = n
}

// Reset forgets every charge, request, idempotency key, customer and the
// next outcome.
func (e *Emulator) Reset() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.reset()
}

func (e *Emulator) reset() {
	e.next, e.charges, e.requests, e.failing = "", nil, nil, 0
	e.idem, e.customers, e.otps = map[string]stored{}, map[string]string{}, map[string]string{}
}

// OTP returns the one-time code last "sent" for account (a test stands in
// for the customer's phone), or "".
func (e *Emulator) OTP(account string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.otps[account]
}

// sendOTP "sends" a fresh six-digit code to the account's phone and answers
// with a hint of where it went.
func (e *Emulator) sendOTP(w http.ResponseWriter, r *http.Request, _ []byte) {
	id := r.PathValue("id")
	var b [4]byte
	_, _ = rand.Read(b[:])
	code := fmt.Sprintf("%06d", binary.BigEndian.Uint32(b[:])%1000000)
	e.mu.Lock()
	e.otps[id] = code
	e.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"destination_hint": "•••• " + fmt.Sprintf("%04d", len(id)*37%10000)})
}

// verifyOTP checks a code against the last one sent; a code is good once.
func (e *Emulator) verifyOTP(w http.ResponseWriter, r *http.Request, body []byte) {
	var req struct {
		Code string `json:"code"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body is not an OTP check"})
		return
	}
	id := r.PathValue("id")
	e.mu.Lock()
	want := e.otps[id]
	valid := want != "" && subtle.ConstantTimeCompare([]byte(want), []byte(req.Code)) == 1
	if valid {
		delete(e.otps, id)
	}
	e.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"valid": valid})
}

// Requests returns copies of the raw bodies of every /v1 request received,
// in order: the only place the emulator keeps the secrets it was sent.
func (e *Emulator) Requests() [][]byte {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([][]byte, len(e.requests))
	for i, b := range e.requests {
		out[i] = append([]byte(nil), b...)
	}
	return out
}

// Charges returns the charges processed (approved or declined), in order.
func (e *Emulator) Charges() []Charge {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Charge(nil), e.charges...)
}

// ChargeCount returns how many charges were processed.
func (e *Emulator) ChargeCount() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.charges)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// auth checks the bearer token and records the body, then calls h.
func (e *Emulator) auth(h func(http.ResponseWriter, *http.Request, []byte)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if e.token != "" {
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(e.token)) != 1 {
				writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "unauthorized"})
				return
			}
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		if err != nil || len(body) > maxBody {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body unreadable or too large"})
			return
		}
		e.mu.Lock()
		e.requests = append(e.requests, body)
		e.mu.Unlock()
		h(w, r, body)
	}
}

type chargeRequest struct {
	Card struct {
		Number string `json:"number"`
		Expiry string `json:"expiry"`
		CVC    string `json:"cvc"`
	} `json:"card"`
	Amount    json.RawMessage `json:"amount"`
	Currency  string          `json:"currency"`
	Reference string          `json:"reference"`
}

func (e *Emulator) charge(w http.ResponseWriter, r *http.Request, body []byte) {
	var req chargeRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body is not a charge request"})
		return
	}
	amount := strings.Trim(string(req.Amount), `"`)
	digits := digitsOf(req.Card.Number)
	if len(req.Card.Number) == 0 || amount == "" || req.Currency == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "card.number, amount and currency are required"})
		return
	}
	key := r.Header.Get("Idempotency-Key")
	e.mu.Lock()
	if s, ok := e.idem[key]; ok && key != "" {
		e.mu.Unlock()
		w.Header().Set("Idempotent-Replayed", "true")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(s.status)
		_, _ = w.Write(s.body)
		return
	}
	next := e.next
	e.next = ""
	if e.failing > 0 {
		e.failing--
		next = OutcomeError
	}
	e.mu.Unlock()

	switch next {
	case OutcomeTimeout:
		select {
		case <-r.Context().Done():
		case <-e.closed:
		}
		return
	case OutcomeError:
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "processor unavailable"})
		return
	}
	c := Charge{Amount: amount, Currency: req.Currency, Reference: req.Reference, Card: mask(digits), IdempotencyKey: key, At: e.now()}
	status := http.StatusOK
	switch {
	case next == OutcomeApprove:
		c.Status = "approved"
	case next == OutcomeDecline:
		c.Status, c.DeclineReason = "declined", "do_not_honor"
	case len(digits) < 12 || len(digits) > 19 || len(digits) != len(strings.NewReplacer(" ", "", "-", "").Replace(req.Card.Number)) || !luhn(digits):
		c.Status, c.DeclineReason = "declined", "invalid_card"
		status = http.StatusPaymentRequired
	case strings.HasSuffix(digits, "0002"):
		c.Status, c.DeclineReason = "declined", "insufficient_funds"
	default:
		c.Status = "approved"
	}
	if c.Status == "approved" {
		c.AuthorizationCode = authCode()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if s, ok := e.idem[key]; ok && key != "" { // a concurrent twin won
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(s.status)
		_, _ = w.Write(s.body)
		return
	}
	var resp map[string]any
	if status == http.StatusOK {
		c.ID = fmt.Sprintf("ch_%d", len(e.charges)+1)
		e.charges = append(e.charges, c)
		resp = map[string]any{"status": c.Status, "id": c.ID}
		if c.AuthorizationCode != "" {
			resp["authorization"] = map[string]string{"code": c.AuthorizationCode}
		} else {
			resp["decline_reason"] = c.DeclineReason
		}
	} else {
		resp = map[string]any{"status": c.Status, "decline_reason": c.DeclineReason}
	}
	b, _ := json.Marshal(resp)
	if key != "" {
		e.idem[key] = stored{status: status, body: b}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func authCode() string {
	const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
	var b [6]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b[:])
}

func digitsOf(s string) string {
	var b strings.Builder
	for _, c := range s {
		if c >= '0' && c <= '9' {
			b.WriteRune(c)
		}
	}
	return b.String()
}

// luhn reports whether digits pass the Luhn check (ISO/IEC 7812-1).
func luhn(digits string) bool {
	sum := 0
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if (len(digits)-1-i)%2 == 1 {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return len(digits) > 1 && sum%10 == 0
}

// mask keeps the first six and last four digits of a card.
func mask(digits string) string {
	if len(digits) < 10 {
		return strings.Repeat("*", len(digits))
	}
	return digits[:6] + strings.Repeat("*", len(digits)-10) + digits[len(digits)-4:]
}

func (e *Emulator) verifyCPF(w http.ResponseWriter, r *http.Request, body []byte) {
	var req struct {
		CPF       string `json:"cpf"`
		BirthDate string `json:"birth_date"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body is not a CPF verification request"})
		return
	}
	d := digitsOf(req.CPF)
	if _, err := time.Parse(time.DateOnly, req.BirthDate); err != nil || !cpfValid(d) {
		writeJSON(w, http.StatusOK, map[string]any{"verified": false})
		return
	}
	e.mu.Lock()
	id, ok := e.customers[d]
	if !ok {
		id = fmt.Sprintf("C-%04d", len(e.customers)+1)
		e.customers[d] = id
	}
	e.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"verified": true, "customer_id": id})
}

// cpfValid checks the two Receita Federal check digits of an 11-digit CPF.
func cpfValid(d string) bool {
	if len(d) != 11 || strings.Count(d, d[:1]) == 11 {
		return false
	}
	check := func(n int) byte {
		sum := 0
		for i := range n {
			sum += int(d[i]-'0') * (n + 1 - i)
		}
		r := sum * 10 % 11
		if r == 10 {
			r = 0
		}
		return byte('0' + r)
	}
	return d[9] == check(9) && d[10] == check(10)
}

func (e *Emulator) setPassword(w http.ResponseWriter, r *http.Request, body []byte) {
	var req struct {
		Password string `json:"password"`
	}
	if err := json.Unmarshal(body, &req); err != nil || r.PathValue("id") == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body is not a password request"})
		return
	}
	if len([]rune(req.Password)) < 8 {
		writeJSON(w, http.StatusOK, map[string]any{"changed": false, "rejection_reason": "too_short"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"changed": true})
}

func (e *Emulator) setNext(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Outcome Outcome `json:"outcome"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, maxBody)).Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "want {\"outcome\": \"approve|decline|timeout|error\"}"})
		return
	}
	switch req.Outcome {
	case OutcomeApprove, OutcomeDecline, OutcomeTimeout, OutcomeError:
	default:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "outcome must be approve, decline, timeout or error"})
		return
	}
	e.SetNext(req.Outcome)
	w.WriteHeader(http.StatusNoContent)
}

func (e *Emulator) listCharges(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"charges": e.Charges()})
}
