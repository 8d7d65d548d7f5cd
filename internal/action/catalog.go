package action

import (
	"cmp"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/secureflow/secureflow/internal/flow"
	"github.com/secureflow/secureflow/internal/secret"
)

// Defaults and limits of an action's http section.
const (
	DefaultTimeout           = 10 * time.Second
	MaxTimeout               = 5 * time.Minute
	DefaultRetries           = 2
	MaxRetries               = 10
	DefaultIdempotencyHeader = "Idempotency-Key"
	DefaultCircuitFailures   = 5
	DefaultCircuitOpenFor    = 30 * time.Second
)

// idempotencyRef is the placeholder for the call's idempotency key.
const idempotencyRef = "idempotency_key"

// LoadOptions configures [LoadCatalog].
type LoadOptions struct {
	// AllowedHosts lists the hosts actions may call: an exact host name
	// ("payments.example.com") or a wildcard for its subdomains
	// ("*.example.com", which does not match example.com itself). Empty
	// allows none.
	AllowedHosts []string
	// Resolve turns a credential reference (env:NAME or file:PATH) into
	// its value; nil uses [ResolveRef] over the process environment.
	Resolve func(ref string) (secret.Value, error)
}

// Catalog is a loaded action catalog: what the linter needs
// ([Catalog.Specs]) and how the [Executor] calls each action. It is
// immutable and safe for concurrent use.
type Catalog struct {
	specs   map[string]flow.ActionSpec
	actions map[string]*endpoint
}

// Specs returns the actions' inputs and outputs for the flow linter.
func (c *Catalog) Specs() map[string]flow.ActionSpec {
	out := make(map[string]flow.ActionSpec, len(c.specs))
	for k, v := range c.specs {
		out[k] = v
	}
	return out
}

// Names returns the actions' names, sorted.
func (c *Catalog) Names() []string {
	names := make([]string, 0, len(c.actions))
	for n := range c.actions {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// authType is how an action authenticates to its upstream.
type authType string

const (
	authNone   authType = ""
	authBearer authType = "bearer"
	authBasic  authType = "basic"
	authHMAC   authType = "hmac"
	authMTLS   authType = "mtls"
)

// endpoint is the parsed http section of one action.
type endpoint struct {
	name       string
	spec       flow.ActionSpec
	method     string
	url        []part // the URL template
	headers    []header
	auth       authType
	username   string
	credential secret.Value // bearer token, basic password, HMAC secret
	hmacHeader string
	cert       *tls.Certificate
	roots      *x509.CertPool
	body       *bodyNode // nil for no body
	response   []outputPath
	timeout    time.Duration
	idempotent bool
	retries    int
	idemHeader string
	insecure   bool
	failures   uint32
	openFor    time.Duration
}

type header struct {
	name  string
	value []part
}

type outputPath struct {
	output string
	path   []string
}

// part is a literal or a reference to an input in a URL or header
// template.
type part struct {
	lit string
	ref string // when non-empty, the input this part stands for
}

// bodyKind is the kind of a bodyNode.
type bodyKind int

const (
	bodyObject bodyKind = iota
	bodyArray
	bodyLiteral // a constant, already JSON-encoded
	bodyRef     // exactly "${name}": the input's value, typed
	bodyString  // a string interpolating public inputs
)

// bodyNode is the JSON template of a request body.
type bodyNode struct {
	kind  bodyKind
	keys  []string // bodyObject
	elems []*bodyNode
	lit   []byte // bodyLiteral
	ref   string // bodyRef
	parts []part // bodyString
}

var (
	httpKeys    = []string{"method", "url", "headers", "auth", "body", "response", "timeout", "idempotent", "retries", "idempotency_header", "allow_insecure_http", "circuit"}
	circuitKeys = []string{"failures", "open_for"}
	methods     = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}
	authKeys    = map[authType][]string{
		authBearer: {"type", "token"},
		authBasic:  {"type", "username", "password"},
		authHMAC:   {"type", "header", "secret"},
		authMTLS:   {"type", "cert", "key", "ca"},
	}
	// reRef matches a reference; names follow flow bindings.
	reRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_.-]{0,63})\}`)
	// reToken is an HTTP header field name (RFC 9110 §5.6.2).
	reToken = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
	// forbiddenHeaders are set by the executor or the transport.
	forbiddenHeaders = []string{"Authorization", "Host", "Content-Length", "Content-Type", "Transfer-Encoding", "Connection", "Cookie"}
)

// loader collects problems while parsing one catalog file.
type loader struct {
	file     string
	opts     LoadOptions
	problems []Problem
}

func (l *loader) report(n *yaml.Node, format string, args ...any) {
	p := Problem{File: l.file, Message: fmt.Sprintf(format, args...)}
	if n != nil {
		p.Line, p.Column = n.Line, n.Column
	}
	l.problems = append(l.problems, p)
}

// LoadCatalog parses an action catalog: the inputs and outputs of each
// action (through [flow.ParseCatalog], so that the linter and the executor
// agree) and its http section, which says how to call it. Every action
// must have an http section. Credential references are resolved now, so a
// missing environment variable or file fails the load. The error is a
// [*CatalogError] naming file, line and reason of every problem found.
func LoadCatalog(filename string, src []byte, opts LoadOptions) (*Catalog, error) {
	if opts.Resolve == nil {
		opts.Resolve = func(ref string) (secret.Value, error) { return ResolveRef(ref, os.LookupEnv) }
	}
	l := &loader{file: filename, opts: opts}
	specs, ds := flow.ParseCatalog(filename, src)
	for _, d := range ds {
		if d.Severity == flow.SeverityError {
			l.problems = append(l.problems, Problem{File: d.File, Line: d.Line, Column: d.Column, Message: d.Message})
		}
	}
	if len(l.problems) > 0 {
		return nil, l.err()
	}
	// flow.ParseCatalog accepted the file: one document without anchors,
	// aliases or merge keys, whose actions are a mapping of mappings.
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil || len(doc.Content) != 1 {
		l.report(nil, "cannot parse the catalog")
		return nil, l.err()
	}
	cat := &Catalog{specs: specs, actions: map[string]*endpoint{}}
	actions := lookup(doc.Content[0], "actions")
	for i := 0; actions != nil && i+1 < len(actions.Content); i += 2 {
		name := actions.Content[i].Value
		spec, ok := specs[name]
		if !ok {
			continue
		}
		hn := lookup(actions.Content[i+1], "http")
		if hn == nil {
			l.report(actions.Content[i], "action %s: no http section: say how to call it", name)
			continue
		}
		if ep := l.endpoint(name, spec, hn); ep != nil {
			cat.actions[name] = ep
		}
	}
	if len(l.problems) > 0 {
		return nil, l.err()
	}
	return cat, nil
}

func (l *loader) err() error {
	slices.SortStableFunc(l.problems, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
	return &CatalogError{Problems: l.problems}
}

// lookup returns the value of key in mapping n, or nil.
func lookup(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// mapping checks that n is a mapping with only the given keys (any key
// if none are given) and returns its keys and values in order.
func (l *loader) mapping(n *yaml.Node, what string, allowed ...string) (keys []*yaml.Node, vals []*yaml.Node, ok bool) {
	if n.Kind != yaml.MappingNode {
		l.report(n, "%s must be a mapping", what)
		return nil, nil, false
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if len(allowed) > 0 && !slices.Contains(allowed, k.Value) {
			l.report(k, "%s: unknown key %q (want one of %s)", what, k.Value, strings.Join(allowed, ", "))
			continue
		}
		if seen[k.Value] {
			l.report(k, "%s: duplicate key %q", what, k.Value)
			continue
		}
		seen[k.Value] = true
		keys = append(keys, k)
		vals = append(vals, n.Content[i+1])
	}
	return keys, vals, true
}

func (l *loader) str(n *yaml.Node, what string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
		l.report(n, "%s must be a string", what)
		return "", false
	}
	return n.Value, true
}

func (l *loader) boolean(n *yaml.Node, what string) bool {
	var b bool
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || n.Decode(&b) != nil {
		l.report(n, "%s must be true or false", what)
		return false
	}
	return b
}

func (l *loader) integer(n *yaml.Node, what string, lo, hi int) (int, bool) {
	var v int
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || n.Decode(&v) != nil || v < lo || v > hi {
		l.report(n, "%s must be an integer from %d to %d", what, lo, hi)
		return 0, false
	}
	return v, true
}

func (l *loader) duration(n *yaml.Node, what string, hi time.Duration) (time.Duration, bool) {
	if n.Kind == yaml.ScalarNode {
		if d, err := time.ParseDuration(n.Value); err == nil && d > 0 && d <= hi {
			return d, true
		}
	}
	l.report(n, "%s must be a duration such as 10s, greater than 0 and at most %s", what, hi)
	return 0, false
}

func (l *loader) endpoint(name string, spec flow.ActionSpec, n *yaml.Node) *endpoint {
	what := "action " + name + ": http"
	keys, vals, ok := l.mapping(n, what, httpKeys...)
	if !ok {
		return nil
	}
	before := len(l.problems)
	ep := &endpoint{
		name: name, spec: spec, method: http.MethodPost, timeout: DefaultTimeout, retries: DefaultRetries,
		idemHeader: DefaultIdempotencyHeader, failures: DefaultCircuitFailures, openFor: DefaultCircuitOpenFor,
	}
	field := map[string]*yaml.Node{}
	for i, k := range keys {
		field[k.Value] = vals[i]
	}
	// Scalars first: the templates depend on allow_insecure_http.
	if v := field["allow_insecure_http"]; v != nil {
		ep.insecure = l.boolean(v, what+".allow_insecure_http")
	}
	if v := field["method"]; v != nil {
		if s, ok := l.str(v, what+".method"); ok {
			if !slices.Contains(methods, s) {
				l.report(v, "%s.method must be one of %s", what, strings.Join(methods, ", "))
			}
			ep.method = s
		}
	}
	if v := field["timeout"]; v != nil {
		ep.timeout, _ = l.duration(v, what+".timeout", MaxTimeout)
	}
	if v := field["idempotent"]; v != nil {
		ep.idempotent = l.boolean(v, what+".idempotent")
	}
	if v := field["retries"]; v != nil {
		ep.retries, _ = l.integer(v, what+".retries", 0, MaxRetries)
		if !ep.idempotent {
			l.report(v, "%s.retries applies to idempotent actions only: a non-idempotent action is never retried", what)
		}
	}
	if !ep.idempotent {
		ep.retries = 0
	}
	if v := field["idempotency_header"]; v != nil {
		if s, ok := l.str(v, what+".idempotency_header"); ok {
			if !reToken.MatchString(s) {
				l.report(v, "%s.idempotency_header is not a valid header name", what)
			}
			ep.idemHeader = http.CanonicalHeaderKey(s)
		}
	}
	if v := field["circuit"]; v != nil {
		ck, cv, ok := l.mapping(v, what+".circuit", circuitKeys...)
		for i := 0; ok && i < len(ck); i++ {
			switch ck[i].Value {
			case "failures":
				f, _ := l.integer(cv[i], what+".circuit.failures", 1, 1000)
				ep.failures = uint32(f)
			case "open_for":
				ep.openFor, _ = l.duration(cv[i], what+".circuit.open_for", time.Hour)
			}
		}
	}
	if v := field["url"]; v != nil {
		l.parseURL(ep, v, what+".url")
	} else {
		l.report(n, "%s: url is required", what)
	}
	if v := field["auth"]; v != nil {
		l.parseAuth(ep, v, what+".auth")
	}
	if v := field["headers"]; v != nil {
		l.parseHeaders(ep, v, what+".headers")
	}
	if v := field["body"]; v != nil {
		if ep.method == http.MethodGet || ep.method == http.MethodDelete {
			l.report(v, "%s.body: a %s request has no body", what, ep.method)
		} else if v.Kind != yaml.MappingNode {
			l.report(v, "%s.body must be a mapping", what)
		} else {
			ep.body = l.parseBody(ep, v, what+".body")
		}
	}
	if v := field["response"]; v != nil {
		l.parseResponse(ep, v, what+".response")
	}
	if len(l.problems) > before {
		return nil
	}
	return ep
}

// template splits s into literal parts and references, checking every
// reference against the action's inputs. Secret inputs are refused (inBody
// says which message explains why); idempotency_key is accepted where
// allowKey.
func (l *loader) template(ep *endpoint, n *yaml.Node, s, what string, inBody, allowKey bool) []part {
	var parts []part
	last := 0
	for _, m := range reRef.FindAllStringSubmatchIndex(s, -1) {
		if m[0] > last {
			parts = append(parts, part{lit: s[last:m[0]]})
		}
		ref := s[m[2]:m[3]]
		parts = append(parts, part{ref: ref})
		last = m[1]
		if ref == idempotencyRef && allowKey {
			continue
		}
		in, ok := ep.spec.Inputs[ref]
		switch {
		case !ok:
			l.report(n, "%s references ${%s}, which is not an input of action %s", what, ref, ep.name)
		case in.Secret && inBody:
			l.report(n, "%s splices secret input %s into a longer string: a secret must be a whole value (\"${%s}\")", what, ref, ref)
		case in.Secret:
			l.report(n, "%s references secret input %s: secrets may go only into the body", what, ref)
		}
	}
	if last < len(s) {
		parts = append(parts, part{lit: s[last:]})
	}
	for _, p := range parts {
		if p.ref == "" && strings.Contains(p.lit, "${") {
			l.report(n, "%s has a malformed reference (want ${name})", what)
			break
		}
	}
	return parts
}

func (l *loader) parseURL(ep *endpoint, n *yaml.Node, what string) {
	s, ok := l.str(n, what)
	if !ok {
		return
	}
	ep.url = l.template(ep, n, s, what, false, false)
	// Check the URL with every reference replaced by a harmless value, and
	// keep references out of the scheme and host.
	sample := reRef.ReplaceAllString(s, "x")
	u, err := url.Parse(sample)
	if err != nil || u.Host == "" || !u.IsAbs() {
		l.report(n, "%s is not an absolute URL", what)
		return
	}
	rest := s[min(len(u.Scheme)+len("://"), len(s)):]
	if end := strings.IndexAny(rest, "/?#"); end >= 0 {
		rest = rest[:end]
	}
	if strings.Contains(rest, "${") {
		l.report(n, "%s: the host may not reference inputs", what)
		return
	}
	switch {
	case u.User != nil:
		l.report(n, "%s may not hold credentials: use auth", what)
	case strings.Contains(s, "#"):
		l.report(n, "%s may not have a fragment", what)
	case u.Scheme == "http" && !ep.insecure:
		l.report(n, "%s must use https (allow_insecure_http is for tests and emulators only)", what)
	case u.Scheme != "https" && u.Scheme != "http":
		l.report(n, "%s must use https", what)
	case !hostAllowed(u.Hostname(), l.opts.AllowedHosts):
		l.report(n, "%s: host %s is not in the allowed hosts", what, u.Hostname())
	}
}

// hostAllowed reports whether host matches an entry of allowed: equal
// (ignoring case), or a subdomain of a "*." entry.
func hostAllowed(host string, allowed []string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if host == "" {
		return false
	}
	for _, a := range allowed {
		a = strings.ToLower(strings.TrimSuffix(a, "."))
		if suffix, ok := strings.CutPrefix(a, "*."); ok {
			if suffix != "" && strings.HasSuffix(host, "."+suffix) {
				return true
			}
			continue
		}
		if a == host {
			return true
		}
	}
	return false
}

func (l *loader) parseHeaders(ep *endpoint, n *yaml.Node, what string) {
	keys, vals, ok := l.mapping(n, what)
	if !ok {
		return
	}
	for i, k := range keys {
		name := k.Value
		hw := what + "." + name
		if !reToken.MatchString(name) {
			l.report(k, "%s: %q is not a valid header name", what, name)
			continue
		}
		canon := http.CanonicalHeaderKey(name)
		if slices.Contains(forbiddenHeaders, canon) || canon == ep.idemHeader || (ep.auth == authHMAC && canon == ep.hmacHeader) {
			l.report(k, "%s: header %s is set by the executor", what, canon)
			continue
		}
		s, ok := l.str(vals[i], hw)
		if !ok {
			continue
		}
		if strings.ContainsAny(s, "\r\n") {
			l.report(vals[i], "%s may not contain line breaks", hw)
			continue
		}
		ep.headers = append(ep.headers, header{name: canon, value: l.template(ep, vals[i], s, hw, false, true)})
	}
}

func (l *loader) parseAuth(ep *endpoint, n *yaml.Node, what string) {
	t := lookup(n, "type")
	if n.Kind != yaml.MappingNode || t == nil {
		l.report(n, "%s must be a mapping with a type (bearer, basic, hmac or mtls)", what)
		return
	}
	typ := authType(t.Value)
	allowed, ok := authKeys[typ]
	if !ok {
		l.report(t, "%s.type must be bearer, basic, hmac or mtls", what)
		return
	}
	ep.auth = typ
	keys, vals, ok := l.mapping(n, what, allowed...)
	if !ok {
		return
	}
	field := map[string]*yaml.Node{}
	for i, k := range keys {
		field[k.Value] = vals[i]
	}
	need := func(key string) *yaml.Node {
		v := field[key]
		if v == nil {
			l.report(n, "%s: %s auth needs %s", what, typ, key)
		}
		return v
	}
	switch typ {
	case authBearer:
		if v := need("token"); v != nil {
			ep.credential, _ = l.ref(v, what+".token")
		}
	case authBasic:
		if v := need("username"); v != nil {
			ep.username, _ = l.str(v, what+".username")
			if strings.ContainsAny(ep.username, ":\r\n") {
				l.report(v, "%s.username may not contain ':' or line breaks", what)
			}
		}
		if v := need("password"); v != nil {
			ep.credential, _ = l.ref(v, what+".password")
		}
	case authHMAC:
		if v := need("header"); v != nil {
			if s, ok := l.str(v, what+".header"); ok {
				ep.hmacHeader = http.CanonicalHeaderKey(s)
				if !reToken.MatchString(s) || slices.Contains(forbiddenHeaders, ep.hmacHeader) || ep.hmacHeader == ep.idemHeader {
					l.report(v, "%s.header is not a header the signature may use", what)
				}
			}
		}
		if v := need("secret"); v != nil {
			ep.credential, _ = l.ref(v, what+".secret")
		}
	case authMTLS:
		cn, kn := need("cert"), need("key")
		if cn == nil || kn == nil {
			return
		}
		cert, ok1 := l.ref(cn, what+".cert")
		key, ok2 := l.ref(kn, what+".key")
		if !ok1 || !ok2 {
			return
		}
		c, err := x509KeyPair(cert, key)
		if err != nil {
			// The error of tls.X509KeyPair never quotes key material.
			l.report(n, "%s: cert and key do not load: %v", what, err)
			return
		}
		ep.cert = &c
		if v := field["ca"]; v != nil {
			ca, ok := l.ref(v, what+".ca")
			if !ok {
				return
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(ca.Reveal()) {
				l.report(v, "%s.ca holds no PEM certificate", what)
				return
			}
			ep.roots = pool
		}
	}
}

// x509KeyPair loads a client certificate, zeroing the copies of the key.
func x509KeyPair(cert, key secret.Value) (tls.Certificate, error) {
	cb, kb := cert.Reveal(), key.Reveal()
	defer clear(kb)
	return tls.X509KeyPair(cb, kb)
}

// ref resolves a credential reference. Literal credentials are refused: a
// catalog is checked in, its secrets are not.
func (l *loader) ref(n *yaml.Node, what string) (secret.Value, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!str" ||
		!(strings.HasPrefix(n.Value, "env:") || strings.HasPrefix(n.Value, "file:")) {
		// The value is not quoted: it may be a pasted credential.
		l.report(n, "%s must be a reference env:NAME or file:PATH, never a literal", what)
		return secret.Value{}, false
	}
	v, err := l.opts.Resolve(n.Value)
	if err != nil {
		l.report(n, "%s: %v", what, err)
		return secret.Value{}, false
	}
	if v.IsZero() {
		l.report(n, "%s: %s is empty", what, n.Value)
		return secret.Value{}, false
	}
	return v, true
}

// ResolveRef resolves env:NAME through lookupEnv and file:PATH by reading
// the file (trailing line breaks removed), the syntax of the gateway's
// configuration (internal/config). Errors name the variable or path,
// never the content.
func ResolveRef(ref string, lookupEnv func(string) (string, bool)) (secret.Value, error) {
	switch {
	case strings.HasPrefix(ref, "env:"):
		name := strings.TrimPrefix(ref, "env:")
		s, ok := lookupEnv(name)
		if !ok || s == "" {
			return secret.Value{}, fmt.Errorf("environment variable %s is not set", name)
		}
		return secret.FromString(s), nil
	case strings.HasPrefix(ref, "file:"):
		path := strings.TrimPrefix(ref, "file:")
		b, err := os.ReadFile(path)
		if err != nil {
			return secret.Value{}, fmt.Errorf("read %s: %w", path, err)
		}
		defer clear(b)
		trimmed := b
		for len(trimmed) > 0 && (trimmed[len(trimmed)-1] == '\n' || trimmed[len(trimmed)-1] == '\r') {
			trimmed = trimmed[:len(trimmed)-1]
		}
		if len(trimmed) == 0 {
			return secret.Value{}, fmt.Errorf("file %s is empty", path)
		}
		return secret.New(trimmed), nil
	}
	return secret.Value{}, fmt.Errorf("not a reference (want env:NAME or file:PATH)")
}

// parseBody turns a YAML node into a JSON template.
func (l *loader) parseBody(ep *endpoint, n *yaml.Node, what string) *bodyNode {
	switch n.Kind {
	case yaml.MappingNode:
		b := &bodyNode{kind: bodyObject}
		keys, vals, _ := l.mapping(n, what)
		for i, k := range keys {
			if k.Tag != "!!str" {
				l.report(k, "%s: keys must be strings", what)
				continue
			}
			b.keys = append(b.keys, k.Value)
			b.elems = append(b.elems, l.parseBody(ep, vals[i], what+"."+k.Value))
		}
		return b
	case yaml.SequenceNode:
		b := &bodyNode{kind: bodyArray}
		for i, e := range n.Content {
			b.elems = append(b.elems, l.parseBody(ep, e, fmt.Sprintf("%s[%d]", what, i)))
		}
		return b
	case yaml.ScalarNode:
		if n.Tag == "!!str" {
			if m := reRef.FindStringSubmatchIndex(n.Value); m != nil && m[0] == 0 && m[1] == len(n.Value) {
				ref := n.Value[m[2]:m[3]]
				if _, ok := ep.spec.Inputs[ref]; !ok && ref != idempotencyRef {
					l.report(n, "%s references ${%s}, which is not an input of action %s", what, ref, ep.name)
				}
				return &bodyNode{kind: bodyRef, ref: ref}
			}
			if strings.Contains(n.Value, "${") {
				// Secrets are placed whole, JSON-encoded, never spliced
				// into a longer string.
				return &bodyNode{kind: bodyString, parts: l.template(ep, n, n.Value, what, true, true)}
			}
			lit, _ := json.Marshal(n.Value)
			return &bodyNode{kind: bodyLiteral, lit: lit}
		}
		var v any
		if err := n.Decode(&v); err != nil {
			l.report(n, "%s: %v", what, err)
			return &bodyNode{kind: bodyLiteral, lit: []byte("null")}
		}
		if f, ok := v.(float64); ok && (math.IsInf(f, 0) || math.IsNaN(f)) {
			l.report(n, "%s: %s has no JSON form", what, n.Value)
			return &bodyNode{kind: bodyLiteral, lit: []byte("null")}
		}
		lit, err := json.Marshal(v)
		if err != nil {
			l.report(n, "%s: value has no JSON form", what)
			lit = []byte("null")
		}
		return &bodyNode{kind: bodyLiteral, lit: lit}
	}
	l.report(n, "%s: unsupported YAML node", what)
	return &bodyNode{kind: bodyLiteral, lit: []byte("null")}
}

func (l *loader) parseResponse(ep *endpoint, n *yaml.Node, what string) {
	keys, vals, ok := l.mapping(n, what)
	if !ok {
		return
	}
	for i, k := range keys {
		if _, ok := ep.spec.Outputs[k.Value]; !ok {
			l.report(k, "%s: %s is not an output of action %s", what, k.Value, ep.name)
			continue
		}
		s, ok := l.str(vals[i], what+"."+k.Value)
		if !ok {
			continue
		}
		path := strings.Split(s, ".")
		if slices.Contains(path, "") {
			l.report(vals[i], "%s.%s must be a dotted path such as authorization.code", what, k.Value)
			continue
		}
		ep.response = append(ep.response, outputPath{output: k.Value, path: path})
	}
}
