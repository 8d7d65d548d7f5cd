package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/spf13/cobra"

	"github.com/secureflow/secureflow/internal/action"
	"github.com/secureflow/secureflow/internal/config"
	"github.com/secureflow/secureflow/internal/httpapi"
	"github.com/secureflow/secureflow/internal/session"
)

// apiKeys converts the configured API credentials.
func apiKeys(keys []config.APIKey) (*httpapi.Keyring, error) {
	out := make([]httpapi.KeyConfig, 0, len(keys))
	for _, k := range keys {
		kc := httpapi.KeyConfig{ID: k.ID, Hash: k.Hash}
		for _, s := range k.Scopes {
			kc.Scopes = append(kc.Scopes, httpapi.Scope(s))
		}
		out = append(out, kc)
	}
	return httpapi.ParseKeys(out)
}

// apiSessions adapts the session engine to the REST API.
type apiSessions struct{ e *session.Engine }

// Start implements httpapi.Sessions.
func (a apiSessions) Start(ctx context.Context, r httpapi.StartRequest) (httpapi.Session, error) {
	v, err := a.e.Start(ctx, session.StartRequest{Flow: r.Flow, Mode: r.Mode, Conversation: r.Conversation,
		Peer: r.GenesysConversationID, Inputs: r.Inputs, Locale: r.Locale, IdempotencyKey: r.IdempotencyKey, Principal: "api:" + r.Principal})
	var inv *session.InvalidError
	if errors.As(err, &inv) {
		fields := make([]httpapi.FieldError, 0, len(inv.Problems))
		for _, p := range inv.Problems {
			fields = append(fields, httpapi.FieldError{Field: "inputs", Message: p})
		}
		return httpapi.Session{}, httpapi.Invalid(fields...)
	}
	if err != nil {
		return httpapi.Session{}, err
	}
	return apiView(v), nil
}

// Get implements httpapi.Sessions.
func (a apiSessions) Get(ctx context.Context, id string) (httpapi.Session, error) {
	v, err := a.e.Get(ctx, id)
	if err != nil {
		return httpapi.Session{}, err
	}
	return apiView(v), nil
}

// AgentEvent implements httpapi.Sessions.
func (a apiSessions) AgentEvent(ctx context.Context, conversationID string, e httpapi.AgentEvent) error {
	return a.e.AgentLeft(ctx, conversationID)
}

func apiView(v session.View) httpapi.Session {
	s := httpapi.Session{ID: v.ID, Flow: v.Flow, Mode: v.Mode, Conversation: v.Conversation, Status: v.Status, Step: v.Step,
		Outcome: v.Outcome, AgentReserved: v.AgentReserved, AgentPresent: v.AgentPresent, CreatedAt: v.CreatedAt}
	if len(v.Outputs) > 0 {
		s.Outputs = make(map[string]any, len(v.Outputs))
		for k, o := range v.Outputs {
			s.Outputs[k] = o
		}
	}
	if !v.EndedAt.IsZero() {
		t := v.EndedAt
		s.EndedAt = &t
	}
	return s
}

// apiActions passes /v1/actions invocations to the executor under the
// principal the vault's reveal policy names for API keys ("api:<key id>").
type apiActions struct{ x httpapi.Actions }

// InvokeWithTokens implements httpapi.Actions.
func (a apiActions) InvokeWithTokens(ctx context.Context, name string, inputs map[string]string, idempotencyKey, keyID string) (map[string]any, error) {
	return a.x.InvokeWithTokens(ctx, name, inputs, idempotencyKey, "api:"+keyID)
}

var apiErrorAliases = []httpapi.ErrorAlias{
	{From: session.ErrNotFound, To: httpapi.ErrNotFound},
	{From: session.ErrConflict, To: httpapi.ErrConflict},
	{From: session.ErrInvalid, To: httpapi.ErrInvalid},
	{From: action.ErrUnknownAction, To: httpapi.ErrNotFound},
	{From: action.ErrInvalidCall, To: httpapi.ErrInvalid},
	{From: action.ErrNotAllowed, To: &httpapi.Error{Status: http.StatusForbidden, Code: "not_allowed",
		Message: "this key may not use these tokens for this action"}},
	{From: action.ErrUpstream, To: httpapi.ErrUpstream},
	{From: action.ErrTimeout, To: httpapi.ErrUpstream},
	{From: action.ErrBadResponse, To: httpapi.ErrUpstream},
	{From: action.ErrCircuitOpen, To: httpapi.ErrUnavailable},
}

func newAPIKeyCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "apikey", Short: "Manage API credentials"}
	var id string
	var scopes []string
	gen := &cobra.Command{
		Use:   "new",
		Short: "Make an API key: prints the key once, and the entry for api.keys",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, s := range scopes {
				ok := false
				for _, known := range httpapi.Scopes() {
					ok = ok || string(known) == s
				}
				if !ok {
					return fmt.Errorf("unknown scope %q (known: %v)", s, httpapi.Scopes())
				}
			}
			key, hash, err := httpapi.NewKey(id)
			if err != nil {
				return err
			}
			kid, _, _ := httpapi.HashOf(key)
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "API key (shown once; give it to the client, store it as a secret):\n  %s\n\n", key)
			fmt.Fprintf(out, "Add to the gateway configuration:\napi:\n  keys:\n    - id: %s\n      hash: %s\n      scopes: [%s]\n", kid, hash, strings.Join(scopes, ", "))
			return nil
		},
	}
	gen.Flags().StringVar(&id, "id", "", "key id (8 characters a-z0-9; random when empty)")
	gen.Flags().StringSliceVar(&scopes, "scopes", []string{"sessions:write", "sessions:read"}, "scopes to grant")
	cmd.AddCommand(gen)
	return cmd
}
