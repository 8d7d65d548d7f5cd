package waflowstest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/secureflow/secureflow/internal/waflows"
)

// Store is an in-memory waflows.Store, safe for concurrent use. The zero
// Store is ready to use.
type Store struct {
	mu     sync.Mutex
	grants map[string]waflows.Grant
}

var _ waflows.Store = (*Store)(nil)

// NewStore returns an empty Store.
func NewStore() *Store { return &Store{} }

func clone(g waflows.Grant) waflows.Grant {
	g.Hash = slices.Clone(g.Hash)
	g.Fields = slices.Clone(g.Fields)
	for i := range g.Fields {
		if g.Fields[i].Label != nil {
			g.Fields[i].Label = maps.Clone(g.Fields[i].Label)
		}
	}
	return g
}

// Create implements waflows.Store.
func (s *Store) Create(_ context.Context, g waflows.Grant) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.grants == nil {
		s.grants = map[string]waflows.Grant{}
	}
	if _, ok := s.grants[string(g.Hash)]; ok {
		return fmt.Errorf("waflowstest: token %s exists", waflows.TokenID(g.Hash))
	}
	s.grants[string(g.Hash)] = clone(g)
	return nil
}

// ByHash implements waflows.Store.
func (s *Store) ByHash(_ context.Context, hash []byte) (waflows.Grant, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.grants[string(hash)]
	if !ok {
		return waflows.Grant{}, fmt.Errorf("waflowstest: %w", waflows.ErrNotFound)
	}
	return clone(g), nil
}

func (s *Store) update(hash []byte, fn func(*waflows.Grant) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.grants[string(hash)]
	if !ok {
		return fmt.Errorf("waflowstest: %w", waflows.ErrNotFound)
	}
	if err := fn(&g); err != nil {
		return err
	}
	s.grants[string(hash)] = g
	return nil
}

// CountAttempt implements waflows.Store.
func (s *Store) CountAttempt(_ context.Context, hash []byte) (int, error) {
	var n int
	err := s.update(hash, func(g *waflows.Grant) error {
		g.Attempts++
		n = g.Attempts
		return nil
	})
	return n, err
}

// Consume implements waflows.Store.
func (s *Store) Consume(_ context.Context, hash []byte, at time.Time) error {
	return s.update(hash, func(g *waflows.Grant) error {
		if !g.UsedAt.IsZero() {
			return fmt.Errorf("waflowstest: %w", waflows.ErrUsed)
		}
		g.UsedAt = at
		return nil
	})
}

// RevokeSession implements waflows.Store.
func (s *Store) RevokeSession(_ context.Context, session string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, g := range s.grants {
		if g.Session == session && g.UsedAt.IsZero() && g.ExpiresAt.After(at) {
			g.ExpiresAt = at
			s.grants[k] = g
		}
	}
	return nil
}
