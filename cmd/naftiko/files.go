package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/naftiko/naftiko/spec"
)

// capabilityFiles expands the paths `run` and `validate` are given into
// capability files. A file named explicitly is always taken (even a FIFO:
// `<(generate)` is a choice); in a folder, recursively and past hidden
// folders, the regular *.yaml and *.yml files with a top-level `naftiko:`
// key, sorted. Each file is listed once.
func capabilityFiles(paths []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("cannot read %s: %v", p, unwrapPath(err))
		}
		if !info.IsDir() {
			add(p)
			continue
		}
		var found []string
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return fmt.Errorf("cannot read %s: %v", path, unwrapPath(err))
			}
			if d.IsDir() {
				if path != p && strings.HasPrefix(d.Name(), ".") {
					return filepath.SkipDir
				}
				return nil
			}
			if ext := strings.ToLower(filepath.Ext(path)); ext != ".yaml" && ext != ".yml" {
				return nil
			}
			// Whatever lies in the folder: a FIFO or a device named *.yaml is
			// passed over, not waited on; a huge file is read no further
			// than the limit, and loading it says it is too large.
			data, err := spec.ReadLocation(path)
			switch {
			case errors.Is(err, spec.ErrNotRegular):
				return nil
			case errors.Is(err, spec.ErrTooLarge):
				found = append(found, path)
				return nil
			case err != nil:
				return fmt.Errorf("cannot read %s: %v", path, unwrapPath(err))
			}
			if spec.IsCapability(data) {
				found = append(found, path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("%s holds no capability files (*.yaml or *.yml with a top-level naftiko: key)", p)
		}
		sort.Strings(found)
		for _, f := range found {
			add(f)
		}
	}
	return out, nil
}

// unwrapPath drops the path an *fs.PathError repeats: messages name it once.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
