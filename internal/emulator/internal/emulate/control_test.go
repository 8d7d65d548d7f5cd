package emulate

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestPageAndLast(t *testing.T) {
	seq := func(v uint64) uint64 { return v }
	items := []uint64{1, 2, 3, 4, 5}
	for _, c := range []struct {
		after uint64
		limit int
		want  []uint64
	}{
		{0, 0, []uint64{1, 2, 3, 4, 5}},
		{2, 0, []uint64{3, 4, 5}},
		{2, 2, []uint64{4, 5}},
		{0, 9, []uint64{1, 2, 3, 4, 5}},
		{5, 0, []uint64{}},
	} {
		got := Page(items, seq, c.after, c.limit)
		if got == nil || !slices.Equal(got, c.want) {
			t.Errorf("Page(after %d, limit %d) = %v, want %v", c.after, c.limit, got, c.want)
		}
	}
	if got := Page[uint64](nil, seq, 0, 0); got == nil || len(got) != 0 {
		t.Errorf("Page(nil) = %#v, want empty non-nil", got)
	}
	if got := Last(items, 2); !slices.Equal(got, []uint64{4, 5}) {
		t.Errorf("Last = %v", got)
	}
}

func TestPageParams(t *testing.T) {
	for _, c := range []struct {
		query        string
		ok           bool
		after, limit int
	}{
		{"", true, 0, 0},
		{"after=3&limit=2", true, 3, 2},
		{"after=-1", false, 0, 0},
		{"limit=x", false, 0, 0},
		{"limit=-2", false, 0, 0},
	} {
		w := httptest.NewRecorder()
		after, limit, ok := PageParams(w, httptest.NewRequest(http.MethodGet, "/x?"+c.query, nil))
		if ok != c.ok || int(after) != c.after || limit != c.limit {
			t.Errorf("%q: got %d, %d, %v", c.query, after, limit, ok)
		}
		if !ok && w.Code != http.StatusBadRequest {
			t.Errorf("%q: status %d", c.query, w.Code)
		}
	}
}

func TestDecodeJSON(t *testing.T) {
	type in struct {
		A int `json:"a"`
	}
	for _, c := range []struct {
		body   string
		ok     bool
		status int
	}{
		{`{"a":1}`, true, 0},
		{`{"b":1}`, false, http.StatusBadRequest},
		{`{"a":1}{"a":2}`, false, http.StatusBadRequest},
		{`{"a":"` + strings.Repeat("x", maxControlBody) + `"}`, false, http.StatusRequestEntityTooLarge},
	} {
		w := httptest.NewRecorder()
		var v in
		ok := DecodeJSON(w, httptest.NewRequest(http.MethodPost, "/x", strings.NewReader(c.body)), &v)
		if ok != c.ok || (!ok && w.Code != c.status) {
			t.Errorf("%.20q: ok %v status %d", c.body, ok, w.Code)
		}
		if !ok && w.Header().Get("Content-Type") != "application/json" {
			t.Errorf("%.20q: content type %q", c.body, w.Header().Get("Content-Type"))
		}
	}
}

func TestDuration(t *testing.T) {
	b, err := json.Marshal(Duration(250 * time.Millisecond))
	if err != nil || string(b) != `"250ms"` {
		t.Fatalf("marshal = %s, %v", b, err)
	}
	for in, want := range map[string]time.Duration{`"1.5s"`: 1500 * time.Millisecond, `40`: 40 * time.Millisecond, `0.5`: 500 * time.Microsecond} {
		var d Duration
		if err := json.Unmarshal([]byte(in), &d); err != nil || time.Duration(d) != want {
			t.Errorf("%s: %v, %v", in, time.Duration(d), err)
		}
	}
	for _, in := range []string{`"soon"`, `true`} {
		var d Duration
		if err := json.Unmarshal([]byte(in), &d); err == nil {
			t.Errorf("%s: no error", in)
		}
	}
}
