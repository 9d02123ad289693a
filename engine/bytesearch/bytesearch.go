// Package bytesearch finds short patterns in large bodies at memory speed
// by searching for each pattern's rarest byte rather than its first: JSON
// strings all begin with a quote and tokens often with a common letter, so
// bytes.Index stops at every candidate, while a byte rare in the body is
// skipped over by IndexByte's vector loop. Masking secrets and finding
// upstream links both scan every body that leaves the gateway.
package bytesearch

import "bytes"

// SampleSize is how much of a body Anchors needs to judge which bytes are
// rare in it.
const SampleSize = 4 << 10

// Anchors picks, for each pattern, the index of its byte that is rarest in
// sample (the first bytes of the body; ties: the earliest). An empty
// pattern gets 0.
func Anchors(patterns [][]byte, sample []byte) []int {
	var count [256]int
	for _, c := range sample {
		count[c]++
	}
	out := make([]int, len(patterns))
	for k, p := range patterns {
		for i := range p {
			if count[p[i]] < count[p[out[k]]] {
				out[k] = i
			}
		}
	}
	return out
}

// Index is bytes.Index(b, p), found from p[anchor].
func Index(b, p []byte, anchor int) int {
	if len(p) == 0 {
		return 0
	}
	c := p[anchor]
	for from := anchor; from < len(b); {
		j := bytes.IndexByte(b[from:], c)
		if j < 0 {
			return -1
		}
		start := from + j - anchor
		if start+len(p) > len(b) {
			return -1
		}
		if bytes.Equal(b[start:start+len(p)], p) {
			return start
		}
		from += j + 1
	}
	return -1
}
