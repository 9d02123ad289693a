// Package spectest finds what the tests read beside the checkout: the
// folder ../shared holds the real capability files (Cigna's and
// third-party ones), the corpus and the reference fixtures. Tests that
// need it fail without it rather than pass having checked nothing.
package spectest

import (
	"os"
	"path/filepath"
	"testing"
)

// SharedDir is the shared folder beside the module's root, found from the
// test's working directory (its package folder).
func SharedDir(t testing.TB) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root := wd
	for {
		if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(root)
		if parent == root {
			t.Fatalf("no go.mod above %s: not inside the module", wd)
		}
		root = parent
	}
	dir := filepath.Join(filepath.Dir(root), "shared")
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("shared data not found at %s (tests read ../shared beside the checkout): %v", dir, err)
	}
	return dir
}
