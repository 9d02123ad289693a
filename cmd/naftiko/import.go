package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/naftiko/naftiko/spec"
	"github.com/naftiko/naftiko/spec/fromopenapi"
)

const importUsage = `Usage: naftiko import openapi [flags] SPEC

Writes a capability file from the OpenAPI description (3.0, 3.1, or
Swagger 2.0; YAML or JSON) of the API it consumes: one consumes block with
the servers and security scheme, one consumed operation per OpenAPI
operation, and a REST route and an MCP tool for each. The file is checked as
'naftiko validate' checks it before it is written; what the description says
that a capability cannot is printed, and listed in the file's header.

Flags:
`

func runImport(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	args, ok := subcommand(args, "import", "openapi", "naftiko import openapi SPEC", stderr)
	if !ok {
		return exitUsage
	}
	fset := flag.NewFlagSet("import openapi", flag.ContinueOnError)
	out := fset.String("out", "", "write the capability to `FILE` (default: standard output)")
	namespace := fset.String("namespace", "", "`NAME` of the consumes block (default: from info.title); the exposes blocks add -rest and -mcp")
	baseURL := fset.String("base-url", "", "the upstream's base `URL` (default: the description's first absolute server)")
	prefix := fset.String("prefix", "", "`PATH` every REST route starts with (default: /v<major> of info.version; \"/\" for none)")
	restPort := fset.Int("rest-port", 8080, "port of the REST exposes block")
	mcpPort := fset.Int("mcp-port", 9090, "port of the MCP exposes block")
	quiet := fset.Bool("quiet", false, "do not print what was not kept")
	rest, code, ok := parseCommand(fset, args, importUsage, stdout, stderr)
	if !ok {
		return code
	}
	if len(rest) != 1 {
		fmt.Fprintf(stderr, "naftiko import openapi: want one SPEC file, got %d arguments\n", len(rest))
		return exitUsage
	}
	src := rest[0]
	data, err := os.ReadFile(src)
	if err != nil {
		fmt.Fprintf(stderr, "naftiko import openapi: %v\n", err)
		return exitUsage
	}
	opts := fromopenapi.Options{Namespace: *namespace, BaseURL: *baseURL, RESTPort: *restPort, MCPPort: *mcpPort,
		Source: filepath.Base(src)}
	fset.Visit(func(f *flag.Flag) {
		if f.Name == "prefix" {
			p := strings.TrimRight(*prefix, "/")
			opts.Prefix = &p
		}
	})
	start := time.Now()
	res, err := fromopenapi.Convert(ctx, data, src, opts)
	if err != nil {
		fmt.Fprintf(stderr, "naftiko import openapi: %s: %v\n", src, err)
		return exitFailed
	}
	// The file is checked before anyone runs it: an importer that writes
	// what validate refuses is a bug to report, not a file to hand over.
	v, err := spec.NewValidator()
	if err != nil {
		fmt.Fprintf(stderr, "naftiko import openapi: %v\n", err)
		return exitFailed
	}
	// Relative imports and bind files would anchor at the output's folder.
	name := *out
	if name == "" {
		name = "imported.yaml"
	}
	diags := v.ValidateBytes(name, res.YAML)
	if diags.HasErrors() {
		fmt.Fprintf(stderr, "naftiko import openapi: %s: the capability written does not validate (a naftiko bug; please report it with the description):\n", src)
		for _, d := range diags {
			if d.Severity == spec.Error {
				fmt.Fprintf(stderr, "  %s\n", d)
			}
		}
		return exitFailed
	}
	if *out == "" {
		if _, err := stdout.Write(res.YAML); err != nil {
			return exitFailed
		}
	} else if err := os.WriteFile(*out, res.YAML, 0o644); err != nil {
		fmt.Fprintf(stderr, "naftiko import openapi: %v\n", err)
		return exitFailed
	}
	if !*quiet {
		for _, n := range res.Notes {
			fmt.Fprintf(stderr, "note: %s\n", n)
		}
	}
	fmt.Fprintf(stderr, "naftiko import openapi: %s: %d of %d operations imported in %s", src, res.Operations, res.Found, time.Since(start).Round(time.Millisecond))
	if *out != "" {
		fmt.Fprintf(stderr, " -> %s", *out)
	}
	if len(res.Env) > 0 {
		fmt.Fprintf(stderr, "; set %s before running it", strings.Join(res.Env, ", "))
	}
	fmt.Fprintln(stderr)
	return exitOK
}
