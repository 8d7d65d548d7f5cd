package genesys

// ring keeps the most recent values up to a fixed capacity, so that a long
// demo or a load test cannot grow the emulator's memory without bound. Its
// backing array grows lazily up to the capacity. It is not safe for
// concurrent use; the emulator guards it with its own mutex.
type ring[T any] struct {
	buf   []T
	start int // index of the oldest value once the buffer is full
	limit int
}

func newRing[T any](limit int) *ring[T] { return &ring[T]{limit: limit} }

func (r *ring[T]) push(v T) {
	if len(r.buf) < r.limit {
		r.buf = append(r.buf, v)
		return
	}
	r.buf[r.start] = v
	r.start = (r.start + 1) % r.limit
}

// each calls f from oldest to newest until f returns false.
func (r *ring[T]) each(f func(T) bool) {
	for i := range r.buf {
		if !f(r.buf[(r.start+i)%len(r.buf)]) {
			return
		}
	}
}

func (r *ring[T]) len() int { return len(r.buf) }

func (r *ring[T]) reset() {
	r.buf = nil
	r.start = 0
}

// boundedMap is a map that forgets its oldest keys beyond a fixed size. It is
// not safe for concurrent use.
type boundedMap[K comparable, V any] struct {
	m     map[K]V
	order *ring[K]
}

func newBoundedMap[K comparable, V any](limit int) *boundedMap[K, V] {
	return &boundedMap[K, V]{m: make(map[K]V), order: newRing[K](limit)}
}

func (b *boundedMap[K, V]) get(k K) (V, bool) {
	v, ok := b.m[k]
	return v, ok
}

func (b *boundedMap[K, V]) put(k K, v V) {
	if _, ok := b.m[k]; ok {
		b.m[k] = v
		return
	}
	if b.order.len() == b.order.limit {
		delete(b.m, b.order.buf[b.order.start])
	}
	b.order.push(k)
	b.m[k] = v
}

// each calls f for every entry, oldest key first, until f returns false.
func (b *boundedMap[K, V]) each(f func(K, V) bool) {
	b.order.each(func(k K) bool { return f(k, b.m[k]) })
}

func (b *boundedMap[K, V]) reset() {
	b.m = make(map[K]V)
	b.order.reset()
}
