package sandbox

import (
	"math/rand/v2"
)

// rng is the deterministic random source behind all synthetic data.
//
// It wraps a PCG generator and derives every helper from Uint64 itself, so the
// generated data depends only on the (fully specified) PCG algorithm and not
// on how math/rand/v2 happens to implement IntN or NormFloat64 in a given Go
// release. The same seed therefore yields the same bytes on every machine.
type rng struct{ src *rand.PCG }

// newRNG returns a generator for one independent stream of the seed. Streams
// keep the parts of the data set independent: adding a member does not shift
// the random numbers drawn for the directory or for other members.
func newRNG(seed int64, stream uint64) *rng {
	return &rng{src: rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15^stream)}
}

// intn returns a number in [0, n). The modulo bias is irrelevant for n this small.
func (g *rng) intn(n int) int {
	if n <= 0 {
		panic("sandbox: rng.intn called with n <= 0")
	}
	return int(g.src.Uint64() % uint64(n))
}

// between returns a number in [lo, hi].
func (g *rng) between(lo, hi int) int { return lo + g.intn(hi-lo+1) }

// float returns a number in [0, 1).
func (g *rng) float() float64 { return float64(g.src.Uint64()>>11) / (1 << 53) }

// chance reports true with probability p.
func (g *rng) chance(p float64) bool { return g.float() < p }

// around returns a value scattered around mean with roughly the given spread.
// It averages three uniforms (a bell-shaped distribution) instead of calling
// transcendental functions whose last bits may differ between architectures.
func (g *rng) around(mean, spread float64) float64 {
	u := (g.float() + g.float() + g.float()) / 3 // mean 0.5, bell-shaped
	return mean + (u-0.5)*2*spread
}

// digits returns n random decimal digits.
func (g *rng) digits(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + g.intn(10))
	}
	return string(b)
}

// pick returns a random element of xs.
func pick[T any](g *rng, xs []T) T { return xs[g.intn(len(xs))] }
