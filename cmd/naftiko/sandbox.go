package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/naftiko/naftiko/engine/sandbox"
)

const sandboxUsage = `Usage: naftiko sandbox [--listen HOST:PORT]

Run the built-in FHIR R4 sandbox alone: synthetic members, searches,
Patient/$everything and Bulk Data export, for building clients without a
Cigna account. Patient data needs "Authorization: Bearer <token>" with the
token printed at start-up; directory, formulary and /metadata are public.

Flags:
`

func runSandbox(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fset := flag.NewFlagSet("sandbox", flag.ContinueOnError)
	fset.SetOutput(stderr)
	listen := fset.String("listen", "127.0.0.1:8181", "address to listen on")
	rest, code, ok := parseCommand(fset, args, sandboxUsage, stdout, stderr)
	if !ok {
		return code
	}
	if len(rest) > 0 {
		fmt.Fprintf(stderr, "naftiko sandbox: unexpected argument %q\n", rest[0])
		return exitUsage
	}
	sb := sandbox.New(sandbox.Options{})
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(stderr, "naftiko sandbox: cannot listen on %s: %v\n", *listen, err)
		return exitFailed
	}
	srv := &http.Server{Handler: sb.Handler(), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "FHIR R4 sandbox at http://%s\nbearer token: %s\nmembers: %s\n", ln.Addr(), sb.Token(), strings.Join(sb.MemberIDs(), ", "))
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err := <-errc:
		fmt.Fprintln(stderr, "naftiko sandbox:", err)
		return exitFailed
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(shutdownCtx)
	return exitOK
}
