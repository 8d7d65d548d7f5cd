// Package examples embeds the example flows and their data-action catalog,
// so that `secureflow demo` runs them from any directory.
package examples

import "embed"

// FS holds flows/*.yaml (the example flows) and actions.yaml (the catalog
// of the data actions they call).
//
//go:embed flows/*.yaml actions.yaml
var FS embed.FS
