package waflows_test

import (
	"fmt"

	"github.com/secureflow/secureflow/internal/waflows"
)

// A Flow JSON whose complete action would put the password into the
// nfm_reply webhook is rejected.
func ExampleCheckFlowJSON() {
	src := []byte(`{"version":"7.0","data_api_version":"3.0","routing_model":{"FORM":[]},"screens":[{"id":"FORM",
	  "layout":{"type":"SingleColumnLayout","children":[
	    {"type":"TextInput","name":"pw","input-type":"password"},
	    {"type":"Footer","on-click-action":{"name":"complete","payload":{"pw":"${form.pw}"}}}]}}]}`)
	for _, p := range waflows.CheckFlowJSON("reset.json", src, []string{"pw"}) {
		fmt.Println(p)
	}
	// Output:
	// reset.json: screens[0].layout.children[1].on-click-action.payload.pw: complete payload carries form field "pw": it would reach the nfm_reply webhook in clear (whatsapp.md §1.4)
	// reset.json: secret field "pw" is not sent by any data_exchange action
}
