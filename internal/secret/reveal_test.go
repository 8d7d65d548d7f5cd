package secret_test

import (
	"go/ast"
	"go/types"
	"sort"
	"strings"
	"testing"

	"golang.org/x/tools/go/packages"
)

// allowedRevealers lists the packages that may call secret.Value.Reveal.
// Adding a package here is a security-reviewed change: say in the commit why
// it needs the raw bytes.
var allowedRevealers = map[string]string{
	"github.com/secureflow/secureflow/internal/secret":                "the type itself and its tests",
	"github.com/secureflow/secureflow/internal/config":                "resolves secret references and checks lengths",
	"github.com/secureflow/secureflow/internal/redact":                "tests only: check the value handed to the vault",
	"github.com/secureflow/secureflow/internal/keyring":               "parses the key-encryption keyset",
	"github.com/secureflow/secureflow/internal/kms":                   "hands the Vault token to the KMS client; reads a KMS key URI given as keys.kek",
	"github.com/secureflow/secureflow/internal/vault":                 "encrypts and fingerprints tokenized values, parses the vault KEK; decrypts only for policy-checked, audited reveals",
	"github.com/secureflow/secureflow/internal/channel/whatsapp":      "HMAC key for webhook signatures, Graph API bearer token",
	"github.com/secureflow/secureflow/internal/contactcenter/genesys": "HMAC key for webhook signatures, OAuth client secret and access token",
	"github.com/secureflow/secureflow/cmd/secureflow":                 "hands configured credentials to the emulators in demo mode",
	"github.com/secureflow/secureflow/internal/action":                "writes revealed action inputs and upstream credentials into the outgoing request only; loads mTLS keys",
	"github.com/secureflow/secureflow/internal/session":               "validates and masks a secure-link value before tokenizing it; reads a secret a flow condition compares (audited reveal)",
	"github.com/secureflow/secureflow/internal/securelink":            "tests only: check the value handed to the sink",
	"github.com/secureflow/secureflow/internal/waflows":               "HMAC key for Flows endpoint signatures (X-Hub-Signature-256); tests check the value handed to the sink",
}

// TestRevealCallers type-checks the whole module and fails if a package not
// on the allow-list calls Value.Reveal.
func TestRevealCallers(t *testing.T) {
	if testing.Short() {
		t.Skip("type-checks the whole module; skipped in -short")
	}
	cfg := &packages.Config{
		Mode:  packages.NeedName | packages.NeedTypes | packages.NeedSyntax | packages.NeedTypesInfo,
		Dir:   "../..",
		Tests: true,
	}
	pkgs, err := packages.Load(cfg, "./...")
	if err != nil {
		t.Fatalf("load module: %v", err)
	}
	callers := map[string][]string{}
	for _, p := range pkgs {
		for _, e := range p.Errors {
			t.Fatalf("package %s: %v", p.PkgPath, e)
		}
		for _, f := range p.Syntax {
			ast.Inspect(f, func(n ast.Node) bool {
				sel, ok := n.(*ast.SelectorExpr)
				if !ok || sel.Sel.Name != "Reveal" {
					return true
				}
				fn, ok := p.TypesInfo.Uses[sel.Sel].(*types.Func)
				if !ok {
					return true
				}
				sig, ok := fn.Type().(*types.Signature)
				if !ok || sig.Recv() == nil {
					return true
				}
				named, ok := types.Unalias(sig.Recv().Type()).(*types.Named)
				if !ok || named.Obj().Pkg() == nil {
					return true
				}
				if named.Obj().Pkg().Path() == "github.com/secureflow/secureflow/internal/secret" && named.Obj().Name() == "Value" {
					pos := p.Fset.Position(sel.Pos())
					path := strings.TrimSuffix(strings.TrimSuffix(p.PkgPath, "_test"), ".test")
					callers[path] = append(callers[path], pos.String())
				}
				return true
			})
		}
	}
	var bad []string
	for pkg, at := range callers {
		if _, ok := allowedRevealers[pkg]; !ok {
			bad = append(bad, pkg+": "+strings.Join(at, ", "))
		}
	}
	sort.Strings(bad)
	if len(bad) > 0 {
		t.Fatalf("secret.Value.Reveal called from packages not on the allow-list:\n%s", strings.Join(bad, "\n"))
	}
	if len(callers) == 0 {
		t.Fatal("found no Reveal call at all: the walker is broken")
	}
}
