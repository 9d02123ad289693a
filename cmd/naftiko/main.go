// Command naftiko serves Naftiko capability files: it validates them, and runs
// the upstream APIs they consume as REST routes and MCP tools.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `naftiko serves Naftiko capability files (spec 1.0.0-alpha2).

Usage:
  naftiko run [flags] PATH...        serve capabilities over REST and MCP
  naftiko validate [flags] PATH...   check capability files
  naftiko create capability --base-url URL [flags]
                                     write a minimal, commented capability
  naftiko import openapi [flags] SPEC
                                     write a capability from an OpenAPI description
  naftiko export openapi [flags] FILE
                                     describe a capability's REST surface as OpenAPI 3.1
  naftiko migrate --to VERSION FILE  rewrite a file in another spec version (alpha2, ikanos beta5)
  naftiko sandbox [--listen ADDR]    run the built-in FHIR R4 sandbox alone
  naftiko version                    print the version

Run 'naftiko COMMAND -h' for a command's flags.
`

// version is the naftiko release; the spec version it targets is separate.
const version = "0.1.0"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Exit codes shared by every command.
const (
	exitOK     = 0
	exitFailed = 1 // invalid input, start-up failure
	exitUsage  = 2 // bad flags or arguments, unreadable input
)

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "validate":
		return runValidate(args[1:], stdout, stderr)
	case "run":
		return runServe(ctx, args[1:], stdin, stdout, stderr)
	case "sandbox":
		return runSandbox(ctx, args[1:], stdout, stderr)
	case "import":
		return runImport(ctx, args[1:], stdout, stderr)
	case "export":
		return runExport(args[1:], stdout, stderr)
	case "create":
		return runCreate(args[1:], stdout, stderr)
	case "migrate":
		return runMigrate(args[1:], stdout, stderr)
	case "version", "--version":
		fmt.Fprintf(stdout, "naftiko %s (spec 1.0.0-alpha2)\n", version)
		return exitOK
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "naftiko: unknown command %q\n\n%s", args[0], usage)
		return exitUsage
	}
}
