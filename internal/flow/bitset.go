package flow

import "math/bits"

// bitset is a set of small non-negative integers (variable or origin
// indices). The zero value is the empty set. Methods that change the set
// return it, since they may grow it.
type bitset []uint64

func (b bitset) has(i int) bool {
	w := i / 64
	return w < len(b) && b[w]&(1<<(i%64)) != 0
}

func (b bitset) add(i int) bitset {
	w := i / 64
	for len(b) <= w {
		b = append(b, 0)
	}
	b[w] |= 1 << (i % 64)
	return b
}

func (b bitset) remove(i int) bitset {
	if w := i / 64; w < len(b) {
		b[w] &^= 1 << (i % 64)
	}
	return b
}

// or adds every member of o and reports whether b grew.
func (b bitset) or(o bitset) (bitset, bool) {
	grew := false
	for len(b) < len(o) {
		b = append(b, 0)
	}
	for i, w := range o {
		if b[i]|w != b[i] {
			b[i] |= w
			grew = true
		}
	}
	return b, grew
}

// and keeps only the members of o.
func (b bitset) and(o bitset) bitset {
	for i := range b {
		if i < len(o) {
			b[i] &= o[i]
		} else {
			b[i] = 0
		}
	}
	return b
}

func (b bitset) clone() bitset { return append(bitset(nil), b...) }

func (b bitset) empty() bool {
	for _, w := range b {
		if w != 0 {
			return false
		}
	}
	return true
}

func (b bitset) equal(o bitset) bool {
	n := max(len(b), len(o))
	for i := range n {
		var x, y uint64
		if i < len(b) {
			x = b[i]
		}
		if i < len(o) {
			y = o[i]
		}
		if x != y {
			return false
		}
	}
	return true
}

// members returns the elements in increasing order.
func (b bitset) members() []int {
	var out []int
	for i, w := range b {
		for w != 0 {
			t := bits.TrailingZeros64(w)
			out = append(out, i*64+t)
			w &^= 1 << t
		}
	}
	return out
}
