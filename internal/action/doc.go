// Package action calls data actions: the upstream HTTP APIs (payment
// processors, customer registers, account services) that a secure flow or
// the contact centre invokes with secrets the gateway holds.
//
// # Catalog
//
// [LoadCatalog] reads the action catalog (examples/actions.yaml): for each
// action its inputs and outputs, which are secret (parsed by
// [flow.ParseCatalog], so the linter and the executor agree), and an http
// section that says how to call it:
//
//	http:
//	  method: POST                        # GET, POST, PUT, PATCH, DELETE; default POST
//	  url: https://pay.example.com/v1/charges/${order}   # public inputs only, URL-escaped
//	  headers: {X-Merchant: acme}         # values may interpolate public inputs
//	  auth: {type: bearer, token: env:PAYMENTS_TOKEN}
//	  body:                               # YAML turned into JSON
//	    card: {number: "${card}"}         # a whole "${name}" leaf: the input's value, typed
//	    amount: ${amount}
//	    key: ${idempotency_key}           # the call's idempotency key
//	  response: {status: status, authorization_code: authorization.code}
//	  timeout: 10s                        # per attempt; default 10s, at most 5m
//	  idempotent: true                    # retried on network errors, timeouts, 429 and 5xx
//	  retries: 2                          # idempotent actions only; default 2
//	  idempotency_header: Idempotency-Key
//	  circuit: {failures: 5, open_for: 30s}
//	  allow_insecure_http: false          # tests and emulators only
//
// Authentication is bearer {token}, basic {username, password}, hmac
// {header, secret} (the header is the hex HMAC-SHA256 of the body, the
// common webhook-signing convention) or mtls {cert, key, ca}. Credentials
// are references, env:NAME or file:PATH, never literals; they are resolved
// at load. Every URL's host must be in [LoadOptions.AllowedHosts], and
// https unless allow_insecure_http. A secret input may appear only as a
// whole body value: never in the URL, a header or inside a longer string.
//
// # Executor
//
// [Executor.Invoke] checks a [Call] against the catalog, reveals token
// inputs through the vault (for the call's principal and purpose, each
// reveal audited), writes the secrets into the request body and nowhere
// else, clears the revealed bytes and the body after the call, and maps
// the JSON response to outputs; secret outputs are tokenized at once and
// only their tokens returned. Redirects are never followed. Each action
// has a timeout, a circuit breaker (github.com/sony/gobreaker/v2) and, if
// idempotent, retries with exponential backoff and full jitter
// (internal/retry) under one idempotency key.
//
// Errors, log lines and metrics name actions, inputs, outputs and HTTP
// statuses, never values or response bodies: an upstream may echo a card
// number back in an error page.
package action
