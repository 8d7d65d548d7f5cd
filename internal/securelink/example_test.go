package securelink_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"

	"github.com/secureflow/secureflow/internal/flow"
	"github.com/secureflow/secureflow/internal/securelink"
	"github.com/secureflow/secureflow/internal/securelink/linktest"
)

// vaultSink stands for the session engine: it would tokenize the values in
// the vault, deduplicating by LinkID.
type vaultSink struct{}

func (vaultSink) Submitted(ctx context.Context, s securelink.Submission) error { return nil }
func (vaultSink) Failed(ctx context.Context, session, step, reason string) error {
	return nil
}

func Example() {
	ctx := context.Background()
	svc, err := securelink.New(securelink.Config{
		BaseURL: "https://pay.example.com",
		CSRFKey: []byte("an example key of 32 bytes......"),
	}, linktest.NewStore(), vaultSink{})
	if err != nil {
		panic(err)
	}
	url, _, err := svc.Issue(ctx, securelink.IssueRequest{
		Session: "s-1", Step: "card", Locale: "pt-BR",
		Fields: []*flow.Field{{Var: "card", Type: flow.InputCardNumber}, {Var: "cvv", Type: flow.InputCVV}},
	})
	if err != nil {
		panic(err)
	}
	path := strings.TrimPrefix(url, "https://pay.example.com")
	fmt.Println(strings.HasPrefix(path, "/s/"), len(path)-len("/s/"))

	// Serve svc.Handler() on the host of BaseURL; here, one request.
	rec := httptest.NewRecorder()
	svc.Handler().ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	fmt.Println(rec.Code, strings.Contains(rec.Body.String(), "Número do cartão"))
	// Output:
	// true 43
	// 200 true
}
