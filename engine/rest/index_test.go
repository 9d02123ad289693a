package rest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/naftiko/naftiko/engine"
)

// The index must hand the matcher every route a scan of all routes would
// match, in route order: compared with the plain reading of a route path
// (same number of segments, literals equal, variables non-empty; a last
// `{path}` takes one or more segments) on random routes and paths.
func TestRouteIndexFindsWhatAScanFinds(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	words := []string{"v1", "patient", "Patient", "items", "{id}", "{x}", "a", "%2F", ""}
	var routes []*engine.Route
	for i := range 400 {
		n := 1 + rng.IntN(4)
		segs := make([]string, n)
		for j := range segs {
			segs[j] = words[rng.IntN(len(words))]
		}
		if i%7 == 0 {
			segs[n-1] = "{path}"
		}
		routes = append(routes, &engine.Route{Path: "/" + strings.Join(segs, "/"), Segments: segs, Method: "GET"})
	}
	h := &Handler{routes: routes, index: newRouteIndex(routes)}
	for range 3000 {
		n := 1 + rng.IntN(5)
		segs := make([]string, n)
		for j := range segs {
			segs[j] = words[rng.IntN(len(words))]
		}
		path := "/" + strings.Join(segs, "/")
		var got []string
		for _, m := range h.match(path) {
			got = append(got, fmt.Sprintf("%s%v", m.route.Path, m.values))
		}
		var want []string
		split := strings.Split(strings.Trim(path, "/"), "/")
		for _, r := range routes {
			if values, ok := scanMatch(r.Segments, split); ok {
				want = append(want, fmt.Sprintf("%s%v", r.Path, values))
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%s: index matched %v, a scan %v", path, got, want)
		}
	}
}

func scanMatch(route, segs []string) ([]string, bool) {
	tail := len(route) > 0 && route[len(route)-1] == "{path}"
	if tail {
		if len(segs) < len(route) {
			return nil, false
		}
		segs = append(segs[:len(route)-1:len(route)-1], strings.Join(segs[len(route)-1:], "/"))
	} else if len(segs) != len(route) {
		return nil, false
	}
	var values []string
	for i, want := range route {
		if strings.HasPrefix(want, "{") {
			v := strings.ReplaceAll(segs[i], "%2F", "/")
			if v == "" {
				return nil, false
			}
			values = append(values, v)
		} else if want != segs[i] {
			return nil, false
		}
	}
	return values, true
}
