package action

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/secureflow/secureflow/internal/secret"
)

// clientCert makes a self-signed client certificate, PEM-encoded.
func clientCert(t *testing.T) (certPEM, keyPEM []byte, cert *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "secureflow-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ = x509.ParseCertificate(der)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), cert
}

func TestMTLS(t *testing.T) {
	certPEM, keyPEM, cert := clientCert(t)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.TLS.PeerCertificates) == 0 || r.TLS.PeerCertificates[0].Subject.CommonName != "secureflow-test" {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	}))
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	srv.StartTLS()
	defer srv.Close()
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	refs := map[string][]byte{"env:CERT": certPEM, "env:KEY": keyPEM, "env:CA": caPEM}
	resolve := func(ref string) (secret.Value, error) {
		if b, ok := refs[ref]; ok {
			return secret.New(b), nil
		}
		return secret.Value{}, fmt.Errorf("%s is not set", ref)
	}
	u, _ := url.Parse(srv.URL)
	src := fmt.Sprintf(`actions:
  bank.check:
    inputs:
      account: {type: string, secret: true, required: true}
    outputs:
      status: {type: string}
    http:
      url: %s/v1/check
      auth: {type: mtls, cert: env:CERT, key: env:KEY, ca: env:CA}
      body: {account: "${account}"}
      response: {status: status}
`, srv.URL)
	cat, err := LoadCatalog("mtls.yaml", []byte(src), LoadOptions{AllowedHosts: []string{u.Hostname()}, Resolve: resolve})
	if err != nil {
		t.Fatal(err)
	}
	ex, err := New(ExecutorConfig{Catalog: cat})
	if err != nil {
		t.Fatal(err)
	}
	res, err := ex.Invoke(context.Background(), "bank.check", Call{Principal: "flow:t", Inputs: map[string]Arg{"account": {Secret: secret.FromString("12345")}}})
	if err != nil || res.Outputs["status"].Public != "ok" {
		t.Fatalf("mTLS call = %+v, %v", res, err)
	}

	// A client without the certificate is refused by the server.
	plain := strings.Replace(src, "auth: {type: mtls, cert: env:CERT, key: env:KEY, ca: env:CA}", "", 1)
	cat2, err := LoadCatalog("plain.yaml", []byte(plain), LoadOptions{AllowedHosts: []string{u.Hostname()}, Resolve: resolve})
	if err != nil {
		t.Fatal(err)
	}
	ex2, err := New(ExecutorConfig{Catalog: cat2, HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ex2.Invoke(context.Background(), "bank.check", Call{Principal: "flow:t", Inputs: map[string]Arg{"account": {Secret: secret.FromString("12345")}}}); err == nil {
		t.Fatal("the server accepted a client without a certificate")
	}

	// A key that does not match the certificate fails the load.
	_, otherKey, _ := clientCert(t)
	refs["env:KEY"] = otherKey
	_, err = LoadCatalog("mtls.yaml", []byte(src), LoadOptions{AllowedHosts: []string{u.Hostname()}, Resolve: resolve})
	if err == nil || !strings.Contains(err.Error(), "mtls.yaml:9:") || strings.Contains(err.Error(), "PRIVATE KEY") {
		t.Fatalf("mismatched key: %v", err)
	}
}
