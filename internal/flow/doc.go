// Package flow is the secure-flow language of secureflow: flows written in
// YAML, their parser, and the linter that proves, before a flow runs, that it
// cannot leak a secret, cannot strand a customer, and follows the rules of
// agent-referred and self-service secure flows. docs/flows.md is the
// language reference; schemas/flow.schema.json describes its structure for
// editors.
//
// The package is pure: it reads flow files only as bytes or through an
// [io/fs.FS] it is given, keeps no global mutable state, and is safe for
// concurrent use. The engine that runs flows is another package; it
// consumes the [*Flow] that [Load] returns.
//
// # Loading
//
// [Parse] decodes a file and checks its structure; [Lint] checks a parsed
// flow's meaning; [LintFile] does both for one file and [LintPaths] for files
// and directories, which is what `secureflow flows lint` prints. [Load] is
// what the gateway calls: it returns a flow only if no rule reports an
// error, with its CEL expressions compiled:
//
//	f, err := flow.Load(name, src, flow.Options{Actions: catalog})
//	if errors.Is(err, flow.ErrInvalidFlow) {
//		// err is an *InvalidFlowError listing every diagnostic.
//	}
//
// Data actions are referred to by name; [Options.Actions] is the catalog of
// the actions a deployment has, with their inputs and outputs
// ([ActionSpec]). [ParseCatalog] reads one from YAML.
//
// # Diagnostics
//
// Every finding is a [Diagnostic] with a file, a line, a column, a [Rule]
// identifier, a [Severity] and a one-line message; findings about paths
// carry the sequence of step ids that demonstrates them. [Diagnostics]
// formats as text, one "file:line:col: severity rule: message" a line, and
// as JSON for CI. [Rules] lists the rules.
//
// # Secrets
//
// Every value a collect step obtains is a secret, and so is every action
// output the flow maps as secret and every value a set step computes from a
// secret. The taint analysis is a data-flow analysis over the step graph and
// the template and CEL syntax trees: a secret may reach a message, a summary,
// a transfer attribute, a session output, a log field, the agent's progress
// line or a public action output only through a masking [Filter] its
// [InputType] allows ({{ card | last4 }}), and may reach a data action only
// whole, as an input the catalog marks secret. CEL expressions may read
// secrets (a switch may branch on one) but never make them public; only
// filters do. The analysis follows explicit data flow; which branch a
// condition over a secret takes is not treated as a disclosure.
//
// At run time [Template.Render] enforces the same rule on the values it is
// given: a [Secret] renders only through a masking filter. [Seal] keeps the
// public forms of a value and forgets the value; [Field.Validate] is the one
// definition of valid input shared by chat, secure-link forms and WhatsApp
// Flows, built on the validators of package detect.
package flow
