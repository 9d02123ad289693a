package telemetry

import (
	"context"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Telemetry is the upstream clients' Observer (engine/upstream): a client
// span and a count per attempt, retries and breaker states.

// StartCall begins one upstream attempt: a client span named for the
// operation (never its URL, which holds path parameters such as a patient
// id).
func (t *Telemetry) StartCall(ctx context.Context, namespace, operation string) (context.Context, func(outcome string, status int, d time.Duration)) {
	if t == nil {
		return ctx, func(string, int, time.Duration) {}
	}
	ctx, span := t.tracer.Start(ctx, "upstream "+operation, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("naftiko.upstream.namespace", namespace), attribute.String("naftiko.upstream.operation", operation)))
	return ctx, func(outcome string, status int, d time.Duration) {
		if t.metrics {
			t.upCalls.WithLabelValues(namespace, outcome).Inc()
			if status > 0 {
				t.upDuration.WithLabelValues(namespace).Observe(d.Seconds())
			}
		}
		if span.IsRecording() {
			span.SetAttributes(attribute.String("naftiko.upstream.outcome", outcome))
			if status > 0 {
				span.SetAttributes(attribute.Int("http.response.status_code", status))
			}
			if outcome != "ok" {
				span.SetStatus(codes.Error, outcome)
			}
		}
		span.End()
	}
}

// Inject writes the trace context of ctx into an upstream request's
// headers: the caller's trace continues at the upstream, whether or not
// naftiko exports its own spans.
func (t *Telemetry) Inject(ctx context.Context, h http.Header) {
	var prop propagation.TextMapPropagator = propagation.TraceContext{}
	if t != nil {
		prop = t.prop
	}
	prop.Inject(ctx, propagation.HeaderCarrier(h))
}

// Retry counts a retried attempt.
func (t *Telemetry) Retry(namespace string) {
	if t == nil || !t.metrics {
		return
	}
	t.retries.WithLabelValues(namespace).Inc()
}

// BreakerState records a namespace's circuit breaker state.
func (t *Telemetry) BreakerState(namespace, state string) {
	if t == nil || !t.metrics {
		return
	}
	v := 0.0
	switch state {
	case "half-open":
		v = 1
	case "open":
		v = 2
	}
	t.breaker.WithLabelValues(namespace).Set(v)
}
