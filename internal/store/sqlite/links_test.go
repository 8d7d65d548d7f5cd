package sqlite_test

import (
	"context"
	"crypto/sha256"
	"path/filepath"
	"testing"
	"time"

	"github.com/secureflow/secureflow/internal/flow"
	"github.com/secureflow/secureflow/internal/securelink"
	"github.com/secureflow/secureflow/internal/securelink/linktest"
	"github.com/secureflow/secureflow/internal/store/sqlite"
)

func openLinksDB(t *testing.T) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "links.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestLinkStoreConformance(t *testing.T) {
	linktest.Run(t, func(t *testing.T) securelink.Store { return openLinksDB(t).Links() })
}

func TestLinkStoreDeleteExpired(t *testing.T) {
	ctx := context.Background()
	ls := openLinksDB(t).Links()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	mk := func(name string, expires time.Time) securelink.Link {
		h := sha256.Sum256([]byte(name))
		return securelink.Link{Hash: h[:], Session: "s", Step: "card", Locale: "en",
			Fields: []securelink.FieldSpec{{Var: "card", Type: flow.InputCardNumber}}, CreatedAt: t0, ExpiresAt: expires}
	}
	old, live, used := mk("old", t0.Add(time.Minute)), mk("live", t0.Add(time.Hour)), mk("used", t0.Add(time.Hour))
	for _, l := range []securelink.Link{old, live, used} {
		if err := ls.CreateLink(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	if err := ls.Consume(ctx, used.Hash, t0.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	n, err := ls.DeleteExpiredLinks(ctx, t0.Add(10*time.Minute))
	if err != nil || n != 2 {
		t.Fatalf("DeleteExpiredLinks = %d, %v; want 2", n, err)
	}
	if _, err := ls.LinkByHash(ctx, live.Hash); err != nil {
		t.Errorf("live link: %v", err)
	}
}
