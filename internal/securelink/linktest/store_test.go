package linktest_test

import (
	"testing"

	"github.com/secureflow/secureflow/internal/securelink"
	"github.com/secureflow/secureflow/internal/securelink/linktest"
)

func TestStoreConformance(t *testing.T) {
	linktest.Run(t, func(*testing.T) securelink.Store { return linktest.NewStore() })
}
