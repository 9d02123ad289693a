package sandbox

import (
	"net/http"
	"regexp"
	"slices"
	"testing"
)

// TestReferencesResolve fetches every resource the sandbox serves and
// resolves every reference in it with a GET against the server.
func TestReferencesResolve(t *testing.T) {
	e := newEnv(t)
	refs := map[string]string{} // reference -> where it was found
	collect := func(en entry) {
		walkRefs(t, en.Resource, func(r string) {
			if _, ok := refs[r]; !ok {
				refs[r] = en.FullURL
			}
		})
	}
	for _, id := range e.s.MemberIDs() {
		for _, en := range e.everything(id).Entry {
			collect(en)
		}
	}
	for _, typ := range append(publicTypes, "Group") {
		entries, _ := e.collect("/" + typ + "?_count=1000")
		for _, en := range entries {
			collect(en)
		}
	}
	literal := regexp.MustCompile(`^[A-Z][A-Za-z]+/[A-Za-z0-9\-.]{1,64}$`)
	keys := make([]string, 0, len(refs))
	for r := range refs {
		keys = append(keys, r)
	}
	slices.Sort(keys)
	for _, r := range keys {
		if !literal.MatchString(r) {
			t.Errorf("reference %q in %s is not a relative literal reference", r, refs[r])
			continue
		}
		if resp, _ := e.do(http.MethodGet, "/"+r, e.s.Token()); resp.StatusCode != http.StatusOK {
			t.Errorf("reference %s in %s does not resolve: %d", r, refs[r], resp.StatusCode)
		}
	}
	if len(keys) < 1000 {
		t.Errorf("only %d distinct references found", len(keys))
	}
	t.Logf("resolved %d distinct references", len(keys))
}
