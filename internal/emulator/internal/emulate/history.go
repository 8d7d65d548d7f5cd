package emulate

// Ring keeps the most recent values up to a fixed capacity, so that a long
// demo or a load test cannot grow an emulator's memory without bound. Its
// backing array grows lazily up to the capacity. It is not safe for
// concurrent use; the emulator guards it with its own mutex.
type Ring[T any] struct {
	buf   []T
	start int // index of the oldest value once the buffer is full
	limit int
}

// NewRing returns an empty ring that keeps at most limit values.
func NewRing[T any](limit int) *Ring[T] { return &Ring[T]{limit: limit} }

// Push adds v, forgetting the oldest value when the ring is full.
func (r *Ring[T]) Push(v T) {
	if len(r.buf) < r.limit {
		r.buf = append(r.buf, v)
		return
	}
	r.buf[r.start] = v
	r.start = (r.start + 1) % r.limit
}

// each calls f from oldest to newest until f returns false.
func (r *Ring[T]) each(f func(T) bool) {
	for i := range r.buf {
		if !f(r.buf[(r.start+i)%len(r.buf)]) {
			return
		}
	}
}

// All returns a copy of the values, oldest first; it is never nil.
func (r *Ring[T]) All() []T {
	out := make([]T, 0, len(r.buf))
	r.each(func(v T) bool { out = append(out, v); return true })
	return out
}

// Filter returns a copy of the values keep accepts, oldest first; it is nil
// when keep accepts none.
func (r *Ring[T]) Filter(keep func(T) bool) []T {
	var out []T
	r.each(func(v T) bool {
		if keep(v) {
			out = append(out, v)
		}
		return true
	})
	return out
}

// Reset forgets every value and releases the backing array.
func (r *Ring[T]) Reset() {
	r.buf = nil
	r.start = 0
}

// BoundedMap is a map that forgets its oldest keys beyond a fixed size. It
// is not safe for concurrent use.
type BoundedMap[K comparable, V any] struct {
	m     map[K]V
	order *Ring[K]
}

// NewBoundedMap returns an empty map that keeps at most limit keys.
func NewBoundedMap[K comparable, V any](limit int) *BoundedMap[K, V] {
	return &BoundedMap[K, V]{m: make(map[K]V), order: NewRing[K](limit)}
}

// Get returns the value stored under k, if k is still remembered.
func (b *BoundedMap[K, V]) Get(k K) (V, bool) {
	v, ok := b.m[k]
	return v, ok
}

// Put stores v under k. A new key forgets the oldest one when the map is
// full; replacing the value of a known key does not change its age.
func (b *BoundedMap[K, V]) Put(k K, v V) {
	if _, ok := b.m[k]; ok {
		b.m[k] = v
		return
	}
	if len(b.order.buf) == b.order.limit {
		delete(b.m, b.order.buf[b.order.start])
	}
	b.order.Push(k)
	b.m[k] = v
}

// Each calls f for every entry, oldest key first, until f returns false.
func (b *BoundedMap[K, V]) Each(f func(K, V) bool) {
	b.order.each(func(k K) bool { return f(k, b.m[k]) })
}

// Reset forgets every entry.
func (b *BoundedMap[K, V]) Reset() {
	b.m = make(map[K]V)
	b.order.Reset()
}
