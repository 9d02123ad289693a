// Package telemetry measures what the gateway serves and what it asks of
// its upstreams, for both surfaces at once: Prometheus metrics on a registry
// of its own, OpenTelemetry spans carrying the W3C trace context from
// callers to upstreams, and a request id on every request, log line and
// audit line.
//
// Labels and span attributes are chosen for health data: an exposes block,
// a route template or tool name, a consumes namespace, a status class, an
// outcome. Never a path, a query, a patient id or a principal: metrics stay
// low in cardinality and traces carry no PHI.
//
// Metrics are recorded only when something can read them (an admin
// listener or a control block: Options.Metrics); spans are exported only
// when the standard OTEL_* environment asks for an exporter. Trace context
// and request ids flow either way: they cost a header or two.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Options configure Telemetry.
type Options struct {
	// Metrics records Prometheus metrics (something serves them).
	Metrics bool
	// Version is naftiko's version, for naftiko_build_info and the trace
	// resource.
	Version string
	// Getenv reads the OTEL_* environment; nil reads nothing, so no spans
	// are exported.
	Getenv func(string) string
}

// Telemetry is the process's metrics registry and tracer. The zero value is
// not usable; a nil *Telemetry records nothing and passes trace context on.
type Telemetry struct {
	metrics bool
	reg     *prometheus.Registry

	requests   *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	inFlight   *prometheus.GaugeVec
	bytesOut   *prometheus.CounterVec
	upCalls    *prometheus.CounterVec
	upDuration *prometheus.HistogramVec
	retries    *prometheus.CounterVec
	breaker    *prometheus.GaugeVec
	limited    *prometheus.CounterVec

	tracer    trace.Tracer
	exporting bool
	prop      propagation.TextMapPropagator
	shutdown  func(context.Context) error
}

// New builds Telemetry. It fails only when the OTEL_* environment asks for
// something naftiko cannot do (an exporter or protocol it does not have).
func New(ctx context.Context, opts Options) (*Telemetry, error) {
	t := &Telemetry{metrics: opts.Metrics, reg: prometheus.NewRegistry(),
		prop:     propagation.TraceContext{},
		tracer:   noop.NewTracerProvider().Tracer(""),
		shutdown: func(context.Context) error { return nil }}
	t.register(opts.Version)
	tp, err := tracerProvider(ctx, opts)
	if err != nil {
		return nil, err
	}
	if tp != nil {
		t.tracer, t.exporting, t.shutdown = tp.Tracer("github.com/naftiko/naftiko"), true, tp.Shutdown
	}
	return t, nil
}

// Buckets of request and upstream latency: from a cached answer (a few
// milliseconds) to a large record streamed over a slow link (a minute).
var latencyBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

func (t *Telemetry) register(version string) {
	t.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "naftiko_requests_total",
		Help: "Requests served, by surface (rest, mcp), exposes block, target (route template or tool; none before one is known), status class and outcome."},
		[]string{"surface", "exposes", "target", "code", "outcome"})
	t.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "naftiko_request_duration_seconds",
		Help: "Time from a request's arrival to the end of its answer, by surface, exposes block and target.", Buckets: latencyBuckets},
		[]string{"surface", "exposes", "target"})
	t.inFlight = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "naftiko_requests_in_flight",
		Help: "Requests being served, by surface and exposes block."}, []string{"surface", "exposes"})
	t.bytesOut = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "naftiko_response_bytes_total",
		Help: "Bytes of response bodies written to callers, by surface and exposes block."}, []string{"surface", "exposes"})
	t.upCalls = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "naftiko_upstream_calls_total",
		Help: "Upstream call attempts, by consumes namespace and outcome (ok, rejected: 429, failed: 5xx, unreachable, timeout, busy and open: refused by the gateway, canceled)."},
		[]string{"namespace", "outcome"})
	t.upDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "naftiko_upstream_duration_seconds",
		Help: "Time from sending an upstream request to its response headers, by consumes namespace.", Buckets: latencyBuckets},
		[]string{"namespace"})
	t.retries = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "naftiko_upstream_retries_total",
		Help: "Upstream attempts that were retries of an idempotent call, by consumes namespace."}, []string{"namespace"})
	t.breaker = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "naftiko_upstream_breaker_state",
		Help: "Circuit breaker state per consumes namespace: 0 closed, 1 half-open, 2 open."}, []string{"namespace"})
	t.limited = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "naftiko_rate_limited_total",
		Help: "Requests refused with 429 because their caller exceeded its rate, by surface and exposes block."}, []string{"surface", "exposes"})
	info := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "naftiko_build_info",
		Help: "Always 1; the version label says which naftiko runs."}, []string{"version"})
	info.WithLabelValues(version).Set(1)
	t.reg.MustRegister(t.requests, t.duration, t.inFlight, t.bytesOut, t.upCalls, t.upDuration,
		t.retries, t.breaker, t.limited, info,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
}

// tracerProvider reads the standard OTEL_* variables: spans are exported
// over OTLP/HTTP when an endpoint is given (OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) or OTEL_TRACES_EXPORTER=otlp, and not
// at all when OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none. The
// exporter and the SDK read the rest of the environment themselves
// (headers, timeouts, sampler, resource attributes).
func tracerProvider(ctx context.Context, opts Options) (*sdktrace.TracerProvider, error) {
	env := opts.Getenv
	if env == nil {
		return nil, nil
	}
	if v, _ := strconv.ParseBool(env("OTEL_SDK_DISABLED")); v {
		return nil, nil
	}
	exporter := env("OTEL_TRACES_EXPORTER")
	switch exporter {
	case "none":
		return nil, nil
	case "", "otlp":
	default:
		return nil, fmt.Errorf("OTEL_TRACES_EXPORTER=%q: naftiko exports traces over otlp only (or none)", exporter)
	}
	if exporter == "" && env("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" {
		return nil, nil
	}
	proto := env("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
	if proto == "" {
		proto = env("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	if proto != "" && proto != "http/protobuf" {
		return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL=%q: naftiko exports traces over http/protobuf only", proto)
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("OTLP trace exporter: %w", err)
	}
	// Schemaless, so that merging never conflicts with the SDK's schema
	// version; resource.Default reads OTEL_SERVICE_NAME and
	// OTEL_RESOURCE_ATTRIBUTES, which win over our defaults.
	ours := []attribute.KeyValue{attribute.String("service.name", "naftiko"), attribute.String("service.version", opts.Version)}
	res, err := resource.Merge(resource.NewSchemaless(ours...), resource.Default())
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("trace resource: %w", err)
	}
	if env("OTEL_SERVICE_NAME") == "" {
		// resource.Default names the service "unknown_service:<binary>".
		res, _ = resource.Merge(res, resource.NewSchemaless(ours[0]))
	}
	return sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res)), nil
}

// MetricsHandler serves the registry in the Prometheus text format.
func (t *Telemetry) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(t.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Exporting reports whether spans are exported.
func (t *Telemetry) Exporting() bool { return t != nil && t.exporting }

// Shutdown flushes spans not yet exported.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	return t.shutdown(ctx)
}

// RateLimited counts a request refused for its caller's rate.
func (t *Telemetry) RateLimited(surface, exposes string) {
	if t == nil || !t.metrics {
		return
	}
	t.limited.WithLabelValues(surface, exposes).Inc()
}

func codeClass(status int) string {
	switch {
	case status >= 500:
		return "5xx"
	case status >= 400:
		return "4xx"
	case status >= 300:
		return "3xx"
	case status >= 200:
		return "2xx"
	}
	return "1xx"
}

func since(start time.Time) float64 { return time.Since(start).Seconds() }
