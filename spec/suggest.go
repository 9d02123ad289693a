package spec

import "strings"

// suggest returns the candidate closest to name by edit distance, when it is
// close enough to be a likely typo ("" otherwise). A case-only difference is
// always close.
// Suggest returns the candidate closest to name, for a "did you mean", or
// "" when none is close.
func Suggest(name string, candidates []string) string { return suggest(name, candidates) }

func suggest(name string, candidates []string) string {
	best, bestD := "", -1
	limit := max(1, min(3, len(name)/3))
	lname := strings.ToLower(name)
	for _, c := range candidates {
		if c == name {
			continue
		}
		lc := strings.ToLower(c)
		d := editDistance(lname, lc)
		if d > limit && !affix(lname, lc) {
			continue
		}
		if bestD < 0 || d < bestD || (d == bestD && c < best) {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b (bytes).
func editDistance(a, b string) int {
	if a == b {
		return 0
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// affix reports whether one name extends the other by a separated word
// (`youtube-data` and `youtube-data-api`).
func affix(a, b string) bool {
	if len(a) > len(b) {
		a, b = b, a
	}
	if len(a) < 4 {
		return false
	}
	if rest, ok := strings.CutPrefix(b, a); ok && strings.ContainsAny(rest[:1], "-_.") {
		return true
	}
	if rest, ok := strings.CutSuffix(b, a); ok && strings.ContainsAny(rest[len(rest)-1:], "-_.") {
		return true
	}
	return false
}
