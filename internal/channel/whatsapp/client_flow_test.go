package whatsapp_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/secureflow/secureflow/internal/channel/whatsapp"
	"github.com/secureflow/secureflow/internal/secret"
)

func TestSendFlowBody(t *testing.T) {
	var got map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &got)
		_, _ = io.WriteString(w, `{"messaging_product":"whatsapp","messages":[{"id":"wamid.1"}]}`)
	}))
	defer srv.Close()
	c := whatsapp.NewClient(whatsapp.ClientConfig{GraphURL: srv.URL, APIVersion: "v24.0", PhoneNumberID: "1", AccessToken: secret.New([]byte("t"))})
	tests := []struct {
		name string
		flow whatsapp.Flow
		want string // JSON of interactive.action.parameters
	}{
		{"data_exchange by id", whatsapp.Flow{ID: "99", Token: "tok", CTA: "Open"},
			`{"flow_action":"data_exchange","flow_cta":"Open","flow_id":"99","flow_message_version":"3","flow_token":"tok"}`},
		{"navigate by name, draft", whatsapp.Flow{Name: "pw", Token: "tok", CTA: "Open", Screen: "FORM", Draft: true},
			`{"flow_action":"navigate","flow_action_payload":{"screen":"FORM"},"flow_cta":"Open","flow_message_version":"3","flow_name":"pw","flow_token":"tok","mode":"draft"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := c.Send(context.Background(), whatsapp.Message{To: "+1555", Text: "body", Flow: &tt.flow}); err != nil {
				t.Fatal(err)
			}
			in := got["interactive"].(map[string]any)
			action := in["action"].(map[string]any)
			params, _ := json.Marshal(action["parameters"])
			if got["type"] != "interactive" || in["type"] != "flow" || action["name"] != "flow" || string(params) != tt.want {
				t.Errorf("body = %v\nparams = %s", got, params)
			}
			if _, ok := action["buttons"]; ok {
				t.Error("flow message carries buttons")
			}
		})
	}
}

func TestSendFlowRefused(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls.Add(1) }))
	defer srv.Close()
	c := whatsapp.NewClient(whatsapp.ClientConfig{GraphURL: srv.URL, APIVersion: "v24.0", PhoneNumberID: "1", AccessToken: secret.New([]byte("t"))})
	ok := whatsapp.Flow{ID: "1", Token: "secret-token-canary", CTA: "Open"}
	tests := []struct {
		name string
		m    whatsapp.Message
	}{
		{"no body", whatsapp.Message{To: "1", Flow: &ok}},
		{"buttons", whatsapp.Message{To: "1", Text: "b", Flow: &ok, Buttons: []whatsapp.Button{{ID: "a", Title: "a"}}}},
		{"no token", whatsapp.Message{To: "1", Text: "b", Flow: &whatsapp.Flow{ID: "1", CTA: "x"}}},
		{"no id", whatsapp.Message{To: "1", Text: "b", Flow: &whatsapp.Flow{Token: "secret-token-canary", CTA: "x"}}},
		{"long cta", whatsapp.Message{To: "1", Text: "b", Flow: &whatsapp.Flow{ID: "1", Token: "secret-token-canary", CTA: strings.Repeat("x", 21)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Send(context.Background(), tt.m)
			if !errors.Is(err, whatsapp.ErrInvalidFlow) || !errors.Is(err, whatsapp.ErrNotRetryable) {
				t.Errorf("err = %v", err)
			}
			if err != nil && strings.Contains(err.Error(), "secret-token-canary") {
				t.Errorf("error quotes the token: %v", err)
			}
		})
	}
	if calls.Load() != 0 {
		t.Errorf("%d requests sent", calls.Load())
	}
}
