package main

import (
	"testing"

	"github.com/naftiko/naftiko/spec"
)

// The size scenario's capability must stay a valid file of n routes and n
// tools as the spec and its rules change, or the scenario measures a
// refusal.
func TestSizeCapabilityIsValid(t *testing.T) {
	v, err := spec.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, 10, 250} {
		data := sizeCapability(n)
		if errs := v.ValidateBytes("size.yaml", data).Errors(); len(errs) > 0 {
			t.Fatalf("%d operations: %v", n, errs)
		}
		doc, _ := spec.Parse("size.yaml", data)
		ex := doc.Capability.Exposes
		if len(ex) != 2 || len(ex[0].RestResources) != n || len(ex[1].Tools) != n || len(doc.Capability.Consumes[0].Resources) != n {
			t.Fatalf("%d operations: the file does not have %d routes, tools and consumed resources", n, n)
		}
	}
}
