package telemetry

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/naftiko/naftiko/engine/audit"
)

// RequestIDHeader carries a request's id: taken from the caller when it is
// a plain token, made otherwise, and always answered.
const RequestIDHeader = "X-Request-Id"

type requestIDKey struct{}

// RequestID is the id of the request ctx serves, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// WithRequestID returns ctx carrying id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// NewRequestID makes a request id: 16 random hex digits.
func NewRequestID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// validRequestID accepts what a load balancer or client library would send
// (a UUID, a hex or base64url token) and nothing that could smuggle a
// second value into logs: 1 to 128 of [A-Za-z0-9._:-].
func validRequestID(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}

// FromHeader returns ctx with the trace context and request id that
// Middleware stamped on a request's headers. MCP tool handlers use it: the
// go-sdk hands them the HTTP request's headers, not its context.
func FromHeader(ctx context.Context, h http.Header) context.Context {
	if h == nil {
		return ctx
	}
	ctx = propagation.TraceContext{}.Extract(ctx, propagation.HeaderCarrier(h))
	if id := h.Get(RequestIDHeader); validRequestID(id) {
		ctx = WithRequestID(ctx, id)
	}
	return ctx
}

// TraceID is the trace id of ctx's span, or "".
func TraceID(ctx context.Context) string {
	if sc := trace.SpanContextFromContext(ctx); sc.HasTraceID() {
		return sc.TraceID().String()
	}
	return ""
}

// Middleware measures every request to next, served by the exposes block
// exposes of surface (rest or mcp): a request id, a server span continuing
// the caller's trace, and, with metrics on, counts, latency, bytes and the
// requests in flight. It runs inside the audit middleware, whose entry
// names the route or tool once the adapter has served the request; the
// entry gets the request and trace ids.
//
// The request's own traceparent and X-Request-Id headers are replaced by
// the gateway's, so what an adapter reads from headers (MCP tool handlers
// do) is the server span's context and an id the gateway vouches for.
func (t *Telemetry) Middleware(surface, exposes string, next http.Handler) http.Handler {
	var prop propagation.TextMapPropagator = propagation.TraceContext{}
	var tracer trace.Tracer
	metrics := false
	if t != nil {
		prop, tracer, metrics = t.prop, t.tracer, t.metrics
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get(RequestIDHeader)
		if !validRequestID(id) {
			id = NewRequestID()
			r.Header.Set(RequestIDHeader, id)
		}
		w.Header().Set(RequestIDHeader, id)
		ctx := prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		var span trace.Span
		if tracer != nil {
			ctx, span = tracer.Start(ctx, surface+" "+exposes, trace.WithSpanKind(trace.SpanKindServer))
			r.Header.Del("Traceparent")
			r.Header.Del("Tracestate")
			prop.Inject(ctx, propagation.HeaderCarrier(r.Header))
		}
		ctx = WithRequestID(ctx, id)
		entry := audit.FromContext(ctx)
		entry.Update(func(e *audit.Entry) { e.RequestID, e.TraceID = id, TraceID(ctx) })
		r = r.WithContext(ctx)
		if !metrics && (span == nil || !span.IsRecording()) {
			next.ServeHTTP(w, r)
			if span != nil {
				span.End()
			}
			return
		}
		if metrics {
			g := t.inFlight.WithLabelValues(surface, exposes)
			g.Inc()
			defer g.Dec()
		}
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		target, outcome := "none", "ok"
		var route, tool string
		entry.Update(func(e *audit.Entry) { route, tool, outcome = e.Route, e.Tool, e.Outcome })
		switch {
		case tool != "":
			target = tool
		case route != "":
			target = route
		}
		switch {
		case outcome == "ok" || outcome == "error":
		case outcome != "":
			outcome = "refused"
		case rec.status >= 400:
			outcome = "error"
		default:
			outcome = "ok"
		}
		if metrics {
			t.requests.WithLabelValues(surface, exposes, target, codeClass(rec.status), outcome).Inc()
			t.duration.WithLabelValues(surface, exposes, target).Observe(since(start))
			t.bytesOut.WithLabelValues(surface, exposes).Add(float64(rec.bytes))
		}
		if span != nil && span.IsRecording() {
			if target != "none" {
				span.SetName(surface + " " + target)
			}
			span.SetAttributes(attribute.String("naftiko.surface", surface), attribute.String("naftiko.exposes", exposes),
				attribute.String("naftiko.target", target), attribute.String("naftiko.outcome", outcome),
				attribute.Int("http.response.status_code", rec.status))
			if rec.status >= 500 || outcome == "error" {
				span.SetStatus(codes.Error, outcome)
			}
		}
		if span != nil {
			span.End()
		}
	})
}

// recorder remembers the status and counts the body bytes written, and
// keeps Flush and http.ResponseController working for streamed answers.
type recorder struct {
	http.ResponseWriter
	status int
	wrote  bool
	bytes  int64
}

func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	r.wrote = true
	n, err := r.ResponseWriter.Write(p)
	r.bytes += int64(n)
	return n, err
}

func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
