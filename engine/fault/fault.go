// Package fault classifies what goes wrong while serving a call, once,
// below both adapters: a Kind, the HTTP status it maps to, whether a retry
// can help, and a detail the caller may be told. The REST adapter renders a
// Fault as an RFC 9457 problem document ([Write]); the MCP adapter renders
// the same Fault as an isError tool result worded for a model. Neither
// decides what a failure is.
//
// A Fault's Detail never quotes internals (addresses, Go errors, stack
// traces) or secrets; its Err keeps the cause for the operator's log, where
// it is redacted before it is written.
package fault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// Kind is a class of failure. Its problem type, title and status are
// stable: clients switch on them.
type Kind int

const (
	// Internal is a failure of the gateway itself.
	Internal Kind = iota
	// Canceled: the caller went away; nobody is left to answer.
	Canceled
	// BadInput: the caller's inputs are missing, malformed or ambiguous.
	// No upstream call was made.
	BadInput
	// NotFound: no route matches.
	NotFound
	// MethodNotAllowed: the route exists, the method does not.
	MethodNotAllowed
	// NotImplemented: the operation has nothing to call.
	NotImplemented
	// Unauthorized: inbound authentication refused the caller.
	Unauthorized
	// Forbidden: the caller lacks a required scope.
	Forbidden
	// AuthServerUnavailable: the authorization server could not be reached
	// to validate a token.
	AuthServerUnavailable
	// UpstreamRejected: the upstream answered 4xx (other than 401). Its
	// status is the answer's status.
	UpstreamRejected
	// UpstreamCredentials: the upstream answered 401 to the gateway's own
	// credentials.
	UpstreamCredentials
	// UpstreamFailed: the upstream answered 5xx.
	UpstreamFailed
	// UpstreamUnreachable: the upstream could not be reached.
	UpstreamUnreachable
	// UpstreamBadResponse: the upstream's answer is not what the capability
	// declares (not JSON, cut short, not mappable).
	UpstreamBadResponse
	// UpstreamTimeout: the upstream did not answer, or stalled while
	// answering, for longer than the timeout.
	UpstreamTimeout
	// UpstreamBusy: the gateway already has as many calls in flight to the
	// upstream as it allows.
	UpstreamBusy
	// TooLarge: the caller's request is larger than the gateway accepts.
	TooLarge
	// RequestTimeout: the caller's request body did not arrive in time.
	RequestTimeout
	// RateLimited: the caller sent more requests than its rate allows.
	RateLimited
	// UpstreamUnavailable: the upstream kept failing, so the gateway stops
	// calling it for a while (its circuit breaker is open); no call was
	// made. RetryAfter says when it tries again.
	UpstreamUnavailable
)

type kindInfo struct {
	slug, title string
	status      int
	retryable   bool
}

var kinds = [...]kindInfo{
	Internal:              {"internal", "Internal error", http.StatusInternalServerError, false},
	Canceled:              {"canceled", "Request canceled", 499, false},
	BadInput:              {"bad-request", "Bad request", http.StatusBadRequest, false},
	NotFound:              {"not-found", "No such route", http.StatusNotFound, false},
	MethodNotAllowed:      {"method-not-allowed", "Method not allowed", http.StatusMethodNotAllowed, false},
	NotImplemented:        {"not-implemented", "Not implemented", http.StatusNotImplemented, false},
	Unauthorized:          {"unauthorized", "Unauthorized", http.StatusUnauthorized, false},
	Forbidden:             {"forbidden", "Forbidden", http.StatusForbidden, false},
	AuthServerUnavailable: {"authorization-server-unavailable", "Authorization server unavailable", http.StatusServiceUnavailable, true},
	UpstreamRejected:      {"upstream-error", "Upstream rejected the request", http.StatusBadRequest, false},
	UpstreamCredentials:   {"upstream-credentials-refused", "Upstream refused credentials", http.StatusBadGateway, false},
	UpstreamFailed:        {"upstream-failed", "Upstream failure", http.StatusBadGateway, true},
	UpstreamUnreachable:   {"upstream-unreachable", "Upstream unreachable", http.StatusBadGateway, true},
	UpstreamBadResponse:   {"upstream-bad-response", "Bad upstream response", http.StatusBadGateway, false},
	UpstreamTimeout:       {"upstream-timeout", "Upstream timeout", http.StatusGatewayTimeout, true},
	UpstreamBusy:          {"upstream-busy", "Too many calls in flight to the upstream", http.StatusServiceUnavailable, true},
	TooLarge:              {"request-too-large", "Request too large", http.StatusRequestEntityTooLarge, false},
	RequestTimeout:        {"request-timeout", "Request timeout", http.StatusRequestTimeout, true},
	RateLimited:           {"rate-limited", "Too many requests", http.StatusTooManyRequests, true},
	UpstreamUnavailable:   {"upstream-unavailable", "Upstream unavailable", http.StatusServiceUnavailable, true},
}

// Slug is the stable last part of the problem type.
func (k Kind) Slug() string { return kinds[k].slug }

// Title is the problem title.
func (k Kind) Title() string { return kinds[k].title }

// Status is the HTTP status the kind answers with.
func (k Kind) Status() int { return kinds[k].status }

// Retryable reports whether the same call may succeed later.
func (k Kind) Retryable() bool { return kinds[k].retryable }

// TypePrefix starts the type of every problem document naftiko writes.
const TypePrefix = "urn:naftiko:problem:"

// Type is the problem type URI.
func (k Kind) Type() string { return TypePrefix + k.Slug() }

// Fault is one classified failure.
type Fault struct {
	Kind Kind
	// Detail says what happened in words the caller may read.
	Detail string
	// UpstreamStatus is the upstream's status when it answered.
	UpstreamStatus int
	// Operation is the consumed operation ("namespace.operation"), Step the
	// orchestration step, when known.
	Operation string
	Step      string
	// RetryAfter is the upstream's Retry-After, passed on.
	RetryAfter string
	// Err is the cause, for the operator's log only.
	Err error
}

// New makes a Fault of kind with a detail for the caller.
func New(kind Kind, format string, args ...any) *Fault {
	return &Fault{Kind: kind, Detail: fmt.Sprintf(format, args...)}
}

// Wrap makes a Fault of kind caused by err.
func Wrap(kind Kind, err error, format string, args ...any) *Fault {
	return &Fault{Kind: kind, Detail: fmt.Sprintf(format, args...), Err: err}
}

func (f *Fault) Error() string {
	msg := f.Kind.Slug() + ": " + f.Detail
	if f.Err != nil {
		msg += ": " + f.Err.Error()
	}
	return msg
}

func (f *Fault) Unwrap() error { return f.Err }

// Status is the HTTP status to answer: the upstream's own for a rejected
// request, else the kind's.
func (f *Fault) Status() int {
	if f.Kind == UpstreamRejected && f.UpstreamStatus >= 400 && f.UpstreamStatus < 500 {
		return f.UpstreamStatus
	}
	return f.Kind.Status()
}

// Is lets errors.Is match Faults by kind: errors.Is(err, &Fault{Kind: k}).
func (f *Fault) Is(target error) bool {
	t, ok := target.(*Fault)
	return ok && t.Kind == f.Kind && t.Detail == "" && t.Err == nil
}

// Of reports whether err is a Fault of kind.
func Of(err error, kind Kind) bool {
	var f *Fault
	return errors.As(err, &f) && f.Kind == kind
}

// Classify finds the Fault in err. A caller that went away is Canceled;
// anything unclassified is Internal, with err kept as the cause.
func Classify(err error) *Fault {
	var f *Fault
	switch {
	case err == nil:
		return nil
	case errors.As(err, &f):
		return f
	case errors.Is(err, context.Canceled):
		return &Fault{Kind: Canceled, Detail: "the caller went away", Err: err}
	}
	return &Fault{Kind: Internal, Detail: "the gateway failed to handle the request", Err: err}
}

// FromUpstream classifies an upstream answer of status >= 400 that the
// gateway does not pass through as it is.
func FromUpstream(status int, h http.Header, operation string) *Fault {
	f := &Fault{UpstreamStatus: status, Operation: operation}
	if h != nil {
		f.RetryAfter = h.Get("Retry-After")
	}
	switch {
	case status == http.StatusUnauthorized:
		f.Kind = UpstreamCredentials
		f.Detail = "the upstream refused the gateway's credentials (401); check the capability's consumes authentication"
	case status >= 500:
		f.Kind = UpstreamFailed
		f.Detail = "the upstream answered " + statusText(status)
	default:
		f.Kind = UpstreamRejected
		f.Detail = "the upstream answered " + statusText(status)
	}
	return f
}

func statusText(status int) string {
	if t := http.StatusText(status); t != "" {
		return fmt.Sprintf("%d %s", status, t)
	}
	return fmt.Sprintf("%d", status)
}

// Problem is an RFC 9457 problem document.
type Problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty"`
}

// Write answers f as application/problem+json. redact (may be nil) is
// applied to the detail. A Canceled fault writes nothing: nobody reads it.
func Write(w http.ResponseWriter, r *http.Request, f *Fault, redact func(string) string) {
	if f.Kind == Canceled {
		return
	}
	detail := f.Detail
	if redact != nil {
		detail = redact(detail)
	}
	p := Problem{Type: f.Kind.Type(), Title: f.Kind.Title(), Status: f.Status(), Detail: detail}
	if r != nil {
		p.Instance = r.URL.Path
	}
	if f.RetryAfter != "" && f.Kind.Retryable() {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	b, _ := json.Marshal(p)
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	w.Write(b)
}
