package engine

import "github.com/naftiko/naftiko/spec"

// aggregateFunction is a reusable invocation that tools and operations `ref`.
type aggregateFunction struct {
	namespace string
	spec      *spec.AggregateFunction
}

// merge lays the referencing invocation over the function: explicit fields
// of the referrer win, `with` entries of both apply (the referrer's last).
func (f *aggregateFunction) merge(own spec.Invocation) spec.Invocation {
	out := f.spec.Invocation
	out.Ref = ""
	if own.Call != "" {
		out.Call = own.Call
	}
	if len(own.Steps) > 0 {
		out.Steps = own.Steps
	}
	if len(own.Mappings) > 0 {
		out.Mappings = own.Mappings
	}
	if len(own.OutputParameters) > 0 {
		out.OutputParameters = own.OutputParameters
	}
	out.With = append(append(spec.With(nil), f.spec.With...), own.With...)
	return out
}

// hints derives MCP annotations from the function's semantics; hints the
// tool states itself win.
func (f *aggregateFunction) hints(h Hints) Hints {
	sem := f.spec.Semantics
	if sem == nil {
		return h
	}
	t, fl := true, false
	if sem.Safe != nil {
		if h.ReadOnly == nil {
			if *sem.Safe {
				h.ReadOnly = &t
			} else {
				h.ReadOnly = &fl
			}
		}
		if *sem.Safe && h.Destructive == nil {
			h.Destructive = &fl
		}
	}
	if sem.Idempotent != nil && h.Idempotent == nil {
		v := *sem.Idempotent
		h.Idempotent = &v
	}
	return h
}
