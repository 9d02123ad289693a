package upstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/naftiko/naftiko/engine/fault"
)

// Resilience toward the upstream: a call that may be repeated (GET, HEAD,
// OPTIONS, or marked with WithIdempotent, and without a body) is retried
// when its upstream could not be reached or answered 502, 503, 504 or 429,
// with jittered exponential backoff that honours Retry-After, all within
// the call's budget; and a circuit breaker per namespace stops calling an
// upstream that keeps failing, for a while, so it can recover.

// Defaults for ClientOptions' resilience settings.
const (
	DefaultRetries          = 2
	DefaultRetryBackoffBase = 100 * time.Millisecond
	DefaultRetryBackoffMax  = 2 * time.Second
	DefaultBreakerFailures  = 5
	DefaultBreakerOpen      = 10 * time.Second
)

// retryDrainLimit bounds what is read of an answer that is retried, so its
// connection goes back to the pool; a longer body costs a connection.
const retryDrainLimit = 64 << 10

type idempotentKey struct{}

// WithIdempotent marks the calls made with ctx as safe to repeat whatever
// their method (a tool hinted idempotent): they are retried as GETs are. A
// request with a body is never retried.
func WithIdempotent(ctx context.Context) context.Context {
	return context.WithValue(ctx, idempotentKey{}, true)
}

// repeatable reports whether req may be sent again: an idempotent method,
// or a call marked WithIdempotent, and no body that a retry would lack.
func repeatable(ctx context.Context, req *http.Request) bool {
	if req.Body != nil && req.Body != http.NoBody {
		return false
	}
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return true
	}
	marked, _ := ctx.Value(idempotentKey{}).(bool)
	return marked
}

// retryableStatus: answers that say "not now" rather than "no".
func retryableStatus(status int) bool {
	switch status {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout, http.StatusTooManyRequests:
		return true
	}
	return false
}

// connectionError reports whether err is the transport's (no connection,
// or one that broke before the answer's headers), not the gateway's own
// refusal (an OAuth2 token endpoint that refused the credentials).
func connectionError(err error) bool {
	var ue *url.Error
	return errors.As(err, &ue)
}

// parseRetryAfter reads a Retry-After value, delay-seconds or an HTTP
// date, as a wait from now (0 for a date past).
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseUint(v, 10, 32); err == nil {
		return time.Duration(n) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}

// retryPolicy is a client's retry settings: at most max retries, waiting
// a random time up to base*2^n, capped at cap (full jitter).
type retryPolicy struct {
	max       int
	base, cap time.Duration
}

func newRetryPolicy(retries int, backoffMax time.Duration) retryPolicy {
	switch {
	case retries == 0:
		retries = DefaultRetries
	case retries < 0:
		retries = 0
	}
	if backoffMax <= 0 {
		backoffMax = DefaultRetryBackoffMax
	}
	return retryPolicy{max: retries, base: min(DefaultRetryBackoffBase, backoffMax), cap: backoffMax}
}

// backoff is the wait before retry n (0 for the first).
func (p retryPolicy) backoff(n int) time.Duration {
	ceiling := p.cap
	if n < 30 {
		ceiling = min(p.base<<n, p.cap)
	}
	if ceiling <= 0 {
		return 0
	}
	return rand.N(ceiling + 1)
}

// delay is how long to wait before retry n of an answer (resp nil: no
// connection), or false when the answer is to be passed on: its
// Retry-After asks for longer than the backoff cap or than the time left
// until deadline, or the wait would not end before it.
func (p retryPolicy) delay(n int, resp *http.Response, deadline time.Time) (time.Duration, bool) {
	now := time.Now()
	left := deadline.Sub(now)
	d := p.backoff(n)
	if resp != nil {
		if ra, ok := parseRetryAfter(resp.Header.Get("Retry-After"), now); ok {
			if ra > p.cap || ra >= left {
				return 0, false
			}
			d = ra
		}
	}
	if d >= left {
		return 0, false
	}
	return d, true
}

// discard drains (boundedly) and closes a body that will not be read, so
// its connection can be reused.
func discard(body io.ReadCloser) {
	io.Copy(io.Discard, io.LimitReader(body, retryDrainLimit))
	body.Close()
}

// sleep waits d, or until ctx ends (false).
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Verdicts an attempt gives the circuit breaker.
var (
	errAttemptFailed  = errors.New("upstream attempt failed")  // a failure of the upstream
	errAttemptIgnored = errors.New("upstream attempt ignored") // neither failure nor success
)

// breaker is a namespace's circuit breaker. Failures are attempts that got
// no answer (no connection, a timeout) or a 5xx; 429 counts neither way
// (the upstream is alive and shedding load, often per caller: its
// Retry-After is passed on, and one busy caller must not cut everyone
// off); a caller that went away counts neither way; anything else is a
// success. After `failures` consecutive failures the breaker opens: calls
// fail fast with UpstreamUnavailable for `open`, then one probe goes
// through (half-open) and its verdict closes or reopens the breaker.
type breaker struct {
	namespace string
	open      time.Duration
	cb        *gobreaker.TwoStepCircuitBreaker[struct{}]
	openedAt  atomic.Int64 // unix nanoseconds of the last opening
}

// newBreaker returns nil when failures < 0 (no breaker).
func newBreaker(namespace string, failures int, open time.Duration, obs Observer) *breaker {
	if failures < 0 {
		return nil
	}
	if failures == 0 {
		failures = DefaultBreakerFailures
	}
	if open <= 0 {
		open = DefaultBreakerOpen
	}
	b := &breaker{namespace: namespace, open: open}
	b.cb = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        namespace,
		MaxRequests: 1,
		Timeout:     open,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= uint32(failures) },
		IsExcluded:  func(err error) bool { return errors.Is(err, errAttemptIgnored) },
		OnStateChange: func(_ string, _, to gobreaker.State) {
			if to == gobreaker.StateOpen {
				b.openedAt.Store(time.Now().UnixNano())
			}
			obs.BreakerState(namespace, stateName(to))
		},
	})
	obs.BreakerState(namespace, "closed")
	return b
}

func stateName(s gobreaker.State) string {
	switch s {
	case gobreaker.StateOpen:
		return "open"
	case gobreaker.StateHalfOpen:
		return "half-open"
	}
	return "closed"
}

// allow asks the breaker for an attempt. done records the attempt's
// verdict (nil, errAttemptFailed or errAttemptIgnored) and must be called
// once. A refusal is an UpstreamUnavailable fault for operation.
func (b *breaker) allow(operation string) (done func(error), refused *fault.Fault) {
	if b == nil {
		return func(error) {}, nil
	}
	done, err := b.cb.Allow()
	if err == nil {
		return done, nil
	}
	if errors.Is(err, gobreaker.ErrTooManyRequests) {
		// Half-open, its probe still in flight.
		return nil, &fault.Fault{Kind: fault.UpstreamUnavailable, RetryAfter: "1", Operation: operation, Err: err,
			Detail: fmt.Sprintf("the %s upstream has been failing and the gateway is trying it again with one call; retry in 1 s", b.namespace)}
	}
	left := b.open - time.Since(time.Unix(0, b.openedAt.Load()))
	secs := max(int((left+time.Second-1)/time.Second), 1)
	return nil, &fault.Fault{Kind: fault.UpstreamUnavailable, RetryAfter: strconv.Itoa(secs), Operation: operation, Err: err,
		Detail: fmt.Sprintf("the %s upstream is failing; the gateway stops calling it for %d s; retry after that", b.namespace, secs)}
}

// verdict is what an answer of status tells the breaker.
func verdict(status int) error {
	switch {
	case status == http.StatusTooManyRequests:
		return errAttemptIgnored
	case status >= 500:
		return errAttemptFailed
	}
	return nil
}
