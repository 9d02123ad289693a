package spec

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// importPath turns an import `location` into a file path: `file://` URIs and
// plain paths, relative ones resolved against the importing file's folder
// (`file:///./x` is the reference engine's spelling of a relative path).
// remote reports a location with another scheme, which naftiko cannot read.
func importPath(docPath, location string) (path string, remote bool) {
	loc := location
	if rest, ok := strings.CutPrefix(loc, "file://"); ok {
		loc = rest
		if strings.HasPrefix(loc, "/./") || strings.HasPrefix(loc, "/../") {
			loc = loc[1:]
		}
	} else if strings.Contains(loc, "://") {
		return "", true
	}
	if !filepath.IsAbs(loc) {
		loc = filepath.Join(filepath.Dir(docPath), loc)
	}
	return loc, false
}

// LocalPath is the file path a `file://` location (or a plain path) names,
// relative ones resolved against the folder of the document at docPath;
// ok is false for a location of another scheme.
func LocalPath(docPath, location string) (path string, ok bool) {
	p, remote := importPath(docPath, location)
	return p, !remote
}

// ReadLocation reads a file a document names (an import's `location`, a
// bind's `file://` location, a file found in a folder). Only a regular
// file of at most MaxFileSize bytes is read: a location is whatever the
// document says, and a device or a FIFO (`/dev/zero`, `/dev/stdin`) would
// otherwise be read, or waited on, forever. Errors are *os.PathError.
func ReadLocation(path string) ([]byte, error) {
	// Stat before opening: opening a FIFO blocks until someone writes to it.
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, &os.PathError{Op: "read", Path: path, Err: ErrNotRegular}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, &os.PathError{Op: "read", Path: path, Err: err}
	}
	if len(data) > MaxFileSize {
		return nil, &os.PathError{Op: "read", Path: path, Err: ErrTooLarge}
	}
	return data, nil
}

var (
	// ErrNotRegular: ReadLocation reads regular files only.
	ErrNotRegular = errors.New("not a regular file")
	// ErrTooLarge: a file over MaxFileSize.
	ErrTooLarge = fmt.Errorf("larger than %d MiB", MaxFileSize>>20)
)

// ResolveImports returns doc with every imported consumes entry (`import` +
// `location`, optionally `as`) replaced by the consumes block it names in the
// shared file, renamed by `as`. doc itself is not modified (validation may be
// reading it); the copy shares everything but the consumes lists.
func ResolveImports(doc *Document) (*Document, error) {
	out := *doc
	out.Consumes = slices.Clone(doc.Consumes)
	if doc.Capability != nil {
		capCopy := *doc.Capability
		capCopy.Consumes = slices.Clone(doc.Capability.Consumes)
		out.Capability = &capCopy
	}
	cache := map[string]*Document{}
	resolve := func(list []Consumes) error {
		for i := range list {
			cs := &list[i]
			if cs.Location == "" {
				continue
			}
			p, remote := importPath(doc.Path, cs.Location)
			if remote {
				return fmt.Errorf("%s:%s: consumes import %q: naftiko reads imports from files, not %q", doc.Path, cs.At("location"), cs.Import, cs.Location)
			}
			shared, ok := cache[p]
			if !ok {
				data, err := ReadLocation(p)
				if err != nil {
					return fmt.Errorf("%s:%s: consumes import %q: %w", doc.Path, cs.At("location"), cs.Import, err)
				}
				var diags Diagnostics
				if shared, diags = Parse(p, data); shared == nil {
					return fmt.Errorf("%s:%s: consumes import %q: %s", doc.Path, cs.At("location"), cs.Import, diags[0])
				}
				cache[p] = shared
			}
			found := false
			candidates := shared.Consumes
			if shared.Capability != nil {
				candidates = append(candidates[:len(candidates):len(candidates)], shared.Capability.Consumes...)
			}
			for _, entry := range candidates {
				if entry.Namespace != cs.Import || entry.Location != "" {
					continue
				}
				as, pos := cs.As, cs.Src.Pos
				*cs = entry
				cs.Src.Pos = pos // diagnostics point at the import
				if as != "" {
					cs.Namespace = as
				}
				found = true
				break
			}
			if !found {
				return fmt.Errorf("%s:%s: consumes import: %s declares no consumes namespace %q", doc.Path, cs.At("import"), cs.Location, cs.Import)
			}
		}
		return nil
	}
	if err := resolve(out.Consumes); err != nil {
		return nil, err
	}
	if out.Capability != nil {
		if err := resolve(out.Capability.Consumes); err != nil {
			return nil, err
		}
	}
	return &out, nil
}
