package flow_test

import (
	"fmt"
	"os"
	"time"

	"github.com/secureflow/secureflow/internal/flow"
)

func ExampleLintFile() {
	src := []byte(`id: greet
mode: self_service
channels: [open_messaging]
steps:
  - id: ask
    type: collect
    capture: chat
    fields:
      - {var: code, type: otp}
    prompt: "Your code?"
    next: thanks
    on_failure: bye
  - id: thanks
    type: say
    text: "Thanks, {{ code }} received."
    next: bye
  - id: bye
    type: disconnect
`)
	ds := flow.LintFile("greet.yaml", src, flow.Options{})
	_ = ds.WriteText(os.Stdout)
	fmt.Println("exit status", ds.ExitCode())
	// Output:
	// greet.yaml:15:23: error taint: secret code (otp collected at step ask) reaches the message of step thanks unmasked (path ask → thanks): use a masking filter, as in {{ code | mask }}
	// exit status 1
}

func ExampleTemplate_Render() {
	tpl, err := flow.ParseTemplate("Pay {{ amount }} with the {{ card | brand }} card ending in {{ card | last4 }}?")
	if err != nil {
		panic(err)
	}
	field := &flow.Field{Var: "card", Type: flow.InputCardNumber}
	pan, err := field.Validate("4111 1111 1111 1111", time.Now())
	if err != nil {
		panic(err)
	}
	vars := flow.Vars{
		"amount": "BRL 49.90",
		// Seal keeps the masked forms of the card and forgets the number.
		"card": flow.Seal(flow.InputCardNumber, pan),
	}
	out, err := tpl.Render(vars)
	fmt.Println(out, err)

	unmasked, _ := flow.ParseTemplate("Card {{ card }}")
	_, err = unmasked.Render(vars)
	fmt.Println(err)
	// Output:
	// Pay BRL 49.90 with the visa card ending in 1111? <nil>
	// flow: secret without a masking filter: {{ card }}
}
