package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/naftiko/naftiko/engine"
	"github.com/naftiko/naftiko/engine/openapi"
	"github.com/naftiko/naftiko/spec"
)

const exportUsage = `Usage: naftiko export openapi [--namespace NS] [--out FILE] FILE

Writes the OpenAPI 3.1 description of a capability's REST surface, as
'naftiko run' serves it (the same document every REST block serves at
GET /openapi.json): its routes and their inputs with types, the
problem+json answers, and the inbound authentication. The file is validated
and compiled as 'run' would, without reading the environment: no secret is
needed, and none can appear in the description.

Flags:
`

func runExport(args []string, stdout, stderr io.Writer) int {
	args, ok := subcommand(args, "export", "openapi", "naftiko export openapi FILE", stderr)
	if !ok {
		return exitUsage
	}
	fset := flag.NewFlagSet("export openapi", flag.ContinueOnError)
	out := fset.String("out", "", "write the description to `FILE` (default: standard output)")
	namespace := fset.String("namespace", "", "the REST exposes block to describe, when the file has several")
	server := fset.String("server", "", "the base `URL` clients call (default: the block's address)")
	rest, code, ok := parseCommand(fset, args, exportUsage, stdout, stderr)
	if !ok {
		return code
	}
	if len(rest) != 1 {
		fmt.Fprintf(stderr, "naftiko export openapi: want one capability FILE, got %d arguments\n", len(rest))
		return exitUsage
	}
	path := rest[0]
	docs, v, err := loadFiles([]string{path})
	if err != nil {
		fmt.Fprintf(stderr, "naftiko export openapi: %v\n", unwrapPath(err))
		return exitUsage
	}
	if v.err != nil {
		fmt.Fprintf(stderr, "naftiko export openapi: %v\n", v.err)
		return exitFailed
	}
	if v.diags.HasErrors() {
		for _, d := range v.diags {
			if d.Severity == spec.Error {
				fmt.Fprintln(stderr, d)
			}
		}
		fmt.Fprintf(stderr, "naftiko export openapi: %s is not valid; 'naftiko validate' says more\n", path)
		return exitFailed
	}
	// Every variable is a stand-in: the description holds routes, types and
	// scheme names, never a value, so nothing is read from the environment.
	caps, err := compileAll(docs, engine.Options{
		Env:      func(string) (string, bool) { return "", false },
		Fallback: func(string) (string, bool) { return "naftiko-export", true },
	})
	if err != nil {
		fmt.Fprintf(stderr, "naftiko export openapi: %v\n", err)
		return exitFailed
	}
	var surfaces []*engine.RestSurface
	var names []string
	for _, s := range caps[0].Rest {
		names = append(names, s.Namespace)
		if *namespace == "" || s.Namespace == *namespace {
			surfaces = append(surfaces, s)
		}
	}
	switch {
	case len(names) == 0:
		fmt.Fprintf(stderr, "naftiko export openapi: %s has no REST exposes block\n", path)
		return exitFailed
	case len(surfaces) == 0:
		fmt.Fprintf(stderr, "naftiko export openapi: %s has no REST exposes block %q (it has %s)\n", path, *namespace, strings.Join(names, ", "))
		return exitUsage
	case len(surfaces) > 1:
		fmt.Fprintf(stderr, "naftiko export openapi: %s has %d REST exposes blocks (%s): choose one with --namespace\n", path, len(surfaces), strings.Join(names, ", "))
		return exitUsage
	}
	b, err := openapi.JSON(surfaces[0], openapi.Options{Server: *server})
	if err != nil {
		fmt.Fprintf(stderr, "naftiko export openapi: %v\n", err)
		return exitFailed
	}
	b = append(b, '\n')
	if *out == "" {
		if _, err := stdout.Write(b); err != nil {
			return exitFailed
		}
		return exitOK
	}
	if err := os.WriteFile(*out, b, 0o644); err != nil {
		fmt.Fprintf(stderr, "naftiko export openapi: %v\n", err)
		return exitFailed
	}
	return exitOK
}
