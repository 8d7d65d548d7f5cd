package kmstest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// AWS KMS JSON 1.1 targets the fake serves (AWS KMS API reference,
// "Encrypt" and "Decrypt": POST / with X-Amz-Target TrentService.Encrypt
// or TrentService.Decrypt and Content-Type application/x-amz-json-1.1).
const (
	targetEncrypt = "TrentService.Encrypt"
	targetDecrypt = "TrentService.Decrypt"
)

// blobMagic starts every ciphertext blob of the fake. Real KMS blobs are
// opaque and also name their key, so that Decrypt of a symmetric key needs
// no KeyId; the fake's are magic || uint16 len(ARN) || ARN || Tink ciphertext.
var blobMagic = []byte("fakekms1")

// AWSKMS is a fake AWS KMS with one symmetric encryption key
// (SYMMETRIC_DEFAULT), accepting one access key.
type AWSKMS struct {
	// Server is the running fake; its URL is the endpoint to give
	// kms.WithAWSEndpointForTesting.
	Server *httptest.Server

	region, account, keyID string
	accessKeyID, secretKey string

	mu         sync.Mutex
	manager    *keyset.Manager
	primitive  tink.AEAD
	denied     bool
	down       bool
	echo       bool
	skipVerify bool
	requests   []AWSRequest
}

// AWSRequest records what the fake received, for assertions.
type AWSRequest struct {
	// Target is the X-Amz-Target header (TrentService.Encrypt, ...).
	Target string
	// AccessKeyID, Region and Service come from the SigV4 Authorization
	// header's credential scope.
	AccessKeyID, Region, Service string
	// SignatureValid reports whether the SigV4 signature verified with
	// the fake's secret key.
	SignatureValid bool
	// KeyID is the request's KeyId.
	KeyID string
	// EncryptionContext is the request's EncryptionContext.
	EncryptionContext map[string]string
	// Plaintext is the decoded Plaintext of an Encrypt request.
	Plaintext []byte
	// Body is the raw request body.
	Body []byte
}

// AWSKMSOption configures NewAWSKMS.
type AWSKMSOption func(*AWSKMS)

// WithAWSKeyID names the fake's key (default
// 1234abcd-12ab-34cd-56ef-1234567890ab, the AWS documentation's example).
func WithAWSKeyID(id string) AWSKMSOption { return func(f *AWSKMS) { f.keyID = id } }

// NewAWSKMS starts a fake AWS KMS over TLS for region, holding one key and
// accepting requests signed with accessKeyID/secretKey. It is closed when
// the test ends.
func NewAWSKMS(t testing.TB, region, accessKeyID, secretKey string, opts ...AWSKMSOption) *AWSKMS {
	t.Helper()
	f := &AWSKMS{
		region: region, account: "111122223333", keyID: "1234abcd-12ab-34cd-56ef-1234567890ab",
		accessKeyID: accessKeyID, secretKey: secretKey,
	}
	for _, o := range opts {
		o(f)
	}
	f.manager = keyset.NewManager()
	f.Rotate(t)
	f.Server = httptest.NewTLSServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Server.Close)
	return f
}

// KeyARN is the key's ARN: arn:aws:kms:REGION:111122223333:key/ID.
func (f *AWSKMS) KeyARN() string {
	return "arn:aws:kms:" + f.region + ":" + f.account + ":key/" + f.keyID
}

// KeyURI is the Tink key URI of the key: aws-kms://ARN.
func (f *AWSKMS) KeyURI() string { return "aws-kms://" + f.KeyARN() }

// CertPool holds the fake's TLS certificate, for kms.WithRootCAs.
func (f *AWSKMS) CertPool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(f.Server.Certificate())
	return pool
}

// Rotate adds new key material that becomes primary, as AWS KMS automatic
// key rotation does; older ciphertexts keep decrypting.
func (f *AWSKMS) Rotate(t testing.TB) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	id, err := f.manager.Add(aead.AES256GCMKeyTemplate())
	if err != nil {
		t.Fatal(err)
	}
	if err := f.manager.SetPrimary(id); err != nil {
		t.Fatal(err)
	}
	h, err := f.manager.Handle()
	if err != nil {
		t.Fatal(err)
	}
	if f.primitive, err = aead.New(h); err != nil {
		t.Fatal(err)
	}
}

// SetDenied makes every signed request fail with AccessDeniedException,
// as KMS answers when the key policy or IAM does not allow the caller.
func (f *AWSKMS) SetDenied(denied bool) { f.set(&f.denied, denied) }

// SetDown makes every request fail with 500 KMSInternalException, an
// outage.
func (f *AWSKMS) SetDown(down bool) { f.set(&f.down, down) }

// SetEchoErrors makes every authenticated request fail with a
// ValidationException whose message quotes the request body, as a
// misbehaving proxy might: a client must not pass such a message on.
func (f *AWSKMS) SetEchoErrors(echo bool) { f.set(&f.echo, echo) }

// SetSkipSignatureCheck accepts requests whose SigV4 signature does not
// verify (the access key id and scope are still checked).
func (f *AWSKMS) SetSkipSignatureCheck(skip bool) { f.set(&f.skipVerify, skip) }

func (f *AWSKMS) set(p *bool, v bool) {
	f.mu.Lock()
	*p = v
	f.mu.Unlock()
}

// Requests returns a copy of the requests received so far.
func (f *AWSKMS) Requests() []AWSRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]AWSRequest(nil), f.requests...)
}

// awsError answers in the AWS JSON 1.1 error shape (AWS KMS API reference,
// "Common Errors"; the SDK reads the code from "__type" and the text from
// "message").
func awsError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-Requestid", "fake-request-id")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": msg})
}

func awsOK(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-Requestid", "fake-request-id")
	_ = json.NewEncoder(w).Encode(v)
}

// kmsRequest is the union of the Encrypt and Decrypt request syntax (AWS
// KMS API reference, "Encrypt" / "Decrypt", Request Syntax). Blobs are
// base64 in JSON, which encoding/json does for []byte.
type kmsRequest struct {
	KeyId               string            `json:"KeyId"`
	Plaintext           []byte            `json:"Plaintext"`
	CiphertextBlob      []byte            `json:"CiphertextBlob"`
	EncryptionContext   map[string]string `json:"EncryptionContext"`
	EncryptionAlgorithm string            `json:"EncryptionAlgorithm"`
}

func (f *AWSKMS) serve(w http.ResponseWriter, r *http.Request) {
	body := new(bytes.Buffer)
	_, _ = body.ReadFrom(r.Body)
	rec := AWSRequest{Target: r.Header.Get("X-Amz-Target"), Body: body.Bytes()}
	rec.AccessKeyID, rec.Region, rec.Service = parseAuthorization(r.Header.Get("Authorization"))
	rec.SignatureValid = f.verifySignature(r, body.Bytes())
	var req kmsRequest
	jsonErr := json.Unmarshal(body.Bytes(), &req)
	rec.KeyID, rec.EncryptionContext, rec.Plaintext = req.KeyId, req.EncryptionContext, req.Plaintext

	f.mu.Lock()
	f.requests = append(f.requests, rec)
	denied, down, echo, skip, a := f.denied, f.down, f.echo, f.skipVerify, f.primitive
	f.mu.Unlock()

	if down {
		awsError(w, http.StatusInternalServerError, "KMSInternalException", "The request was rejected because an internal exception occurred.")
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		awsError(w, http.StatusNotFound, "UnknownOperationException", "")
		return
	}
	switch {
	case rec.AccessKeyID == "":
		awsError(w, http.StatusBadRequest, "MissingAuthenticationToken", "Request is missing Authentication Token")
		return
	case rec.AccessKeyID != f.accessKeyID:
		awsError(w, http.StatusBadRequest, "UnrecognizedClientException", "The security token included in the request is invalid.")
		return
	case rec.Region != f.region || rec.Service != "kms":
		awsError(w, http.StatusBadRequest, "InvalidSignatureException", "Credential should be scoped to a valid region and service.")
		return
	case !rec.SignatureValid && !skip:
		awsError(w, http.StatusBadRequest, "InvalidSignatureException", "The request signature we calculated does not match the signature you provided.")
		return
	}
	if denied {
		awsError(w, http.StatusBadRequest, "AccessDeniedException",
			"User: arn:aws:iam::"+f.account+":user/secureflow is not authorized to perform: kms:"+strings.TrimPrefix(rec.Target, "TrentService.")+" on resource: "+f.KeyARN())
		return
	}
	if echo {
		awsError(w, http.StatusBadRequest, "ValidationException", "bad request: "+body.String())
		return
	}
	if jsonErr != nil || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-amz-json-1.1") {
		awsError(w, http.StatusBadRequest, "SerializationException", "")
		return
	}
	if req.EncryptionAlgorithm != "" && req.EncryptionAlgorithm != "SYMMETRIC_DEFAULT" {
		awsError(w, http.StatusBadRequest, "InvalidKeyUsageException", "The key does not support this algorithm.")
		return
	}
	switch rec.Target {
	case targetEncrypt:
		if !f.isKey(req.KeyId) {
			awsError(w, http.StatusBadRequest, "NotFoundException", "Key '"+req.KeyId+"' does not exist")
			return
		}
		// Encrypt accepts 1 to 4096 bytes of plaintext.
		if len(req.Plaintext) == 0 || len(req.Plaintext) > 4096 {
			awsError(w, http.StatusBadRequest, "ValidationException", "1 validation error detected: Value at 'plaintext' failed to satisfy constraint")
			return
		}
		ct, err := a.Encrypt(req.Plaintext, f.associatedData(req.EncryptionContext))
		if err != nil {
			awsError(w, http.StatusInternalServerError, "KMSInternalException", "")
			return
		}
		blob := append(append(append([]byte(nil), blobMagic...), binary.BigEndian.AppendUint16(nil, uint16(len(f.KeyARN())))...), f.KeyARN()...)
		awsOK(w, map[string]any{
			"CiphertextBlob":      append(blob, ct...),
			"KeyId":               f.KeyARN(),
			"EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
		})
	case targetDecrypt:
		arn, ct, ok := splitBlob(req.CiphertextBlob)
		if !ok || arn != f.KeyARN() {
			awsError(w, http.StatusBadRequest, "InvalidCiphertextException", "")
			return
		}
		// With a KeyId, KMS refuses a ciphertext under another key.
		if req.KeyId != "" && !f.isKey(req.KeyId) {
			awsError(w, http.StatusBadRequest, "IncorrectKeyException", "The key ID in the request does not identify a CMK that can perform this operation.")
			return
		}
		pt, err := a.Decrypt(ct, f.associatedData(req.EncryptionContext))
		if err != nil {
			// A wrong EncryptionContext is reported as an invalid
			// ciphertext, with no message.
			awsError(w, http.StatusBadRequest, "InvalidCiphertextException", "")
			return
		}
		awsOK(w, map[string]any{
			"Plaintext":           pt,
			"KeyId":               f.KeyARN(),
			"EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
		})
	default:
		awsError(w, http.StatusBadRequest, "UnknownOperationException", "")
	}
}

// isKey reports whether id names the fake's key: its ARN or bare key id.
func (f *AWSKMS) isKey(id string) bool { return id == f.KeyARN() || id == f.keyID }

// associatedData binds the key ARN and the EncryptionContext, in a
// canonical length-prefixed encoding of its sorted pairs: KMS compares the
// context exactly (order does not matter, case does).
func (f *AWSKMS) associatedData(ec map[string]string) []byte {
	keys := make([]string, 0, len(ec))
	for k := range ec {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	ad := binary.BigEndian.AppendUint32(nil, uint32(len(f.KeyARN())))
	ad = append(ad, f.KeyARN()...)
	for _, k := range keys {
		ad = binary.BigEndian.AppendUint32(ad, uint32(len(k)))
		ad = append(ad, k...)
		ad = binary.BigEndian.AppendUint32(ad, uint32(len(ec[k])))
		ad = append(ad, ec[k]...)
	}
	return ad
}

func splitBlob(b []byte) (arn string, ct []byte, ok bool) {
	rest, ok := bytes.CutPrefix(b, blobMagic)
	if !ok || len(rest) < 2 {
		return "", nil, false
	}
	n := int(binary.BigEndian.Uint16(rest))
	if len(rest) < 2+n {
		return "", nil, false
	}
	return string(rest[2 : 2+n]), rest[2+n:], true
}

// parseAuthorization extracts the credential scope of a SigV4
// Authorization header ("AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/
// SERVICE/aws4_request, SignedHeaders=..., Signature=...", AWS General
// Reference, "Signature Version 4").
func parseAuthorization(h string) (akid, region, service string) {
	rest, ok := strings.CutPrefix(h, "AWS4-HMAC-SHA256 ")
	if !ok {
		return "", "", ""
	}
	for _, part := range strings.Split(rest, ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(part), "Credential="); ok {
			s := strings.Split(v, "/")
			if len(s) == 5 && s[4] == "aws4_request" {
				return s[0], s[2], s[3]
			}
		}
	}
	return "", "", ""
}

func authField(h, name string) string {
	rest, _ := strings.CutPrefix(h, "AWS4-HMAC-SHA256 ")
	for _, part := range strings.Split(rest, ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(part), name+"="); ok {
			return v
		}
	}
	return ""
}

// verifySignature re-signs the request with the fake's secret key, using
// the AWS SDK's own SigV4 signer over the headers the client signed, and
// compares the signatures.
func (f *AWSKMS) verifySignature(r *http.Request, body []byte) bool {
	auth := r.Header.Get("Authorization")
	signed, sig := authField(auth, "SignedHeaders"), authField(auth, "Signature")
	when, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if signed == "" || sig == "" || err != nil {
		return false
	}
	u := &url.URL{Scheme: "https", Host: r.Host, Path: r.URL.Path, RawQuery: r.URL.RawQuery}
	re, err := http.NewRequestWithContext(context.Background(), r.Method, u.String(), bytes.NewReader(body))
	if err != nil {
		return false
	}
	re.Host = r.Host
	re.ContentLength = r.ContentLength
	for _, name := range strings.Split(signed, ";") {
		if name == "host" || name == "content-length" || name == "x-amz-date" {
			continue
		}
		re.Header[http.CanonicalHeaderKey(name)] = r.Header.Values(name)
	}
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: f.accessKeyID, SecretAccessKey: f.secretKey, SessionToken: r.Header.Get("X-Amz-Security-Token")}
	_, region, _ := parseAuthorization(auth)
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, re, hex.EncodeToString(sum[:]), "kms", region, when); err != nil {
		return false
	}
	if authField(re.Header.Get("Authorization"), "SignedHeaders") != signed {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(authField(re.Header.Get("Authorization"), "Signature")), []byte(sig)) == 1
}

// IsAWSBlob reports whether b is a ciphertext blob of this fake (not
// necessarily one that decrypts).
func IsAWSBlob(b []byte) bool {
	_, _, ok := splitBlob(b)
	return ok
}
