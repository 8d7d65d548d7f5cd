package waflows_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/secureflow/secureflow/internal/hubsig"
)

// FuzzHandler feeds arbitrary bodies, correctly signed so that they get
// past the signature check, to the endpoint: it never panics, never
// answers 200 to something it could not decrypt, and never reaches the
// sink (an arbitrary body cannot carry a valid encrypted submission).
func FuzzHandler(f *testing.F) {
	fx := newFixture(f, nil)
	h := fx.svc.Handler()
	f.Add([]byte(`{"encrypted_flow_data":"AAAA","encrypted_aes_key":"AAAA","initial_vector":"AAAAAAAAAAAAAAAAAAAAAA=="}`))
	f.Add([]byte(`{"encrypted_flow_data":"","encrypted_aes_key":"","initial_vector":""}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
	f.Add([]byte{0xff, 0xfe})
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/flows/whatsapp", bytes.NewReader(body))
		req.Header.Set(hubsig.Header, hubsig.Sign(hubsig.Hex, appSecret, body))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case 400, 413, 421:
		default:
			t.Fatalf("status %d for an arbitrary body", rec.Code)
		}
		if subs, fails := fx.sink.count(); subs != 0 || fails != 0 {
			t.Fatal("an arbitrary body reached the sink")
		}
	})
}
