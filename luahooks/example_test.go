package luahooks

import (
	"context"
	"fmt"
)

// Example shows the router's side: load the code items from the store, look up the script for
// the request's host, run the phases in order, apply each Outcome, and end the call.
func Example() {
	e := NewEngine(Options{})
	defer e.Close()
	errs := e.Load(map[string][]byte{
		"script.node-dev.example.com": []byte(`if ngx.req.get_method() == "DELETE" then return ngx.exit(403) end
			ngx.req.set_header("X-Via", "slardar")`),
	}, "")
	fmt.Println("load errors:", len(errs))

	for _, method := range []string{"GET", "DELETE"} {
		req := newFakeRequest(method, "/items/1")
		s := e.Script("node-dev.example.com")
		c := s.Begin(req)
		out, err := c.Run(context.Background(), PhaseRewrite)
		switch {
		case err != nil:
			fmt.Println(method, "-> 500:", err)
		case out.Exit != 0:
			fmt.Println(method, "-> answered", out.Exit)
		default:
			via, _ := req.Header("X-Via")
			fmt.Println(method, "-> proxied with X-Via:", via)
		}
		c.End()
	}
	// Output:
	// load errors: 0
	// GET -> proxied with X-Via: slardar
	// DELETE -> answered 403
}
