package linktest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/secureflow/secureflow/internal/securelink"
)

// Store is an in-memory securelink.Store, safe for concurrent use. The
// zero Store is ready to use.
type Store struct {
	mu    sync.Mutex
	links map[string]securelink.Link
}

var _ securelink.Store = (*Store)(nil)

// NewStore returns an empty Store.
func NewStore() *Store { return &Store{} }

func clone(l securelink.Link) securelink.Link {
	l.Hash = slices.Clone(l.Hash)
	l.Fields = slices.Clone(l.Fields)
	for i := range l.Fields {
		if l.Fields[i].Label != nil {
			m := make(map[string]string, len(l.Fields[i].Label))
			for k, v := range l.Fields[i].Label {
				m[k] = v
			}
			l.Fields[i].Label = m
		}
	}
	return l
}

// CreateLink implements securelink.Store.
func (s *Store) CreateLink(_ context.Context, l securelink.Link) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.links == nil {
		s.links = map[string]securelink.Link{}
	}
	if _, ok := s.links[string(l.Hash)]; ok {
		return fmt.Errorf("linktest: link %s exists", securelink.LinkID(l.Hash))
	}
	s.links[string(l.Hash)] = clone(l)
	return nil
}

// LinkByHash implements securelink.Store.
func (s *Store) LinkByHash(_ context.Context, hash []byte) (securelink.Link, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.links[string(hash)]
	if !ok {
		return securelink.Link{}, fmt.Errorf("linktest: %w", securelink.ErrNotFound)
	}
	return clone(l), nil
}

// update applies fn to the link with the hash under the lock.
func (s *Store) update(hash []byte, fn func(*securelink.Link) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.links[string(hash)]
	if !ok {
		return fmt.Errorf("linktest: %w", securelink.ErrNotFound)
	}
	if err := fn(&l); err != nil {
		return err
	}
	s.links[string(hash)] = l
	return nil
}

// MarkOpened implements securelink.Store.
func (s *Store) MarkOpened(_ context.Context, hash []byte, at, expiresAt time.Time) error {
	return s.update(hash, func(l *securelink.Link) error {
		if l.OpenedAt.IsZero() {
			l.OpenedAt, l.ExpiresAt = at, expiresAt
		}
		return nil
	})
}

// CountAttempt implements securelink.Store.
func (s *Store) CountAttempt(_ context.Context, hash []byte) (int, error) {
	var n int
	err := s.update(hash, func(l *securelink.Link) error {
		l.Attempts++
		n = l.Attempts
		return nil
	})
	return n, err
}

// Consume implements securelink.Store.
func (s *Store) Consume(_ context.Context, hash []byte, at time.Time) error {
	return s.update(hash, func(l *securelink.Link) error {
		if !l.UsedAt.IsZero() {
			return fmt.Errorf("linktest: %w", securelink.ErrUsed)
		}
		l.UsedAt = at
		return nil
	})
}

// RevokeSession implements securelink.Store.
func (s *Store) RevokeSession(_ context.Context, session string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, l := range s.links {
		if l.Session == session && l.UsedAt.IsZero() && l.ExpiresAt.After(at) {
			l.ExpiresAt = at
			s.links[k] = l
		}
	}
	return nil
}

// Len returns the number of links stored.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.links)
}
