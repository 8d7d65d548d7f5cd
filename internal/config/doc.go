// Package config loads secureflow's configuration once, at start-up, from a
// YAML file plus SECUREFLOW_* environment overrides, into typed structs with
// defaults, and validates it, reporting every problem at once.
//
// # Secrets
//
// Fields of type [Secret] (WhatsApp app secret and access token, Genesys
// OAuth client secret and webhook signing token, key-encryption key) hold a
// reference that is resolved at load time:
//
//	env:NAME    the value of environment variable NAME
//	file:PATH   the contents of PATH, without a trailing newline
//	anything    a literal (discouraged outside development; Load warns)
//
// The resolved value is a [secret.Value], which cannot be printed or logged.
//
// # Environment overrides
//
// Every field can be overridden by an environment variable named after its
// YAML path, upper-cased and joined with "_", prefixed with SECUREFLOW_: for
// example whatsapp.app_secret is SECUREFLOW_WHATSAPP_APP_SECRET and
// relay.workers is SECUREFLOW_RELAY_WORKERS. Lists are comma-separated;
// durations use Go syntax ("1m30s"). The reference syntax above applies to
// secrets given this way too.
//
// Only cmd/secureflow reads configuration; library packages take plain
// fields.
package config
