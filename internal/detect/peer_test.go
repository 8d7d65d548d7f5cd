package detect

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"unicode/utf8"
)

// The peer suite is Presidio's own recognizer test cases, extracted to
// ../shared/peer-suites/presidio/cases.json (beside this checkout). Its
// README explains the replay rules; in short: every case calls one
// recognizer directly (so no score threshold and no other entity competes),
// offsets are Unicode code points, and span_check says what the test
// asserts.
const peerSuitePath = "../../../shared/peer-suites/presidio/cases.json"

// peerAgreementTarget is the minimum agreement per supported entity.
const peerAgreementTarget = 0.97

type peerSuite struct {
	Commit string     `json:"commit"`
	Cases  []peerCase `json:"cases"`
}

type peerCase struct {
	Entity        string         `json:"entity"`
	Test          string         `json:"test"`
	Index         int            `json:"index"`
	Text          string         `json:"text"`
	ExpectedCount int            `json:"expected_count"`
	ExpectedSpans [][2]int       `json:"expected_spans"` // code points
	SpanCheck     string         `json:"span_check"`
	Params        map[string]any `json:"params"`
	Note          *string        `json:"note"`
}

// peerConfigurationCase reports why a case tests a recognizer configuration
// secureflow does not offer, or "" if it tests the default configuration.
// Presidio's phone tests rerun one text at every python-phonenumbers
// leniency (POSSIBLE, VALID, STRICT_GROUPING, EXACT_GROUPING) and expect a
// different answer at each; a detector has one strictness, equivalent to
// the default, VALID (leniency 1), so the cases at other leniencies are
// reported separately and do not count towards agreement.
func peerConfigurationCase(c peerCase) string {
	if l, ok := c.Params["leniency"].(float64); ok && l != 1 {
		return fmt.Sprintf("phone leniency %v (default is 1)", l)
	}
	return ""
}

func loadPeerSuite(t *testing.T) peerSuite {
	t.Helper()
	b, err := os.ReadFile(peerSuitePath)
	if errors.Is(err, fs.ErrNotExist) {
		t.Skipf("peer suite not found at %s (it lives beside the checkout, in ../shared)", peerSuitePath)
	}
	if err != nil {
		t.Fatal(err)
	}
	var s peerSuite
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("parse %s: %v", peerSuitePath, err)
	}
	return s
}

// peerOutcome is the replay of one case.
type peerOutcome struct {
	c      peerCase
	got    [][2]int // code points
	agree  bool
	config string // non-empty: a configuration case, excluded
}

// replayPeerCase runs the scanner restricted to the case's entity, with no
// score threshold, as Presidio's test calls recognizer.analyze directly.
func replayPeerCase(s *Scanner, c peerCase) peerOutcome {
	o := peerOutcome{c: c, config: peerConfigurationCase(c)}
	for _, sp := range s.Scan(c.Text) {
		o.got = append(o.got, [2]int{
			utf8.RuneCountInString(c.Text[:sp.Start]),
			utf8.RuneCountInString(c.Text[:sp.End]),
		})
	}
	switch c.SpanCheck {
	case "all":
		want := slices.Clone(c.ExpectedSpans)
		sortSpans(want)
		got := slices.Clone(o.got)
		sortSpans(got)
		o.agree = len(got) == c.ExpectedCount && slices.Equal(got, want)
	case "count_only":
		o.agree = len(o.got) == c.ExpectedCount
	case "first_result_only":
		o.agree = len(o.got) == c.ExpectedCount && len(o.got) > 0 && len(c.ExpectedSpans) > 0 &&
			o.got[0] == c.ExpectedSpans[0]
	}
	return o
}

func sortSpans(s [][2]int) {
	sort.Slice(s, func(i, j int) bool {
		if s[i][0] != s[j][0] {
			return s[i][0] < s[j][0]
		}
		return s[i][1] < s[j][1]
	})
}

// peerSupported are the suite's entities secureflow detects.
var peerSupported = []Entity{CreditCard, Crypto, Email, IBAN, IPAddress, Phone, SSN}

func TestPeerSuitePresidio(t *testing.T) {
	suite := loadPeerSuite(t)
	reg := DefaultRegistry()
	var failed []string
	for _, e := range peerSupported {
		s := MustNewScanner(reg, WithEntities(e), WithMinScore(0))
		var agree, total, excluded, excludedAgree int
		var disagreements []string
		for _, c := range suite.Cases {
			if Entity(c.Entity) != e {
				continue
			}
			o := replayPeerCase(s, c)
			if o.config != "" {
				excluded++
				if o.agree {
					excludedAgree++
				}
				t.Logf("%s: excluded (%s): %s[%d] %q: want %d %v, got %v",
					e, o.config, c.Test, c.Index, c.Text, c.ExpectedCount, c.ExpectedSpans, o.got)
				continue
			}
			total++
			if o.agree {
				agree++
				continue
			}
			disagreements = append(disagreements, fmt.Sprintf("%s[%d] %q: want %d %v, got %v",
				c.Test, c.Index, c.Text, c.ExpectedCount, c.ExpectedSpans, o.got))
		}
		if total == 0 {
			t.Errorf("%s: no cases in the suite", e)
			continue
		}
		rate := float64(agree) / float64(total)
		t.Logf("%-14s agreement %3d/%3d = %6.2f%%", e, agree, total, 100*rate)
		if excluded > 0 {
			t.Logf("%-14s configuration cases (not counted): %d, of which %d agree; all cases: %d/%d = %.2f%%",
				e, excluded, excludedAgree, agree+excludedAgree, total+excluded,
				100*float64(agree+excludedAgree)/float64(total+excluded))
		}
		for _, d := range disagreements {
			t.Logf("%s: disagreement: %s", e, d)
		}
		if rate < peerAgreementTarget {
			failed = append(failed, fmt.Sprintf("%s %.2f%%", e, 100*rate))
		}
	}
	if len(failed) > 0 {
		t.Errorf("agreement below %.0f%%: %s", 100*peerAgreementTarget, strings.Join(failed, ", "))
	}
}
