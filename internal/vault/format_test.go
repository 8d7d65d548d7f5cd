package vault

import (
	"bytes"
	"crypto/rand"
	"strings"
	"testing"
)

func TestBase58Fixed(t *testing.T) {
	tests := []struct {
		name string
		in   [16]byte
		want string
	}{
		{"zero", [16]byte{}, strings.Repeat("1", 22)},
		{"one", [16]byte{15: 1}, strings.Repeat("1", 21) + "2"},
		{"58", [16]byte{15: 58}, strings.Repeat("1", 20) + "21"},
		// 2^128-1 in base 58 (checked with Python: int to base58).
		{"max", [16]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, "YcVfxkQb6JRzqk5kF2tNLv"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := base58Fixed(tt.in); got != tt.want {
				t.Fatalf("base58Fixed = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestLuhn(t *testing.T) {
	for _, tt := range []struct {
		d    string
		want bool
	}{
		{"4111111111111111", true},
		{"5555555555554444", true},
		{"378282246310005", true},
		{"4111111111111112", false},
		{"79927398713", true},
		{"79927398710", false},
	} {
		if got := luhnValid([]byte(tt.d)); got != tt.want {
			t.Errorf("luhnValid(%s) = %v", tt.d, got)
		}
	}
}

func TestCPFCheck(t *testing.T) {
	for _, tt := range []struct {
		d    string
		want bool
	}{
		{"52998224725", true},
		{"11144477735", true},
		{"52998224724", false},
		{"11111111111", false}, // passes the arithmetic, never issued
	} {
		if got := cpfValid([]byte(tt.d)); got != tt.want {
			t.Errorf("cpfValid(%s) = %v", tt.d, got)
		}
	}
}

func TestCardTokenDigits(t *testing.T) {
	for n := 12; n <= 19; n++ {
		card := make([]byte, n)
		for i := range card {
			card[i] = '4'
		}
		// make it Luhn-valid
		card[n-1] = '0'
		card[n-1] = byte('0' + (10-luhnSum(card)%10)%10)
		for range 200 {
			tok, err := cardTokenDigits(card, "9", rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			if len(tok) != n || tok[0] != '9' || !bytes.Equal(tok[n-4:], card[n-4:]) || !luhnValid(tok) {
				t.Fatalf("card token %s for %s", tok, card)
			}
		}
	}
	if _, err := cardTokenDigits([]byte("411111111111"), "123456", rand.Reader); err == nil {
		t.Fatal("a 12-digit card with a 6-digit prefix leaves 1 random digit and must be refused")
	}
}

func TestReadDigitsUniform(t *testing.T) {
	d, err := readDigits(rand.Reader, 100000)
	if err != nil {
		t.Fatal(err)
	}
	var counts [10]int
	for _, c := range d {
		counts[c-'0']++
	}
	for i, c := range counts {
		if c < 9400 || c > 10600 { // > 6 standard deviations from 10000
			t.Fatalf("digit %d drawn %d times in 100000", i, c)
		}
	}
}

func TestCanonical(t *testing.T) {
	for _, tt := range []struct {
		k        Kind
		in, want string
	}{
		{KindCard, "4111 1111-1111 1111", "4111111111111111"},
		{KindCPF, "529.982.247-25", "52998224725"},
		{KindCNPJ, "11.222.333/0001-81", "11222333000181"},
		{KindEmail, "a.b-c@example.com", "a.b-c@example.com"},
	} {
		if got := string(canonical(tt.k, []byte(tt.in))); got != tt.want {
			t.Errorf("canonical(%s, %q) = %q", tt.k, tt.in, got)
		}
	}
}

func TestAuditCanonicalUnambiguous(t *testing.T) {
	// Moving bytes from one field to the next must change the encoding.
	a := AuditEntry{Seq: 1, Principal: "ab", Purpose: "c"}
	b := AuditEntry{Seq: 1, Principal: "a", Purpose: "bc"}
	if bytes.Equal(a.canonical(), b.canonical()) {
		t.Fatal("canonical encoding is ambiguous")
	}
}

// FuzzFormatPreserving checks, for any input a format accepts, that the
// token has the value's layout, keeps what the format promises and nothing
// more, and passes the format's check digits.
func FuzzFormatPreserving(f *testing.F) {
	for _, s := range []string{"4111 1111 1111 1111", "3782-822463-10005", "411111111117", "529.982.247-25", "52998224725", "x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if l, err := cardLayout([]byte(v)); err == nil {
			d, err := cardTokenDigits(l.digits, "9", rand.Reader)
			if err != nil {
				if len(l.digits) >= 12 {
					t.Fatalf("card of %d digits refused: %v", len(l.digits), err)
				}
				return
			}
			tok := l.render(d)
			if len(tok) != len(v) || !luhnValid(d) || tok[len(tok)-4:] != v[len(v)-4:] || d[0] != '9' {
				t.Fatalf("card token %q for %q", tok, v)
			}
			if _, err := cardLayout([]byte(tok)); err != nil {
				t.Fatalf("card token %q is not itself a valid card layout", tok)
			}
		}
		if l, err := cpfLayout([]byte(v)); err == nil {
			d, err := cpfTokenDigits(rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			tok := l.render(d)
			if _, err := cpfLayout([]byte(tok)); err != nil || len(tok) != len(v) {
				t.Fatalf("CPF token %q for %q", tok, v)
			}
		}
	})
}

// FuzzParse checks that the textual forms round-trip and never panic.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"days:30", "ephemeral", "3:" + strings.Repeat("ab", 32), "days:-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if r, err := ParseRetention(s); err == nil && r.String() != s {
			t.Fatalf("ParseRetention(%q).String() = %q", s, r.String())
		}
		if a, err := ParseAnchor(s); err == nil && (a.Seq < 1 || len(a.Hash) != HashSize) {
			t.Fatalf("ParseAnchor(%q) = %+v", s, a)
		}
	})
}
