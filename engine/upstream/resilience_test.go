package upstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/naftiko/naftiko/engine/fault"
	"github.com/naftiko/naftiko/spec"
)

// attempt is what the observer saw of one attempt.
type attempt struct {
	operation, outcome string
	status             int
}

// watcher is an Observer that records everything it is told.
type watcher struct {
	mu       sync.Mutex
	attempts []attempt
	open     int // attempts started and not ended
	retries  int
	states   []string
}

func (w *watcher) StartCall(ctx context.Context, namespace, operation string) (context.Context, func(string, int, time.Duration)) {
	w.mu.Lock()
	w.open++
	n := len(w.attempts) + w.open
	w.mu.Unlock()
	ctx = context.WithValue(ctx, watcherKey{}, n)
	var once sync.Once
	return ctx, func(outcome string, status int, _ time.Duration) {
		once.Do(func() {
			w.mu.Lock()
			defer w.mu.Unlock()
			w.open--
			w.attempts = append(w.attempts, attempt{operation, outcome, status})
		})
	}
}

type watcherKey struct{}

// Inject stamps the attempt's number, so the upstream shows which attempt
// carried which context.
func (w *watcher) Inject(ctx context.Context, h http.Header) {
	if n, ok := ctx.Value(watcherKey{}).(int); ok {
		h.Set("X-Attempt", strconv.Itoa(n))
	}
}

func (w *watcher) Retry(string) {
	w.mu.Lock()
	w.retries++
	w.mu.Unlock()
}

func (w *watcher) BreakerState(_, state string) {
	w.mu.Lock()
	w.states = append(w.states, state)
	w.mu.Unlock()
}

func (w *watcher) seen() ([]attempt, int, []string, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]attempt(nil), w.attempts...), w.retries, append([]string(nil), w.states...), w.open
}

func (w *watcher) outcomes() []string {
	a, _, _, _ := w.seen()
	var out []string
	for _, x := range a {
		out = append(out, x.outcome)
	}
	return out
}

// flaky is an upstream that answers each request with the next of its
// answers (the last one repeats), and counts requests.
type flaky struct {
	*httptest.Server
	mu      sync.Mutex
	answers []func(w http.ResponseWriter, r *http.Request)
	calls   int
	remotes []string
	headers []http.Header
}

func newFlaky(t *testing.T, answers ...func(w http.ResponseWriter, r *http.Request)) *flaky {
	f := &flaky{answers: answers}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		f.mu.Lock()
		answer := f.answers[min(f.calls, len(f.answers)-1)]
		f.calls++
		f.remotes = append(f.remotes, r.RemoteAddr)
		f.headers = append(f.headers, r.Header.Clone())
		f.mu.Unlock()
		answer(w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *flaky) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// set replaces the answers and the count.
func (f *flaky) set(answers ...func(w http.ResponseWriter, r *http.Request)) {
	f.mu.Lock()
	f.answers, f.calls = answers, 0
	f.mu.Unlock()
}

func status(code int, header ...string) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"status":%d}`, code)
	}
}

var ok200 = status(200)

// resilientOp compiles one operation of method (with a JSON body when
// body) against base, with opts and the watcher as observer.
func resilientOp(t *testing.T, method string, body bool, base string, opts ClientOptions) (*Operation, *watcher) {
	t.Helper()
	b := ""
	if body {
		b = "\n        body: {type: json, data: {name: fixed}}"
	}
	doc, diags := spec.Parse("test.yaml", []byte(`naftiko: 1.0.0-alpha2
capability:
  consumes:
  - type: http
    namespace: api
    baseUri: https://example.invalid
    resources:
    - name: r
      path: /r
      operations:
      - name: op
        method: `+method+b+`
`))
	if doc == nil || diags.HasErrors() {
		t.Fatalf("parse: %v", diags)
	}
	w := &watcher{}
	opts.BaseURL, opts.Observer = base, w
	if opts.Timeout == 0 {
		opts.Timeout = 5 * time.Second
	}
	cs := &doc.Capability.Consumes[0]
	cl, err := NewClient(cs, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	return compileFirst(t, cl, cs, nil, nil), w
}

// do calls op and reads the answer whole.
func do(ctx context.Context, op *Operation) (*http.Response, string, error) {
	resp, err := op.Do(ctx, nil)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, string(b), err
}

func equal(a, b []string) bool {
	return fmt.Sprint(a) == fmt.Sprint(b)
}

// A GET answered 503 is retried, on the same connection (the first answer
// drained), and the observer sees both attempts, each with the context it
// started, and one retry.
func TestRetryGETAfter503(t *testing.T) {
	up := newFlaky(t, status(503), ok200)
	op, w := resilientOp(t, "GET", false, up.URL, ClientOptions{})
	resp, body, err := do(context.Background(), op)
	if err != nil || resp.StatusCode != 200 || body != `{"status":200}` {
		t.Fatalf("%v %v %q", resp, err, body)
	}
	if up.count() != 2 {
		t.Fatalf("upstream saw %d calls, want 2", up.count())
	}
	if up.remotes[0] != up.remotes[1] {
		t.Errorf("the retry used a new connection (%s, then %s): the first answer was not drained", up.remotes[0], up.remotes[1])
	}
	if a, b := up.headers[0].Get("X-Attempt"), up.headers[1].Get("X-Attempt"); a == "" || b == "" || a == b {
		t.Errorf("attempts carried X-Attempt %q and %q: want each its own context injected", a, b)
	}
	attempts, retries, _, open := w.seen()
	want := []attempt{{"api.op", OutcomeFailed, 503}, {"api.op", OutcomeOK, 200}}
	if fmt.Sprint(attempts) != fmt.Sprint(want) || retries != 1 || open != 0 {
		t.Errorf("observer saw %v, %d retries, %d unended; want %v, 1 retry", attempts, retries, open, want)
	}
}

// The statuses retried are 502, 503, 504 and 429; others are answers.
func TestRetriedStatuses(t *testing.T) {
	for _, c := range []struct {
		status int
		calls  int
	}{{502, 2}, {503, 2}, {504, 2}, {429, 2}, {500, 1}, {501, 1}, {404, 1}, {401, 1}} {
		up := newFlaky(t, status(c.status), ok200)
		op, _ := resilientOp(t, "GET", false, up.URL, ClientOptions{})
		if _, _, err := do(context.Background(), op); err != nil {
			t.Fatal(err)
		}
		if up.count() != c.calls {
			t.Errorf("%d: upstream saw %d calls, want %d", c.status, up.count(), c.calls)
		}
	}
}

// An upstream that keeps answering 503 gets 1 + Retries attempts, and the
// last answer is passed on; Retries -1 means one attempt.
func TestRetriesAreBounded(t *testing.T) {
	up := newFlaky(t, status(503))
	op, w := resilientOp(t, "GET", false, up.URL, ClientOptions{})
	resp, _, err := do(context.Background(), op)
	if err != nil || resp.StatusCode != 503 || up.count() != 1+DefaultRetries {
		t.Fatalf("%v %v, %d calls, want the 503 after %d", resp, err, up.count(), 1+DefaultRetries)
	}
	if _, retries, _, _ := w.seen(); retries != DefaultRetries {
		t.Errorf("%d retries counted", retries)
	}
	up.set(status(503))
	op, _ = resilientOp(t, "GET", false, up.URL, ClientOptions{Retries: -1})
	if resp, _, err := do(context.Background(), op); err != nil || resp.StatusCode != 503 || up.count() != 1 {
		t.Fatalf("Retries -1: %v %v, %d calls", resp, err, up.count())
	}
	up.set(status(503))
	op, _ = resilientOp(t, "GET", false, up.URL, ClientOptions{Retries: 4})
	if resp, _, err := do(context.Background(), op); err != nil || resp.StatusCode != 503 || up.count() != 5 {
		t.Fatalf("Retries 4: %v %v, %d calls", resp, err, up.count())
	}
}

// A POST (with a body or not) is never retried; a call marked
// WithIdempotent without a body is, whatever its method.
func TestOnlyRepeatableCallsAreRetried(t *testing.T) {
	for _, c := range []struct {
		method     string
		body, mark bool
		calls      int
	}{
		{"POST", true, false, 1},
		{"POST", false, false, 1},
		{"POST", true, true, 1}, // a body is never sent twice
		{"DELETE", false, false, 1},
		{"DELETE", false, true, 2},
		{"HEAD", false, false, 2},
		{"OPTIONS", false, false, 2},
	} {
		up := newFlaky(t, status(503), ok200)
		op, w := resilientOp(t, c.method, c.body, up.URL, ClientOptions{})
		ctx := context.Background()
		if c.mark {
			ctx = WithIdempotent(ctx)
		}
		resp, _, err := do(ctx, op)
		if err != nil {
			t.Fatal(err)
		}
		if up.count() != c.calls {
			t.Errorf("%s body=%v idempotent=%v: upstream saw %d calls, want %d", c.method, c.body, c.mark, up.count(), c.calls)
		}
		if c.calls == 1 && resp.StatusCode != 503 {
			t.Errorf("%s: %d, want the upstream's 503 passed on", c.method, resp.StatusCode)
		}
		if _, retries, _, _ := w.seen(); retries != c.calls-1 {
			t.Errorf("%s: %d retries counted", c.method, retries)
		}
	}
}

// A Retry-After the budget and the backoff cap allow is waited; a longer
// one is the answer, passed on with its Retry-After.
func TestRetryAfter(t *testing.T) {
	up := newFlaky(t, status(503, "Retry-After", "1"), ok200)
	op, _ := resilientOp(t, "GET", false, up.URL, ClientOptions{})
	start := time.Now()
	resp, _, err := do(context.Background(), op)
	if err != nil || resp.StatusCode != 200 || up.count() != 2 {
		t.Fatalf("%v %v, %d calls", resp, err, up.count())
	}
	if took := time.Since(start); took < time.Second {
		t.Errorf("retried after %s, before the upstream's Retry-After: 1", took)
	}

	// Longer than the backoff cap (2 s): passed on at once.
	up = newFlaky(t, status(503, "Retry-After", "5"), ok200)
	op, _ = resilientOp(t, "GET", false, up.URL, ClientOptions{})
	start = time.Now()
	resp, _, err = do(context.Background(), op)
	if err != nil || resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "5" || up.count() != 1 {
		t.Fatalf("Retry-After 5: %v %v, %d calls; want the 503 with its Retry-After", resp, err, up.count())
	}
	if took := time.Since(start); took > 500*time.Millisecond {
		t.Errorf("a Retry-After not honoured was waited for anyway: %s", took)
	}

	// Within the cap, but longer than the call's budget: passed on.
	up = newFlaky(t, status(429, "Retry-After", "2"), ok200)
	op, _ = resilientOp(t, "GET", false, up.URL, ClientOptions{Timeout: time.Second, RetryBackoffMax: 5 * time.Second})
	resp, _, err = do(context.Background(), op)
	if err != nil || resp.StatusCode != 429 || up.count() != 1 {
		t.Fatalf("Retry-After over the budget: %v %v, %d calls", resp, err, up.count())
	}

	// An HTTP date.
	date := time.Now().Add(5 * time.Second).UTC().Format(http.TimeFormat)
	up = newFlaky(t, status(503, "Retry-After", date), ok200)
	op, _ = resilientOp(t, "GET", false, up.URL, ClientOptions{})
	if resp, _, err = do(context.Background(), op); err != nil || resp.StatusCode != 503 || up.count() != 1 {
		t.Fatalf("Retry-After as a date 5 s away: %v %v, %d calls", resp, err, up.count())
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, c := range []struct {
		v    string
		want time.Duration
		ok   bool
	}{
		{"0", 0, true},
		{" 3 ", 3 * time.Second, true},
		{now.Add(10 * time.Second).Format(http.TimeFormat), 10 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{"", 0, false},
		{"-1", 0, false},
		{"soon", 0, false},
		{"1.5", 0, false},
	} {
		got, ok := parseRetryAfter(c.v, now)
		if got != c.want || ok != c.ok {
			t.Errorf("%q: %s %v, want %s %v", c.v, got, ok, c.want, c.ok)
		}
	}
}

// Full jitter: every wait is within [0, min(cap, base*2^n)].
func TestBackoffIsJitteredAndCapped(t *testing.T) {
	p := newRetryPolicy(0, 0)
	if p.max != DefaultRetries || p.base != DefaultRetryBackoffBase || p.cap != DefaultRetryBackoffMax {
		t.Fatalf("defaults %+v", p)
	}
	for n := 0; n < 40; n++ {
		ceiling := min(p.base<<min(n, 29), p.cap)
		distinct := map[time.Duration]bool{}
		for i := 0; i < 50; i++ {
			d := p.backoff(n)
			if d < 0 || d > ceiling {
				t.Fatalf("backoff(%d) = %s, want within [0, %s]", n, d, ceiling)
			}
			distinct[d] = true
		}
		if len(distinct) < 10 {
			t.Errorf("backoff(%d) is not jittered: %d distinct values in 50", n, len(distinct))
		}
	}
	if p := newRetryPolicy(-1, 0); p.max != 0 {
		t.Errorf("Retries -1: %d retries", p.max)
	}
}

// Attempts and waits together stay within the timeout: an upstream that
// always answers 503 gets as many attempts as fit, and the call ends
// within its budget.
func TestRetriesStayWithinTheBudget(t *testing.T) {
	up := newFlaky(t, status(503))
	op, _ := resilientOp(t, "GET", false, up.URL, ClientOptions{Timeout: 400 * time.Millisecond, Retries: 1000,
		RetryBackoffMax: 300 * time.Millisecond, BreakerFailures: -1})
	start := time.Now()
	resp, err := op.Do(context.Background(), nil)
	took := time.Since(start)
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != 503 {
			t.Errorf("status %d", resp.StatusCode)
		}
	} else if !fault.Of(err, fault.UpstreamTimeout) {
		t.Errorf("err = %v, want the 503 or upstream-timeout", err)
	}
	if took > 400*time.Millisecond+150*time.Millisecond {
		t.Errorf("the call took %s, over its 400 ms budget", took)
	}
	if n := up.count(); n < 2 || n > 100 {
		t.Errorf("%d attempts", n)
	}

	// The caller's deadline is a budget too.
	up = newFlaky(t, status(503))
	op, _ = resilientOp(t, "GET", false, up.URL, ClientOptions{Retries: 1000, RetryBackoffMax: 300 * time.Millisecond, BreakerFailures: -1})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start = time.Now()
	if resp, err := op.Do(ctx, nil); err == nil {
		resp.Body.Close()
	}
	if took := time.Since(start); took > 300*time.Millisecond+150*time.Millisecond {
		t.Errorf("the call took %s, past the caller's 300 ms deadline", took)
	}
}

// A caller that goes away during a wait ends the call at once.
func TestRetryWaitEndsWithTheCaller(t *testing.T) {
	arrived := make(chan struct{}, 4)
	up := newFlaky(t, func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		status(503, "Retry-After", "2")(w, r)
	})
	op, w := resilientOp(t, "GET", false, up.URL, ClientOptions{Timeout: 10 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-arrived; cancel() }()
	start := time.Now()
	_, err := op.Do(ctx, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want the caller's cancellation", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("a cancelled call waited %s", took)
	}
	if up.count() != 1 {
		t.Errorf("%d calls", up.count())
	}
	if _, _, _, open := w.seen(); open != 0 {
		t.Errorf("%d attempts never ended", open)
	}
}

// hangUp is an upstream that closes every connection at once, counting
// them.
func hangUp(t *testing.T) (string, *atomic.Int32) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var n atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			c.Close()
		}
	}()
	return "http://" + ln.Addr().String(), &n
}

// No connection is retried; the gateway's own timeout is not.
func TestConnectionErrorsRetriedTimeoutsNot(t *testing.T) {
	base, conns := hangUp(t)
	op, w := resilientOp(t, "GET", false, base, ClientOptions{})
	if _, _, err := do(context.Background(), op); !fault.Of(err, fault.UpstreamUnreachable) {
		t.Fatalf("err = %v, want upstream-unreachable", err)
	}
	if conns.Load() != 1+DefaultRetries {
		t.Errorf("%d connections, want %d", conns.Load(), 1+DefaultRetries)
	}
	if got := w.outcomes(); !equal(got, []string{OutcomeUnreachable, OutcomeUnreachable, OutcomeUnreachable}) {
		t.Errorf("outcomes %v", got)
	}

	hang := make(chan struct{})
	t.Cleanup(func() { close(hang) })
	up := newFlaky(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	})
	op, w = resilientOp(t, "GET", false, up.URL, ClientOptions{Timeout: 200 * time.Millisecond})
	if _, _, err := do(context.Background(), op); !fault.Of(err, fault.UpstreamTimeout) {
		t.Fatalf("err = %v, want upstream-timeout", err)
	}
	if up.count() != 1 {
		t.Errorf("a timed-out call was retried: %d calls", up.count())
	}
	if got := w.outcomes(); !equal(got, []string{OutcomeTimeout}) {
		t.Errorf("outcomes %v", got)
	}
}

// The call keeps its concurrency slot while it waits to retry.
func TestRetryKeepsTheSlot(t *testing.T) {
	arrived := make(chan struct{}, 4)
	up := newFlaky(t, func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		status(503, "Retry-After", "1")(w, r)
	}, ok200)
	op, w := resilientOp(t, "GET", false, up.URL, ClientOptions{MaxConcurrent: 1, QueueWait: 50 * time.Millisecond})
	first := make(chan error, 1)
	go func() {
		_, _, err := do(context.Background(), op)
		first <- err
	}()
	<-arrived // the first call now waits a second to retry
	if _, err := op.Do(context.Background(), nil); !fault.Of(err, fault.UpstreamBusy) {
		t.Errorf("a second call during the first one's wait: %v, want upstream-busy", err)
	}
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if got := w.outcomes(); !equal(got, []string{OutcomeFailed, OutcomeBusy, OutcomeOK}) {
		t.Errorf("outcomes %v", got)
	}
}

// Consecutive failures open the breaker: calls then fail fast, with no
// upstream call, upstream-unavailable with a Retry-After; after the open
// period one probe goes through, and its success closes the breaker.
func TestBreakerOpensAndRecovers(t *testing.T) {
	up := newFlaky(t, status(500))
	op, w := resilientOp(t, "GET", false, up.URL, ClientOptions{BreakerFailures: 3, BreakerOpen: 1500 * time.Millisecond})
	for i := 0; i < 3; i++ {
		if resp, _, err := do(context.Background(), op); err != nil || resp.StatusCode != 500 {
			t.Fatalf("call %d: %v %v", i, resp, err)
		}
	}
	for i := 0; i < 3; i++ {
		_, err := op.Do(context.Background(), nil)
		var f *fault.Fault
		if !errors.As(err, &f) || f.Kind != fault.UpstreamUnavailable || f.Status() != 503 || !f.Kind.Retryable() {
			t.Fatalf("call while open: %v, want upstream-unavailable", err)
		}
		if f.RetryAfter != "2" && f.RetryAfter != "1" {
			t.Errorf("Retry-After %q, want the seconds until half-open (1 or 2)", f.RetryAfter)
		}
		if f.Operation != "api.op" || f.Detail == "" {
			t.Errorf("fault %+v", f)
		}
	}
	if up.count() != 3 {
		t.Fatalf("upstream saw %d calls, want 3: none while open", up.count())
	}
	up.set(ok200)
	time.Sleep(1500 * time.Millisecond) // the open period
	if resp, _, err := do(context.Background(), op); err != nil || resp.StatusCode != 200 {
		t.Fatalf("probe: %v %v", resp, err)
	}
	if resp, _, err := do(context.Background(), op); err != nil || resp.StatusCode != 200 {
		t.Fatalf("after the probe: %v %v", resp, err)
	}
	_, _, states, _ := w.seen()
	if !equal(states, []string{"closed", "open", "half-open", "closed"}) {
		t.Errorf("states %v", states)
	}
	want := []string{OutcomeFailed, OutcomeFailed, OutcomeFailed, OutcomeOpen, OutcomeOpen, OutcomeOpen, OutcomeOK, OutcomeOK}
	if got := w.outcomes(); !equal(got, want) {
		t.Errorf("outcomes %v, want %v", got, want)
	}
}

// A failed probe opens the breaker again; while the probe is in flight,
// other calls are refused.
func TestBreakerProbe(t *testing.T) {
	up := newFlaky(t, status(503))
	op, w := resilientOp(t, "GET", false, up.URL, ClientOptions{Retries: -1, BreakerFailures: 2, BreakerOpen: 300 * time.Millisecond})
	for i := 0; i < 2; i++ {
		do(context.Background(), op)
	}
	if _, err := op.Do(context.Background(), nil); !fault.Of(err, fault.UpstreamUnavailable) {
		t.Fatalf("open: %v", err)
	}
	time.Sleep(300 * time.Millisecond) // the open period
	if resp, _, err := do(context.Background(), op); err != nil || resp.StatusCode != 503 {
		t.Fatalf("failed probe: %v %v", resp, err)
	}
	if _, err := op.Do(context.Background(), nil); !fault.Of(err, fault.UpstreamUnavailable) {
		t.Fatalf("after a failed probe: %v, want open again", err)
	}
	if up.count() != 3 {
		t.Errorf("%d upstream calls, want 3", up.count())
	}

	arrived, proceed := make(chan struct{}, 1), make(chan struct{})
	up.set(func(w http.ResponseWriter, r *http.Request) {
		select {
		case arrived <- struct{}{}:
		default:
		}
		<-proceed
		ok200(w, r)
	})
	time.Sleep(300 * time.Millisecond) // the open period
	probe := make(chan error, 1)
	go func() {
		_, _, err := do(context.Background(), op)
		probe <- err
	}()
	<-arrived
	_, err := op.Do(context.Background(), nil)
	var f *fault.Fault
	if !errors.As(err, &f) || f.Kind != fault.UpstreamUnavailable || f.RetryAfter != "1" {
		t.Errorf("a call during the probe: %v, want upstream-unavailable, Retry-After 1", err)
	}
	close(proceed)
	if err := <-probe; err != nil {
		t.Fatal(err)
	}
	if _, _, err := do(context.Background(), op); err != nil {
		t.Fatalf("after a good probe: %v", err)
	}
	_, _, states, _ := w.seen()
	if !equal(states, []string{"closed", "open", "half-open", "open", "half-open", "closed"}) {
		t.Errorf("states %v", states)
	}
}

// What is not the upstream failing never opens the breaker: 4xx, 429, a
// caller that went away; and with BreakerFailures -1 nothing does.
func TestBreakerCountsOnlyUpstreamFailures(t *testing.T) {
	for _, code := range []int{400, 404, 429} {
		up := newFlaky(t, status(code))
		op, w := resilientOp(t, "GET", false, up.URL, ClientOptions{Retries: -1, BreakerFailures: 2})
		for i := 0; i < 5; i++ {
			if resp, _, err := do(context.Background(), op); err != nil || resp.StatusCode != code {
				t.Fatalf("%d, call %d: %v %v", code, i, resp, err)
			}
		}
		if _, _, states, _ := w.seen(); !equal(states, []string{"closed"}) {
			t.Errorf("%d: states %v", code, states)
		}
	}

	// 429 neither fails nor succeeds: a breaker one failure from opening
	// stays so.
	up := newFlaky(t, status(500), status(429), status(500), ok200)
	op, w := resilientOp(t, "GET", false, up.URL, ClientOptions{Retries: -1, BreakerFailures: 2})
	for i := 0; i < 3; i++ {
		do(context.Background(), op)
	}
	if _, err := op.Do(context.Background(), nil); !fault.Of(err, fault.UpstreamUnavailable) {
		t.Errorf("500, 429, 500: %v, want the breaker open", err)
	}
	if got := w.outcomes(); !equal(got, []string{OutcomeFailed, OutcomeRejected, OutcomeFailed, OutcomeOpen}) {
		t.Errorf("outcomes %v", got)
	}

	arrived := make(chan struct{}, 8)
	hang := make(chan struct{})
	t.Cleanup(func() { close(hang) })
	up = newFlaky(t, func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	})
	op, w = resilientOp(t, "GET", false, up.URL, ClientOptions{BreakerFailures: 2})
	for i := 0; i < 3; i++ {
		ctx, cancel := context.WithCancel(context.Background())
		go func() { <-arrived; cancel() }()
		if _, err := op.Do(ctx, nil); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
	}
	if _, _, states, _ := w.seen(); !equal(states, []string{"closed"}) {
		t.Errorf("cancelled calls: states %v", states)
	}
	if got := w.outcomes(); !equal(got, []string{OutcomeCanceled, OutcomeCanceled, OutcomeCanceled}) {
		t.Errorf("outcomes %v", got)
	}

	up2 := newFlaky(t, status(500))
	op, w = resilientOp(t, "GET", false, up2.URL, ClientOptions{BreakerFailures: -1})
	for i := 0; i < 10; i++ {
		if resp, _, err := do(context.Background(), op); err != nil || resp.StatusCode != 500 {
			t.Fatalf("no breaker, call %d: %v %v", i, resp, err)
		}
	}
	if _, _, states, _ := w.seen(); len(states) != 0 {
		t.Errorf("no breaker reported %v", states)
	}
}

// Every attempt of a retried call counts toward the breaker; an open
// breaker stops the retries.
func TestBreakerStopsRetries(t *testing.T) {
	up := newFlaky(t, status(503))
	op, w := resilientOp(t, "GET", false, up.URL, ClientOptions{Retries: 5, BreakerFailures: 2})
	_, err := op.Do(context.Background(), nil)
	if !fault.Of(err, fault.UpstreamUnavailable) {
		t.Fatalf("err = %v, want upstream-unavailable once the breaker opened", err)
	}
	if up.count() != 2 {
		t.Errorf("%d upstream calls, want 2", up.count())
	}
	if got := w.outcomes(); !equal(got, []string{OutcomeFailed, OutcomeFailed, OutcomeOpen}) {
		t.Errorf("outcomes %v", got)
	}
}
