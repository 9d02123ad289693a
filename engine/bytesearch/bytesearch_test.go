package bytesearch

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// Index agrees with bytes.Index whatever the anchor.
func TestIndexIsBytesIndex(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte(`ab"-:{}`)
	for range 2000 {
		b := make([]byte, r.IntN(200))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		p := make([]byte, 1+r.IntN(5))
		for i := range p {
			p[i] = alphabet[r.IntN(len(alphabet))]
		}
		for anchor := range p {
			if got, want := Index(b, p, anchor), bytes.Index(b, p); got != want {
				t.Fatalf("Index(%q, %q, %d) = %d, want %d", b, p, anchor, got, want)
			}
		}
	}
	if Index([]byte("abc"), nil, 0) != 0 {
		t.Error("empty pattern")
	}
}

func TestAnchorsPickTheRarestByte(t *testing.T) {
	got := Anchors([][]byte{[]byte(`"https://d/Q`), []byte("")}, []byte(`{"a":"b","c":"https://d"}`))
	if got[0] != 11 || got[1] != 0 {
		t.Errorf("anchors %v, want [11 0] (Q never occurs in the sample)", got)
	}
}

func BenchmarkIndexRareAnchor1MB(b *testing.B) {
	body := bytes.Repeat([]byte(`{"resourceType":"Observation","status":"final","subject":{"reference":"Patient/example"}},`), 1<<20/90)
	p := []byte("bench-token-not-a-secret")
	a := Anchors([][]byte{p}, body[:SampleSize])[0]
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		Index(body, p, a)
	}
}

func BenchmarkBytesIndex1MB(b *testing.B) {
	body := bytes.Repeat([]byte(`{"resourceType":"Observation","status":"final","subject":{"reference":"Patient/example"}},`), 1<<20/90)
	p := []byte("bench-token-not-a-secret")
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		bytes.Index(body, p)
	}
}
