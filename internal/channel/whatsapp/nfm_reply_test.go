package whatsapp_test

import (
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/secureflow/secureflow/internal/channel/whatsapp"
)

// TestParseNfmReplyKeepsOnlyToken checks that a Flow completion becomes an
// unsupported event carrying the flow token alone: the canary in
// response_json is in no field of the event.
func TestParseNfmReplyKeepsOnlyToken(t *testing.T) {
	body, err := os.ReadFile("testdata/nfm_reply.json")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(body), "canary-hunter2") {
		t.Fatal("fixture lost its canary: the test would prove nothing")
	}
	evs, err := whatsapp.Parse(body)
	if err != nil || len(evs) != 1 {
		t.Fatalf("Parse = %d events, %v", len(evs), err)
	}
	ev := evs[0]
	if ev.Unsupported != "nfm_reply" || ev.Text != "" || ev.Reply == nil || ev.Reply.Type != "nfm_reply" ||
		ev.Reply.ID != "tok" || ev.Reply.Title != "" || ev.RefID != "gBGGEiRVVgBPAgm7FUgc73noXjo" {
		t.Errorf("event = %+v, reply %+v", ev, ev.Reply)
	}
	b, _ := json.Marshal(evs)
	if strings.Contains(string(b), "canary-hunter2") || strings.Contains(string(b), "password") {
		t.Errorf("form data survived parsing: %s", b)
	}
}

func TestParseNfmReplyTokens(t *testing.T) {
	tests := []struct {
		name, responseJSON, want string
	}{
		{"token only", `{"flow_token":"AbC-_.9"}`, "AbC-_.9"},
		{"token and values", `{"flow_token":"t1","pin":"canary-1234"}`, "t1"},
		{"no token", `{"pin":"canary-1234"}`, ""},
		{"token holds a value", `{"flow_token":"canary 1234 5678"}`, ""},
		{"token too long", `{"flow_token":"` + strings.Repeat("a", 129) + `"}`, ""},
		{"token not a string", `{"flow_token":12345}`, ""},
		{"not json", `canary-1234`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := `{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"messages":[` +
				`{"from":"1","id":"w","timestamp":"1","type":"interactive","interactive":{"type":"nfm_reply","nfm_reply":` +
				`{"name":"flow","body":"Sent","response_json":` + strconv.Quote(tt.responseJSON) + `}}}]}}]}]}`
			evs, err := whatsapp.Parse([]byte(body))
			if err != nil || len(evs) != 1 {
				t.Fatalf("Parse = %v, %v", evs, err)
			}
			got := ""
			if evs[0].Reply != nil {
				got = evs[0].Reply.ID
			}
			if got != tt.want || evs[0].Unsupported != "nfm_reply" || evs[0].Text != "" {
				t.Errorf("event = %+v, token %q; want token %q", evs[0], got, tt.want)
			}
			b, _ := json.Marshal(evs)
			if strings.Contains(string(b), "canary") {
				t.Errorf("value survived: %s", b)
			}
		})
	}
}
