package waflows_test

import (
	"os"
	"strings"
	"testing"

	"github.com/secureflow/secureflow/internal/waflows"
)

func TestCheckFlowJSON(t *testing.T) {
	tests := []struct {
		file    string
		secrets []string
		want    []string // substrings of the problems, in order
	}{
		{"testdata/good_flow.json", []string{"new_password"}, nil},
		{"../../integrations/whatsapp/flows/password-reset.json", []string{"new_password"}, nil},
		{"../../integrations/whatsapp/flows/otp-dob.json", []string{"otp", "dob"}, nil},
		{"testdata/bad_flow.json", []string{"new_password"}, []string{
			"data_api_version: must be",
			`complete payload carries form field "new_password"`,
			`complete payload carries form field "new_password"`,
			`secret field "new_password" is not sent by any data_exchange`,
		}},
		{"../../integrations/whatsapp/flows/otp-dob.json", []string{"otp", "cvv"}, []string{`secret field "cvv" is not sent`}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			src, err := os.ReadFile(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			probs := waflows.CheckFlowJSON("f.json", src, tt.secrets)
			if len(probs) != len(tt.want) {
				t.Fatalf("problems = %v, want %d", probs, len(tt.want))
			}
			for i, p := range probs {
				if !strings.Contains(p.String(), tt.want[i]) || !strings.HasPrefix(p.String(), "f.json: ") {
					t.Errorf("problem %d = %q, want it to contain %q", i, p, tt.want[i])
				}
			}
		})
	}
}

func TestCheckFlowJSONMalformed(t *testing.T) {
	tests := []struct {
		name, src string
		secrets   []string
		want      string
	}{
		{"not json", `{`, nil, "not a JSON object"},
		{"array", `[]`, nil, "not a JSON object"},
		{"no routing", `{"data_api_version":"3.0","screens":[{"id":"A"}]}`, nil, "routing_model: missing"},
		{"no screens", `{"data_api_version":"3.0","routing_model":{"A":[]}}`, nil, "screens: missing"},
		{"data ref to secret in complete", `{"data_api_version":"3.0","routing_model":{"A":[]},"screens":[{"id":"A","layout":{"children":[{"type":"Footer","on-click-action":{"name":"complete","payload":{"x":"${data.pin}"}}}]}}]}`, []string{"pin"}, `secret field "pin"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			probs := waflows.CheckFlowJSON("x", []byte(tt.src), tt.secrets)
			found := false
			for _, p := range probs {
				found = found || strings.Contains(p.String(), tt.want)
			}
			if !found {
				t.Errorf("problems = %v, want one containing %q", probs, tt.want)
			}
		})
	}
}
