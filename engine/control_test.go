package engine_test

import (
	"slices"
	"testing"
)

const controlDoc = `naftiko: 1.0.0-alpha2
info:
  label: Items
capability:
  consumes:
  - type: http
    namespace: api
    baseUri: https://api.example.com
    resources:
    - name: items
      path: /items
      operations:
      - name: list
        method: GET
  exposes:
  - type: rest
    namespace: items
    port: 8080
    resources:
    - path: /items
      operations:
      - method: GET
        call: api.list
  - type: control
    port: 9199
`

// A control block's management and observability switches decide which
// endpoints it serves; what naftiko does not act on is named.
func TestControlBlockSettings(t *testing.T) {
	c := compile(t, controlDoc, "http://127.0.0.1:1")
	cs := c.Control
	if cs == nil || !cs.Health || !cs.Status || !cs.Metrics || cs.Address != "127.0.0.1:9199" || len(cs.Unread) != 0 {
		t.Fatalf("default control block: %+v", cs)
	}
	c = compile(t, controlDoc+`    management:
      health: false
      info: false
      reload: true
    observability:
      enabled: false
      traces:
        sampling: 0.5
`, "http://127.0.0.1:1")
	cs = c.Control
	if cs.Health || cs.Status || cs.Metrics {
		t.Errorf("switched off, still served: %+v", cs)
	}
	if want := []string{"management.reload", "observability.traces"}; !slices.Equal(cs.Unread, want) {
		t.Errorf("unread settings %v, want %v", cs.Unread, want)
	}
}
