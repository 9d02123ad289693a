package paging

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/itchyny/gojq"
)

// Limits on one narrowing expression: a caller's program must not spin or
// flood the gateway.
const (
	selectTimeout  = 2 * time.Second // per page
	maxSelectItems = 10_000          // values one item may become
)

// Selector is a compiled jq expression (github.com/itchyny/gojq) that
// narrows each item: `select(.resource.resourceType == "Observation")` keeps
// some items, `.resource.code` shows part of each. The program sees only
// the item: `env` and `$ENV` are empty, there are no inputs.
type Selector struct{ code *gojq.Code }

// Select compiles expr.
func Select(expr string) (*Selector, error) {
	q, err := gojq.Parse(expr)
	if err != nil {
		return nil, fmt.Errorf("not a jq expression: %v", err)
	}
	code, err := gojq.Compile(q, gojq.WithEnvironLoader(func() []string { return nil }))
	if err != nil {
		return nil, fmt.Errorf("not a jq expression: %v", err)
	}
	return &Selector{code: code}, nil
}

// Timeout is how long one page's narrowing may take.
const Timeout = selectTimeout

// Narrow applies the expression to items while ctx lasts (give it the
// page's deadline).
func (s *Selector) Narrow(ctx context.Context) Narrow {
	code := s.code
	return func(item json.RawMessage) ([]json.RawMessage, error) {
		var v any
		if err := json.Unmarshal(item, &v); err != nil {
			return nil, err
		}
		var out []json.RawMessage
		iter := code.RunWithContext(ctx, v)
		for {
			r, ok := iter.Next()
			if !ok {
				break
			}
			if err, isErr := r.(error); isErr {
				var halt *gojq.HaltError
				if errors.As(err, &halt) && halt.Value() == nil {
					break
				}
				if errors.Is(err, context.DeadlineExceeded) {
					return nil, fmt.Errorf("the expression ran longer than %v", selectTimeout)
				}
				return nil, fmt.Errorf("the expression failed on an item: %v", err)
			}
			b, err := json.Marshal(r)
			if err != nil {
				return nil, fmt.Errorf("the expression made a value that is not JSON: %v", err)
			}
			if out = append(out, b); len(out) > maxSelectItems {
				return nil, fmt.Errorf("the expression made more than %d values of one item", maxSelectItems)
			}
		}
		return out, nil
	}
}
