// Package ratelimit bounds how fast each caller may send requests: a token
// bucket per caller principal (golang.org/x/time/rate), held for as long as
// the caller is active, so that one agent in a loop cannot take a gateway
// shared by clinicians' tools and other agents.
package ratelimit

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// DefaultMaxCallers bounds the buckets held at once.
const DefaultMaxCallers = 100000

// Limiter holds one bucket per caller. A nil *Limiter allows everything.
type Limiter struct {
	rate  rate.Limit
	burst int
	max   int
	// full is how long an untouched bucket takes to fill: after that it is
	// the same as a new one and can be forgotten.
	full time.Duration

	mu      sync.Mutex
	callers map[string]*bucket
}

type bucket struct {
	lim  *rate.Limiter
	last time.Time
}

// New allows each caller perSecond requests a second on average and burst
// at once (burst < 1: one second's worth, at least 1). perSecond <= 0
// returns nil: no limit.
func New(perSecond float64, burst int) *Limiter {
	if perSecond <= 0 {
		return nil
	}
	if burst < 1 {
		burst = max(1, int(math.Ceil(perSecond)))
	}
	return &Limiter{rate: rate.Limit(perSecond), burst: burst, max: DefaultMaxCallers,
		full:    time.Duration(float64(burst) / perSecond * float64(time.Second)),
		callers: map[string]*bucket{}}
}

// Allow takes a token from caller's bucket. When there is none it returns
// false and how long until there is one.
func (l *Limiter) Allow(caller string) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	now := time.Now()
	l.mu.Lock()
	b := l.callers[caller]
	if b == nil {
		if len(l.callers) >= l.max {
			l.sweep(now)
		}
		b = &bucket{lim: rate.NewLimiter(l.rate, l.burst)}
		if len(l.callers) < l.max {
			l.callers[caller] = b
		}
	}
	b.last = now
	r := b.lim.ReserveN(now, 1)
	l.mu.Unlock()
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// sweep forgets buckets that have refilled: forgetting them changes
// nothing for their callers.
func (l *Limiter) sweep(now time.Time) {
	for k, b := range l.callers {
		if now.Sub(b.last) >= l.full {
			delete(l.callers, k)
		}
	}
}
