// Package session runs secure sessions: the durable state machine that
// executes a flow (package flow) for one conversation while what the
// customer types is kept out of the contact centre's sight.
//
// The engine plugs into the relay (package relay) as its Sessions: the
// relay offers it every customer message, agent message and session signal
// of a conversation, in order, and saves the state the engine returns in
// the same transaction that marks the event processed and enqueues the
// messages the step produced. Everything that happens outside the
// conversation reaches the engine the same way, as a session signal
// appended to the inbox: a start through the API, a secure-link form
// submitted, a timer firing, a data action's answer, the agent leaving. So
// a session's steps are applied one at a time, in order, exactly once, and
// survive a crash at any point: a replayed event yields the same effects
// under the same idempotency keys, and a state save with a transition
// count not above the stored one is ignored.
//
// The state holds no captured value: a value is tokenized into the vault
// the moment it is captured, and the state keeps its token and its masked
// forms (last four, brand, ...), which is all templates may show. Data
// actions receive tokens and reveal them into the outgoing request only
// (package action); a card security code is erased from the vault as soon
// as the action that used it has answered.
package session
