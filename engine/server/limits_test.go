package server

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/netutil"
)

var testLimits = Limits{ReadTimeout: 300 * time.Millisecond, WriteStall: 300 * time.Millisecond}.withDefaults()

// A body that never arrives, or arrives a byte at a time, is cut at
// ReadTimeout; the handler sees a timeout, not a hang.
func TestSlowBodiesAreCut(t *testing.T) {
	errs := make(chan error, 2)
	srv := httptest.NewServer(deadlines(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		errs <- err
	}), testLimits))
	defer srv.Close()
	for name, send := range map[string]func(net.Conn){
		"Content-Length without a body": func(c net.Conn) {},
		"a byte at a time": func(c net.Conn) {
			for i := 0; i < 20; i++ {
				if _, err := c.Write([]byte("x")); err != nil {
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
		},
	} {
		c, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n")
		go send(c)
		select {
		case err := <-errs:
			if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
				t.Errorf("%s: body read ended with %v, want a timeout", name, err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("%s: the body read was not cut", name)
		}
		c.Close()
	}
}

// A client that stops reading is cut at WriteStall; one that keeps reading
// a slow stream, longer than every bound, is not.
func TestWriteStall(t *testing.T) {
	done := make(chan error, 1)
	srv := httptest.NewServer(deadlines(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := []byte(strings.Repeat("x", 64<<10))
		if r.URL.Path == "/slow" {
			for i := 0; i < 12; i++ {
				w.Write([]byte("tick\n"))
				w.(http.Flusher).Flush()
				time.Sleep(100 * time.Millisecond) // 1.2 s in all, 4x the stall
			}
			return
		}
		for {
			if _, err := w.Write(chunk); err != nil {
				done <- err
				return
			}
		}
	}), testLimits))
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/slow")
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || strings.Count(string(b), "tick") != 12 {
		t.Fatalf("a slow healthy stream was cut: %d ticks, %v", strings.Count(string(b), "tick"), err)
	}

	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /flood HTTP/1.1\r\nHost: localhost\r\n\r\n")
	bufio.NewReader(c).Peek(1) // read the first bytes, then nothing more
	select {
	case err := <-done:
		if err == nil {
			t.Error("write ended without error")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a client that stopped reading held the handler")
	}
}

// The connection cap makes one more client wait, not fail, until a
// connection is freed.
func TestConnectionCap(t *testing.T) {
	release, held := make(chan struct{}), make(chan struct{}, 2)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			held <- struct{}{}
			<-release
		}
		io.WriteString(w, "ok")
	})}
	go hs.Serve(netutil.LimitListener(ln, 2))
	defer hs.Close()
	base := "http://" + ln.Addr().String()
	for i := 0; i < 2; i++ {
		go func() {
			tr := &http.Transport{}
			resp, err := (&http.Client{Transport: tr}).Get(base + "/hold")
			if err == nil {
				resp.Body.Close()
			}
		}()
	}
	<-held
	<-held // both connections are accepted and busy
	quick := &http.Client{Transport: &http.Transport{}, Timeout: 300 * time.Millisecond}
	if _, err := quick.Get(base + "/"); err == nil {
		t.Fatal("a third connection was served while two were held")
	}
	close(release)
	later := &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second}
	resp, err := later.Get(base + "/")
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	resp.Body.Close()
}
