package upstream

import (
	"context"
	"net/http"
	"time"
)

// Observer is told what happens to upstream calls, for metrics and traces.
// Its methods run on the call's goroutine and must be cheap; a nil Observer
// in ClientOptions observes nothing.
type Observer interface {
	// StartCall begins one attempt of a call to namespace (operation is
	// "namespace.operation"). It returns the context the attempt's request
	// is built with (carrying its span) and a function that ends the
	// attempt with its outcome (see Outcome*), the upstream's status (0
	// when none arrived) and the time to response headers.
	StartCall(ctx context.Context, namespace, operation string) (context.Context, func(outcome string, status int, d time.Duration))
	// Inject writes the trace context of ctx into an upstream request's
	// headers (W3C traceparent).
	Inject(ctx context.Context, h http.Header)
	// Retry counts a retried attempt.
	Retry(namespace string)
	// BreakerState reports the namespace's circuit breaker state
	// ("closed", "half-open", "open") whenever it changes.
	BreakerState(namespace, state string)
}

// Outcomes of an upstream attempt, as observers see them.
const (
	OutcomeOK          = "ok"          // any answer below 500 but 429
	OutcomeRejected    = "rejected"    // 429
	OutcomeFailed      = "failed"      // 5xx
	OutcomeUnreachable = "unreachable" // no connection, or it broke before headers
	OutcomeTimeout     = "timeout"     // no headers within the timeout
	OutcomeBusy        = "busy"        // refused here: concurrency bound
	OutcomeOpen        = "open"        // refused here: circuit breaker open
	OutcomeCanceled    = "canceled"    // the caller went away
)

// OutcomeOf reads an upstream status as an outcome.
func OutcomeOf(status int) string {
	switch {
	case status == http.StatusTooManyRequests:
		return OutcomeRejected
	case status >= 500:
		return OutcomeFailed
	}
	return OutcomeOK
}

type nopObserver struct{}

func (nopObserver) StartCall(ctx context.Context, _, _ string) (context.Context, func(string, int, time.Duration)) {
	return ctx, func(string, int, time.Duration) {}
}
func (nopObserver) Inject(context.Context, http.Header) {}
func (nopObserver) Retry(string)                        {}
func (nopObserver) BreakerState(string, string)         {}
