// Package payments is an in-process payment processor for tests and demo
// mode: the upstream that secureflow's data actions call with the secrets
// a flow captured. It is an [http.Handler] serving under a prefix (for
// example /emulator/payments/); it keeps everything in memory.
//
// # Processor API
//
// Every /v1 request needs "Authorization: Bearer <token>" when
// [Config.Token] is set (401 otherwise).
//
//	POST {prefix}v1/charges
//	  {"card": {"number": "4111...", "expiry": "12/30", "cvc": "123"},
//	   "amount": "49.90", "currency": "BRL", "reference": "A-1001"}
//	  200 {"status": "approved", "id": "ch_1", "authorization": {"code": "A1B2C3"}}
//	  200 {"status": "declined", "id": "ch_2", "decline_reason": "insufficient_funds"}  card ending 0002
//	  402 {"status": "declined", "decline_reason": "invalid_card"}                   Luhn check fails (not a charge)
//	  400 {"error": "..."}                                                           malformed request
//	A request whose Idempotency-Key was seen before gets the first answer
//	again and is not charged again.
//
//	POST {prefix}v1/cpf/verify {"cpf": "...", "birth_date": "YYYY-MM-DD"}
//	  200 {"verified": true, "customer_id": "C-0001"}   valid CPF check digits and date
//	  200 {"verified": false}                            otherwise
//
//	POST {prefix}v1/accounts/{id}/password {"password": "..."}
//	  200 {"changed": true}
//	  200 {"changed": false, "rejection_reason": "too_short"}   fewer than 8 characters
//
// # Control API
//
// The control API needs no token.
//
//	PUT  {prefix}next {"outcome": "approve|decline|timeout|error"}
//	  sets the outcome of the next charge only: approve and decline
//	  (reason "do_not_honor") override the test cards; timeout holds the
//	  request until the client gives up or the emulator is closed; error
//	  answers 500. A timed-out or failed charge is not recorded and its
//	  idempotency key is not remembered. 204.
//	GET  {prefix}charges
//	  200 {"charges": [{"id", "status", "decline_reason", "authorization_code",
//	  "amount", "currency", "reference", "card": "411111******1111",
//	  "idempotency_key"}]}: the card masked to first six and last four.
//	GET  {prefix}otps
//	  200 {"otps": {"<account>": "<code>"}}: the one-time codes the account
//	  service "texted" (POST v1/accounts/{id}/otp) and not yet verified,
//	  for a demo to show where the customer would read them.
//	POST {prefix}reset
//	  forgets charges, requests, idempotency keys, customers and the next
//	  outcome. 204.
//
// # Go API
//
// [Emulator.Requests] returns the raw bodies of every /v1 request, so that
// leak tests can assert that a secret reached this upstream and nowhere
// else; [Emulator.Charges] and [Emulator.ChargeCount] report what was
// charged; [Emulator.SetNext] and [Emulator.Reset] mirror the control API;
// [Emulator.OTP] reads a code sent to an account; [Emulator.FailNext]
// makes the next charges fail; [Emulator.Close] releases held requests.
package payments
