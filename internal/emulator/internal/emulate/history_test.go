package emulate

import (
	"slices"
	"testing"
)

func TestRingKeepsNewest(t *testing.T) {
	r := NewRing[int](3)
	for i := 1; i <= 5; i++ {
		r.Push(i)
	}
	if got := r.All(); !slices.Equal(got, []int{3, 4, 5}) {
		t.Fatalf("All = %v, want [3 4 5]", got)
	}
	var first []int
	r.each(func(v int) bool { first = append(first, v); return false })
	if !slices.Equal(first, []int{3}) {
		t.Fatalf("each did not stop: %v", first)
	}
	odd := func(v int) bool { return v%2 == 1 }
	if got := r.Filter(odd); !slices.Equal(got, []int{3, 5}) {
		t.Fatalf("Filter = %v, want [3 5]", got)
	}
	if got := r.Filter(func(int) bool { return false }); got != nil {
		t.Fatalf("Filter of nothing = %#v, want nil", got)
	}
	r.Reset()
	if got := r.All(); got == nil || len(got) != 0 {
		t.Fatalf("All after Reset = %#v, want empty non-nil", got)
	}
	r.Push(9)
	if got := r.All(); !slices.Equal(got, []int{9}) {
		t.Fatalf("after Reset = %v", got)
	}
}

func TestBoundedMapForgetsOldestKey(t *testing.T) {
	m := NewBoundedMap[string, int](2)
	m.Put("a", 1)
	m.Put("b", 2)
	m.Put("a", 10) // replacing keeps a's age
	m.Put("c", 3)  // forgets a
	if _, ok := m.Get("a"); ok {
		t.Fatal("a should be forgotten")
	}
	if v, ok := m.Get("b"); !ok || v != 2 {
		t.Fatalf("b = %d, %v", v, ok)
	}
	var keys []string
	m.Each(func(k string, _ int) bool { keys = append(keys, k); return true })
	if !slices.Equal(keys, []string{"b", "c"}) {
		t.Fatalf("keys = %v", keys)
	}
	m.Reset()
	if _, ok := m.Get("c"); ok {
		t.Fatal("Reset kept c")
	}
}
