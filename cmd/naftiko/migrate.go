package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/naftiko/naftiko/spec"
)

const migrateUsage = `Usage: naftiko migrate --to VERSION [--out FILE] FILE

Rewrites a capability file in another spec version, comments kept:
naftiko 1.0.0-alpha1..alpha3 and ikanos 1.0.0-beta1..beta5 (the format
Naftiko was renamed to: maps keyed by name instead of named lists, display
for label, flows for functions). VERSION is 1.0.0-alpha2, 1.0.0-alpha3, or
an ikanos version (1.0.0-beta5, the newest, also as "latest").

The result is read back before it is written: it must mean exactly what the
file means. What a version cannot say (to ikanos: a list item without a
name, or two of one name, has no key) is refused, naming each item.

Flags:
`

func runMigrate(args []string, stdout, stderr io.Writer) int {
	fset := flag.NewFlagSet("migrate", flag.ContinueOnError)
	to := fset.String("to", "", "the spec `VERSION` to write (required)")
	out := fset.String("out", "", "write to `FILE` (default: standard output; may be FILE itself)")
	rest, code, ok := parseCommand(fset, args, migrateUsage, stdout, stderr)
	if !ok {
		return code
	}
	if len(rest) != 1 || *to == "" {
		fmt.Fprintf(stderr, "naftiko migrate: want --to VERSION and one FILE\n")
		return exitUsage
	}
	target := *to
	if target == "latest" {
		target = spec.IkanosLatest
	}
	toIkanos := slices.Contains(spec.IkanosVersions, target)
	if !toIkanos && target != "1.0.0-alpha2" && target != "1.0.0-alpha3" {
		fmt.Fprintf(stderr, "naftiko migrate: --to %q: want 1.0.0-alpha2, 1.0.0-alpha3, or ikanos %s\n", *to, strings.Join(spec.IkanosVersions, ", "))
		return exitUsage
	}
	path := rest[0]
	data, err := spec.ReadFile(path)
	if err != nil {
		fmt.Fprintf(stderr, "naftiko migrate: %v\n", unwrapPath(err))
		return exitUsage
	}
	// The file must be one naftiko reads: a migration of what cannot run
	// would carry its faults into the other version unseen.
	v, err := spec.NewValidator()
	if err != nil {
		fmt.Fprintf(stderr, "naftiko migrate: %v\n", err)
		return exitFailed
	}
	if diags := v.ValidateBytes(path, data); diags.HasErrors() {
		for _, d := range diags {
			if d.Severity == spec.Error {
				fmt.Fprintln(stderr, d)
			}
		}
		fmt.Fprintf(stderr, "naftiko migrate: %s is not valid; 'naftiko validate' says more\n", path)
		return exitFailed
	}
	var tree yaml.Node
	if err := yaml.Unmarshal(data, &tree); err != nil {
		fmt.Fprintf(stderr, "naftiko migrate: %s: %v\n", path, err)
		return exitFailed
	}
	meaning, err := alpha2Meaning(data)
	if err != nil {
		fmt.Fprintf(stderr, "naftiko migrate: %s: %v\n", path, err)
		return exitFailed
	}
	if _, err := spec.FromIkanos(&tree); err != nil && isIkanos(&tree) {
		fmt.Fprintf(stderr, "naftiko migrate: %s: %v\n", path, err)
		return exitFailed
	}
	// The tree is alpha2 now, whatever it was written in.
	if toIkanos {
		if err := spec.ToIkanos(&tree, target); err != nil {
			fmt.Fprintf(stderr, "naftiko migrate: %s cannot be written as ikanos %s: %v\n", path, target, err)
			return exitFailed
		}
	} else if err := setVersion(&tree, target); err != nil {
		fmt.Fprintf(stderr, "naftiko migrate: %s: %v\n", path, err)
		return exitFailed
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&tree); err != nil {
		fmt.Fprintf(stderr, "naftiko migrate: %v\n", err)
		return exitFailed
	}
	enc.Close()
	// Read back: the migrated file must mean what the original means.
	again, err := alpha2Meaning(buf.Bytes())
	if err != nil || !reflect.DeepEqual(dropVersion(again), dropVersion(meaning)) {
		fmt.Fprintf(stderr, "naftiko migrate: %s: the %s file would not mean what the original means (%v); nothing written — please report it\n", path, target, err)
		return exitFailed
	}
	if *out == "" {
		stdout.Write(buf.Bytes())
		return exitOK
	}
	if err := os.WriteFile(*out, buf.Bytes(), 0o644); err != nil {
		fmt.Fprintf(stderr, "naftiko migrate: %v\n", err)
		return exitFailed
	}
	fmt.Fprintf(stderr, "naftiko migrate: %s -> %s (%s)\n", path, *out, target)
	return exitOK
}

func isIkanos(tree *yaml.Node) bool {
	return tree.Kind == yaml.DocumentNode && len(tree.Content) > 0 && hasTopKey(tree.Content[0], "ikanos")
}

func hasTopKey(m *yaml.Node, key string) bool {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return true
		}
	}
	return false
}

func setVersion(tree *yaml.Node, version string) error {
	top := tree.Content[0]
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value == "naftiko" {
			top.Content[i+1].Value, top.Content[i+1].Style = version, yaml.DoubleQuotedStyle
			return nil
		}
	}
	return fmt.Errorf("no top-level `naftiko:` key")
}

// alpha2Meaning is what a file says, as plain data in the alpha2 shape:
// the tree naftiko reads (an ikanos one rewritten), decoded.
func alpha2Meaning(data []byte) (any, error) {
	var tree yaml.Node
	if err := yaml.Unmarshal(data, &tree); err != nil {
		return nil, err
	}
	if isIkanos(&tree) {
		if _, err := spec.FromIkanos(&tree); err != nil {
			return nil, err
		}
	}
	var v any
	if err := tree.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

func dropVersion(v any) any {
	if m, ok := v.(map[string]any); ok {
		c := make(map[string]any, len(m))
		for k, x := range m {
			if k != "naftiko" {
				c[k] = x
			}
		}
		return c
	}
	return v
}
