package whatsapp_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	cw "github.com/secureflow/secureflow/internal/channel/whatsapp"
	"github.com/secureflow/secureflow/internal/emulator/whatsapp"
	sfflow "github.com/secureflow/secureflow/internal/flow"
	"github.com/secureflow/secureflow/internal/secret"
	"github.com/secureflow/secureflow/internal/waflows"
	"github.com/secureflow/secureflow/internal/waflows/waflowstest"
)

// countingSink counts submissions without keeping values.
type countingSink struct {
	mu    sync.Mutex
	subs  int
	vars  []string
	masks []string
}

func (s *countingSink) Submitted(_ context.Context, sub waflows.Submission) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.subs++
	for _, v := range sub.Values {
		s.vars = append(s.vars, v.Var)
		s.masks = append(s.masks, v.Masked)
	}
	return nil
}

func (s *countingSink) Failed(context.Context, string, string, string) error { return nil }

// TestSubmitFlowEndToEnd sends a Flow message with the gateway's WhatsApp
// client, plays the customer filling it in against the gateway's Flows
// endpoint, and checks the nfm_reply webhook: it carries the flow token
// and nothing the customer typed.
func TestSubmitFlowEndToEnd(t *testing.T) {
	ctx := context.Background()
	pemBytes, err := os.ReadFile("../../waflows/testdata/business_key.pem")
	if err != nil {
		t.Fatal(err)
	}
	key, err := waflows.LoadPrivateKey(ctx, pemBytes, nil)
	if err != nil {
		t.Fatal(err)
	}
	sink := &countingSink{}
	svc, err := waflows.New(waflows.Config{PrivateKey: key, AppSecrets: []secret.Value{secret.New([]byte(appSecret))}},
		waflowstest.NewStore(), sink)
	if err != nil {
		t.Fatal(err)
	}
	endpoint := httptest.NewServer(svc.Handler())
	defer endpoint.Close()

	g := newGateway(t)
	e := newEmulator(t, g, func(c *whatsapp.Config) {
		c.FlowsEndpointURL = endpoint.URL
		c.FlowsPublicKey = &key.PublicKey
	})
	srv := serve(t, e)

	tok, _, err := svc.Issue(ctx, waflows.IssueRequest{Session: "s1", Step: "reset", Locale: "en",
		Fields: []*sfflow.Field{{Var: "new_password", Type: sfflow.InputPassword, MinLength: 10}}})
	if err != nil {
		t.Fatal(err)
	}
	client := cw.NewClient(cw.ClientConfig{GraphURL: srv.URL + "/emulator/whatsapp/graph", APIVersion: "v24.0",
		PhoneNumberID: whatsapp.DefaultPhoneNumberID, AccessToken: secret.New([]byte(accessToken)), HTTPClient: srv.Client()})
	wamid, err := client.Send(ctx, cw.Message{To: "+16505551234", Text: "Reset your password securely",
		Flow: &cw.Flow{ID: "1234567890", Token: tok, CTA: "Reset password", Header: "Password reset"}})
	if err != nil {
		t.Fatalf("Send flow: %v", err)
	}
	fms := e.FlowMessages("16505551234")
	if len(fms) != 1 || fms[0].ID != wamid || fms[0].FlowToken != tok || fms[0].FlowID != "1234567890" ||
		fms[0].CTA != "Reset password" || fms[0].Action != "data_exchange" || fms[0].Body != "Reset your password securely" {
		t.Fatalf("flow messages = %+v", fms)
	}

	const canary, shortCanary = "E2E-Canary-Password-99", "E2E-c9"
	res, err := e.SubmitFlow(ctx, "16505551234", tok, map[string]string{"new_password": shortCanary})
	if err != nil {
		t.Fatal(err)
	}
	if res.Completed || len(res.Responses) != 2 || res.Responses[0].Screen != "FORM" || res.Responses[1].Screen != "FORM" ||
		res.Responses[1].Data["new_password_error"] == "" {
		t.Fatalf("invalid submission = %+v", res)
	}
	res, err = e.SubmitFlow(ctx, "16505551234", tok, map[string]string{"new_password": canary})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Completed || res.ReplyID == "" || res.Responses[1].Screen != "SUCCESS" {
		t.Fatalf("valid submission = %+v", res)
	}
	waitIdle(t, e)
	bodies := g.accepted()
	if len(bodies) != 1 {
		t.Fatalf("%d webhooks, want the nfm_reply only", len(bodies))
	}
	for _, c := range []string{canary, shortCanary} {
		if strings.Contains(string(bodies[0]), c) {
			t.Errorf("canary %q in the nfm_reply webhook: %s", c, bodies[0])
		}
	}
	// The gateway's own parser reads it as an nfm_reply carrying the token.
	evs, err := cw.Parse(bodies[0])
	if err != nil || len(evs) != 1 {
		t.Fatalf("Parse = %v, %v", evs, err)
	}
	if ev := evs[0]; ev.Unsupported != "nfm_reply" || ev.Reply == nil || ev.Reply.ID != tok || ev.RefID != wamid || ev.ID != res.ReplyID {
		t.Errorf("event = %+v", ev)
	}
	var w struct {
		Entry []struct {
			Changes []struct {
				Value struct {
					Messages []struct {
						Interactive struct {
							NfmReply struct {
								ResponseJSON string `json:"response_json"`
							} `json:"nfm_reply"`
						} `json:"interactive"`
					} `json:"messages"`
				} `json:"value"`
			} `json:"changes"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(bodies[0], &w); err != nil {
		t.Fatal(err)
	}
	if got := w.Entry[0].Changes[0].Value.Messages[0].Interactive.NfmReply.ResponseJSON; got != `{"flow_token":"`+tok+`"}` {
		t.Errorf("response_json = %s", got)
	}
	if sink.subs != 1 || sink.vars[0] != "new_password" || strings.Contains(sink.masks[0], canary) {
		t.Errorf("sink: %d submissions, vars %v", sink.subs, sink.vars)
	}

	// Replaying the completed Flow gets 427 and sends no webhook.
	res, err = e.SubmitFlow(ctx, "16505551234", tok, map[string]string{"new_password": canary})
	if err != nil || res.Completed || res.Responses[0].Status != 427 {
		t.Errorf("replay = %+v, %v", res, err)
	}
	if _, err := e.SubmitFlow(ctx, "16505551234", "unknown-token", nil); !errors.Is(err, whatsapp.ErrNoFlowMessage) {
		t.Errorf("unknown token: %v", err)
	}

	// Control API.
	code, body := control(t, srv, http.MethodGet, "/emulator/whatsapp/flows?to=16505551234", "")
	if code != http.StatusOK || !strings.Contains(string(body), `"flow_id":"1234567890"`) {
		t.Errorf("GET flows = %d %s", code, body)
	}
	code, body = control(t, srv, http.MethodPost, "/emulator/whatsapp/flows/submit", `{"to":"16505551234","flow_token":"nope","data":{}}`)
	if code != http.StatusBadGateway || !strings.Contains(string(body), "no flow message") {
		t.Errorf("POST flows/submit = %d %s", code, body)
	}
}

func TestSubmitFlowNeedsEndpoint(t *testing.T) {
	e := newEmulator(t, nil)
	if _, err := e.SubmitFlow(context.Background(), "1", "t", nil); err == nil {
		t.Error("SubmitFlow without FlowsEndpointURL succeeded")
	}
}
