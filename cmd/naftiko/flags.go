package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// parseCommand parses a command's flags wherever they stand among its
// arguments (`naftiko run file.yaml --sandbox`), as most CLIs do, and
// returns the other arguments. Asked for help (-h, -help, --help), it
// prints the usage to stdout and reports exitOK; a flag error goes to
// stderr with the usage and reports exitUsage. ok is false in both cases.
func parseCommand(fset *flag.FlagSet, args []string, usage string, stdout, stderr io.Writer) (rest []string, code int, ok bool) {
	fset.SetOutput(stderr)
	fset.Usage = func() {
		fmt.Fprint(fset.Output(), usage)
		fset.PrintDefaults()
	}
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "-h" || a == "-help" || a == "--help" {
			fset.SetOutput(stdout)
			fset.Usage()
			return nil, exitOK, false
		}
	}
	rest, err := parseInterspersed(fset, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, exitOK, false
		}
		return nil, exitUsage, false
	}
	return rest, exitOK, true
}

// parseInterspersed parses flags that may come before, between or after
// paths; `--` ends flag parsing.
func parseInterspersed(fset *flag.FlagSet, args []string) ([]string, error) {
	var paths []string
	for {
		if err := fset.Parse(args); err != nil {
			return nil, err
		}
		rest := fset.Args()
		if len(rest) == 0 {
			return paths, nil
		}
		// flag stops at the first non-flag; a literal "--" is consumed by
		// Parse, so everything after it is a path.
		consumed := len(args) - len(rest)
		if consumed > 0 && args[consumed-1] == "--" {
			return append(paths, rest...), nil
		}
		paths = append(paths, rest[0])
		args = rest[1:]
	}
}

// subcommand takes the word after a command (`openapi` of `import
// openapi`): args without it, or false after printing a usage error. A
// flag in its place (`import -h`) is left for the command's flag set.
func subcommand(args []string, cmd, sub, example string, stderr io.Writer) ([]string, bool) {
	if len(args) == 0 || (args[0] != sub && !strings.HasPrefix(args[0], "-")) {
		fmt.Fprintf(stderr, "naftiko %s: want '%s'\n", cmd, example)
		return nil, false
	}
	if args[0] == sub {
		args = args[1:]
	}
	return args, true
}
