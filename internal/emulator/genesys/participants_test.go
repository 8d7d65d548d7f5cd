package genesys_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/secureflow/secureflow/internal/emulator/genesys"
)

const apiBase = "/emulator/genesys/api/v2/conversations/"

// apiCall makes a conversation API call with a token ("" sends none).
func apiCall(t testing.TB, srv *httptest.Server, tok, method, path, body string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, srv.URL+path, rd)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

func conversation(t testing.TB, e *genesys.Emulator, id string) genesys.Conversation {
	t.Helper()
	for _, c := range e.Conversations() {
		if c.ID == id {
			return c
		}
	}
	t.Fatalf("conversation %s not found", id)
	return genesys.Conversation{}
}

func byPurpose(c genesys.Conversation, purpose, state string) []genesys.Participant {
	var out []genesys.Participant
	for _, p := range c.Participants {
		if p.Purpose == purpose && (state == "" || p.State == state) {
			out = append(out, p)
		}
	}
	return out
}

func TestParticipantsAutoAgent(t *testing.T) {
	e, srv := newEmulator(t, nil)
	tok := token(t, srv)
	post(t, srv, tok, "message", message("m1", "alice", "hi"))
	id, _ := e.ConversationFor("alice")
	c := conversation(t, e, id)
	cust, acd, agents := byPurpose(c, "customer", "connected"), byPurpose(c, "acd", ""), byPurpose(c, "agent", "connected")
	if len(cust) != 1 || len(acd) != 1 || len(agents) != 1 || len(c.Participants) != 3 {
		t.Fatalf("participants = %+v", c.Participants)
	}
	if acd[0].State != "disconnected" || acd[0].QueueID != genesys.DefaultQueueID ||
		agents[0].UserID != genesys.DefaultAgentUserID || agents[0].QueueID != genesys.DefaultQueueID {
		t.Fatalf("acd %+v agent %+v", acd[0], agents[0])
	}
	// A second message joins the same conversation: no new participants.
	post(t, srv, tok, "message", message("m2", "alice", "again"))
	if c := conversation(t, e, id); len(c.Participants) != 3 {
		t.Fatalf("participants after a second message = %+v", c.Participants)
	}
	// The control listing shows participants and state.
	_, body := control(t, srv, "GET", "/emulator/genesys/conversations", "")
	for _, k := range []string{`"participants":[`, `"purpose":"customer"`, `"purpose":"agent"`, `"userId":"` + genesys.DefaultAgentUserID + `"`, `"state":"connected"`} {
		if !strings.Contains(string(body), k) {
			t.Errorf("conversations JSON lacks %s: %s", k, body)
		}
	}
}

func TestAgentControl(t *testing.T) {
	e, srv := newEmulator(t, nil, func(c *genesys.Config) { c.ManualAgent = true })
	tok := token(t, srv)
	post(t, srv, tok, "message", message("m1", "bob", "hi"))
	id, _ := e.ConversationFor("bob")
	if c := conversation(t, e, id); len(byPurpose(c, "agent", "")) != 0 || len(byPurpose(c, "acd", "connected")) != 1 {
		t.Fatalf("ManualAgent: participants = %+v", c.Participants)
	}
	agentPath := "/emulator/genesys/conversations/" + id + "/agent"
	steps := []struct {
		name, method, path, body string
		status                   int
		contains                 string
	}{
		{"leave without agent", "POST", agentPath + "/leave", "", 409, "no agent"},
		{"connect", "POST", agentPath, `{"userId":"u-42","name":"Ana"}`, 200, `"userId":"u-42"`},
		{"connect twice", "POST", agentPath, `{"userId":"u-43"}`, 409, "already connected"},
		{"unknown field", "POST", agentPath, `{"user":"u-43"}`, 400, ""},
		{"unknown conversation", "POST", "/emulator/genesys/conversations/nope/agent", `{}`, 404, ""},
		{"leave", "POST", agentPath + "/leave", "", 200, `"disconnectType":"CLIENT"`},
		{"leave twice", "POST", agentPath + "/leave", "", 409, ""},
		{"leave unknown", "POST", "/emulator/genesys/conversations/nope/agent/leave", "", 404, ""},
		{"connect with defaults", "POST", agentPath, "", 200, `"userId":"` + genesys.DefaultAgentUserID + `"`},
	}
	for _, s := range steps {
		status, body := control(t, srv, s.method, s.path, s.body)
		if status != s.status || !strings.Contains(string(body), s.contains) {
			t.Errorf("%s: %d %s (want %d containing %q)", s.name, status, body, s.status, s.contains)
		}
	}
	c := conversation(t, e, id)
	ended := byPurpose(c, "agent", "disconnected")
	if len(ended) != 1 || ended[0].UserID != "u-42" || ended[0].Name != "Ana" || ended[0].EndTime.IsZero() {
		t.Fatalf("agent participants = %+v", c.Participants)
	}
	// The leave was published on the conversation's user.end topic.
	pub := e.Published()
	if len(pub) != 1 || pub[0].Topic != "v2.detail.events.conversation."+id+".user.end" {
		t.Fatalf("published = %+v", pub)
	}
	// Disconnecting the conversation ends the second agent: user.end CLIENT.
	if err := e.Disconnect(id); err != nil {
		t.Fatal(err)
	}
	c = conversation(t, e, id)
	if len(byPurpose(c, "agent", "connected")) != 0 || len(byPurpose(c, "customer", "connected")) != 0 {
		t.Fatalf("after Disconnect: %+v", c.Participants)
	}
	if pub := e.Published(); len(pub) != 2 || !strings.Contains(string(pub[1].Body), `"disconnectType":"CLIENT"`) {
		t.Fatalf("published = %+v", pub)
	}
	if status, _ := control(t, srv, "POST", agentPath, ""); status != 409 {
		t.Errorf("connect to a disconnected conversation: %d", status)
	}
}

func TestGetConversationAPI(t *testing.T) {
	e, srv := newEmulator(t, nil)
	tok := token(t, srv)
	post(t, srv, tok, "message", message("m1", "carol", "hi"))
	id, _ := e.ConversationFor("carol")
	if status, _ := apiCall(t, srv, "", "GET", apiBase+"messages/"+id, ""); status != 401 {
		t.Errorf("no token: %d", status)
	}
	if status, body := apiCall(t, srv, tok, "GET", apiBase+"messages/nope", ""); status != 404 || !strings.Contains(string(body), `"code":"not.found"`) {
		t.Errorf("unknown: %d %s", status, body)
	}
	status, body := apiCall(t, srv, tok, "GET", apiBase+"messages/"+id, "")
	var out struct {
		ID           string
		Participants []struct {
			ID, Purpose, State, Name, DisconnectType, StartTime string
			User, Queue                                         *struct{ ID string }
		}
	}
	if status != 200 || json.Unmarshal(body, &out) != nil || out.ID != id || len(out.Participants) != 3 {
		t.Fatalf("%d %s", status, body)
	}
	agent := out.Participants[2]
	if agent.Purpose != "agent" || agent.State != "connected" || agent.User == nil || agent.User.ID != genesys.DefaultAgentUserID ||
		agent.Queue == nil || agent.Queue.ID != genesys.DefaultQueueID || agent.StartTime == "" {
		t.Errorf("agent = %+v (%s)", agent, body)
	}
	if out.Participants[0].Purpose != "customer" || out.Participants[0].User != nil {
		t.Errorf("customer = %+v", out.Participants[0])
	}
}

func TestReplaceQueue(t *testing.T) {
	e, srv := newEmulator(t, nil, func(c *genesys.Config) { c.Queues = map[string]string{"Secure": "q-secure", "Support": "q-support"} })
	tok := token(t, srv)
	post(t, srv, tok, "message", message("m1", "dave", "hi"))
	id, _ := e.ConversationFor("dave")
	agent := byPurpose(conversation(t, e, id), "agent", "connected")[0]
	customer := byPurpose(conversation(t, e, id), "customer", "")[0]
	path := func(conv, part string) string {
		return apiBase + conv + "/participants/" + part + "/replace/queue"
	}
	for _, tc := range []struct {
		name, tok, path, body string
		status                int
	}{
		{"no token", "", path(id, agent.ID), `{"queueId":"q"}`, 401},
		{"neither", tok, path(id, agent.ID), `{"transferType":"Unattended"}`, 400},
		{"both", tok, path(id, agent.ID), `{"queueId":"q","queueName":"Secure"}`, 400},
		{"bad transferType", tok, path(id, agent.ID), `{"queueId":"q","transferType":"Blind"}`, 400},
		{"not JSON", tok, path(id, agent.ID), `queue please`, 400},
		{"unknown conversation", tok, path("nope", agent.ID), `{"queueId":"q"}`, 404},
		{"unknown participant", tok, path(id, "nope"), `{"queueId":"q"}`, 404},
		{"unknown queue name", tok, path(id, agent.ID), `{"queueName":"Nowhere"}`, 404},
	} {
		if status, body := apiCall(t, srv, tc.tok, "POST", tc.path, tc.body); status != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.name, status, body, tc.status)
		}
	}
	if len(e.Transfers()) != 0 || len(byPurpose(conversation(t, e, id), "agent", "connected")) != 1 {
		t.Fatal("a rejected transfer changed the conversation")
	}
	status, body := apiCall(t, srv, tok, "POST", path(id, agent.ID), `{"queueName":"Secure","transferType":"Unattended"}`)
	if status != 202 || len(body) != 0 {
		t.Fatalf("transfer: %d %s", status, body)
	}
	c := conversation(t, e, id)
	gone := byPurpose(c, "agent", "disconnected")
	acd := byPurpose(c, "acd", "connected")
	if len(gone) != 1 || gone[0].DisconnectType != "TRANSFER" || len(acd) != 1 || acd[0].QueueID != "q-secure" || acd[0].Name != "Secure" {
		t.Fatalf("after transfer: %+v", c.Participants)
	}
	pub := e.Published()
	if len(pub) != 1 || !strings.Contains(string(pub[0].Body), `"disconnectType":"TRANSFER"`) ||
		!strings.Contains(string(pub[0].Body), `"participantId":"`+agent.ID+`"`) {
		t.Fatalf("published = %+v", pub)
	}
	// The same participant cannot be replaced twice; the customer can be,
	// by queue id, and that publishes no user.end.
	if status, _ := apiCall(t, srv, tok, "POST", path(id, agent.ID), `{"queueId":"q-support"}`); status != 409 {
		t.Errorf("replace a disconnected participant: %d", status)
	}
	if status, _ := apiCall(t, srv, tok, "POST", path(id, customer.ID), `{"queueId":"q-support"}`); status != 202 {
		t.Errorf("replace the customer: %d", status)
	}
	if len(e.Published()) != 1 {
		t.Error("replacing the customer published a user.end")
	}
	_, body = control(t, srv, "GET", "/emulator/genesys/transfers", "")
	var tr struct{ Transfers []genesys.Transfer }
	if json.Unmarshal(body, &tr) != nil || len(tr.Transfers) != 2 {
		t.Fatalf("transfers: %s", body)
	}
	want := genesys.Transfer{ConversationID: id, ParticipantID: agent.ID, QueueID: "q-secure", QueueName: "Secure", TransferType: "Unattended"}
	got := tr.Transfers[0]
	got.Time = want.Time
	if got != want || tr.Transfers[1].TransferType != "Unattended" || tr.Transfers[1].QueueID != "q-support" {
		t.Errorf("transfers = %+v", tr.Transfers)
	}
	e.Reset()
	if _, body := control(t, srv, "GET", "/emulator/genesys/transfers", ""); string(body) != `{"transfers":[]}` {
		t.Errorf("after reset: %s", body)
	}
}

func TestAPIDisconnectEndsParticipants(t *testing.T) {
	e, srv := newEmulator(t, nil)
	tok := token(t, srv)
	post(t, srv, tok, "message", message("m1", "erin", "hi"))
	id, _ := e.ConversationFor("erin")
	if status, body := apiCall(t, srv, tok, "PATCH", apiBase+"messages/"+id, `{"state":"disconnected"}`); status != 200 {
		t.Fatalf("%d %s", status, body)
	}
	c := conversation(t, e, id)
	for _, p := range c.Participants {
		if p.State != "disconnected" {
			t.Errorf("participant still connected: %+v", p)
		}
	}
	if pub := e.Published(); len(pub) != 1 || !strings.Contains(string(pub[0].Body), `"disconnectType":"SYSTEM"`) {
		t.Errorf("published = %+v", pub)
	}
}
