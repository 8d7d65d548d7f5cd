package waflowstest_test

import (
	"testing"

	"github.com/secureflow/secureflow/internal/waflows"
	"github.com/secureflow/secureflow/internal/waflows/waflowstest"
)

func TestStoreConformance(t *testing.T) {
	waflowstest.Run(t, func(*testing.T) waflows.Store { return waflowstest.NewStore() })
}
