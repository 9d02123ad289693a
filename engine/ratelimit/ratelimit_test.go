package ratelimit

import (
	"fmt"
	"testing"
	"time"
)

func TestBurstThenRefusalPerCaller(t *testing.T) {
	l := New(1, 3)
	for i := range 3 {
		if ok, _ := l.Allow("alice"); !ok {
			t.Fatalf("request %d within the burst refused", i)
		}
	}
	ok, wait := l.Allow("alice")
	if ok || wait <= 0 || wait > time.Second {
		t.Fatalf("fourth request: allowed %v, wait %v; want refused with a wait of at most 1s", ok, wait)
	}
	if ok, _ := l.Allow("bob"); !ok {
		t.Fatal("another caller is limited by alice's requests")
	}
	// A refusal takes no token: the caller is not punished for asking.
	time.Sleep(wait)
	if ok, _ := l.Allow("alice"); !ok {
		t.Fatal("after the announced wait the caller is still refused")
	}
}

func TestNoLimit(t *testing.T) {
	var l *Limiter = New(0, 0)
	if l != nil {
		t.Fatal("rate 0 makes a limiter")
	}
	if ok, _ := l.Allow("x"); !ok {
		t.Fatal("a nil limiter refuses")
	}
}

func TestRefilledBucketsAreForgotten(t *testing.T) {
	l := New(1000, 1) // refills in 1 ms
	l.max = 10
	for i := range 10 {
		l.Allow(fmt.Sprint("caller", i))
	}
	time.Sleep(5 * time.Millisecond)
	l.Allow("newcomer")
	if n := len(l.callers); n != 1 {
		t.Fatalf("%d buckets held after a sweep, want only the newcomer's", n)
	}
}
