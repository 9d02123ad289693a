package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"regexp"
	"strings"
	"text/template"

	"github.com/naftiko/naftiko/spec"
)

const createUsage = `Usage: naftiko create capability --base-url URL [--namespace NS] [--path PATH] [--out FILE]

Writes a minimal capability for the HTTP API at URL, commented key by key:
one consumed GET operation (PATH, default /), served as a REST route on
:8080 and an MCP tool on :9090, with the authentication forms to choose from
left as comments. It validates and runs as written; grow it from there, or
start from the API's OpenAPI description with 'naftiko import openapi'.

Flags:
`

// createTemplate is the file `naftiko create capability` writes. Values are
// inserted YAML-quoted (quote), so a URL or name cannot change its shape.
var createTemplate = template.Must(template.New("capability").Funcs(template.FuncMap{"quote": yamlQuote}).Parse(
	`# A Naftiko capability: the API it consumes, and how naftiko serves it.
# Check it with 'naftiko validate {{.File}}', serve it with 'naftiko run {{.File}}'.
naftiko: 1.0.0-alpha2
info:
  label: {{quote .Label}}
  description: {{quote .Description}}
# binds name the variables the file reads; each key is read from the
# environment variable of the same name (or from a file: location: file:///...).
# binds:
#   - namespace: env
#     keys:
#       {{.Env}}_TOKEN: {{.Env}}_TOKEN
capability:
  consumes:
    - type: http
      namespace: {{quote .Namespace}}
      baseUri: {{quote .BaseURI}}
      # Sent with every call of this block; pick one form (values like
      # '{{"{{"}}env.{{.Env}}_TOKEN{{"}}"}}' read the binds above):
      # authentication: {type: bearer, token: '{{"{{"}}env.{{.Env}}_TOKEN{{"}}"}}'}
      # authentication: {type: apikey, key: X-Api-Key, value: '{{"{{"}}env.{{.Env}}_TOKEN{{"}}"}}', placement: header}
      # authentication: {type: basic, username: '{{"{{"}}env.{{.Env}}_USER{{"}}"}}', password: '{{"{{"}}env.{{.Env}}_PASSWORD{{"}}"}}'}
      resources:
        - name: {{quote .Resource}}
          # The path is appended to baseUri; {x} in it is a path parameter
          # the caller gives.
          path: {{quote .Path}}
          operations:
            - name: {{quote .Operation}}
              method: GET
              description: {{quote .OperationDescription}}
              # inputParameters: [{name: q, in: query}]   # what callers may send
  exposes:
    # REST: one route per operation. Without outputParameters the
    # upstream's answer passes through as it is.
    - type: rest
      namespace: {{quote (print .Namespace "-rest")}}
      port: 8080
      resources:
        - path: {{quote .Route}}
          name: {{quote .Resource}}
          operations:
            - method: GET
              name: {{quote .Operation}}
              call: {{quote (print .Namespace "." .Operation)}}
    # MCP: one tool per operation, for agents. A model chooses tools by
    # name and description: make both say what the tool is for.
    - type: mcp
      namespace: {{quote (print .Namespace "-mcp")}}
      port: 9090
      transport: http
      description: {{quote .MCPDescription}}
      tools:
        - name: {{quote .Tool}}
          description: {{quote .OperationDescription}}
          hints: {readOnly: true, destructive: false, idempotent: true}
          call: {{quote (print .Namespace "." .Operation)}}
`))

// pathShape is what --path may be: segments of URL path characters or a
// whole `{name}` parameter.
var pathShape = regexp.MustCompile(`^(/([A-Za-z0-9._~$:@-]+|\{[A-Za-z_][A-Za-z0-9_-]*\}))*/?$`)

// kebabName is a name of lower-case letters and digits joined by dashes.
func kebabName(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
			continue
		}
		dash = true
	}
	return b.String()
}

func yamlQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

func runCreate(args []string, stdout, stderr io.Writer) int {
	args, ok := subcommand(args, "create", "capability", "naftiko create capability --base-url URL", stderr)
	if !ok {
		return exitUsage
	}
	fset := flag.NewFlagSet("create capability", flag.ContinueOnError)
	baseURL := fset.String("base-url", "", "the API's base `URL` (required)")
	namespace := fset.String("namespace", "", "`NAME` of the consumes block (default: from the URL's host)")
	path := fset.String("path", "/", "`PATH` of the one operation, under the base URL")
	out := fset.String("out", "", "write the capability to `FILE` (default: standard output); an existing file is not replaced")
	rest, code, ok := parseCommand(fset, args, createUsage, stdout, stderr)
	if !ok {
		return code
	}
	if len(rest) > 0 {
		fmt.Fprintf(stderr, "naftiko create capability: unexpected argument %q\n", rest[0])
		return exitUsage
	}
	u, err := url.Parse(*baseURL)
	if *baseURL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.ContainsAny(*baseURL, "{}") || u.RawQuery != "" || u.Fragment != "" {
		fmt.Fprintf(stderr, "naftiko create capability: --base-url: want an absolute http(s) URL without variables, query or fragment, got %q\n", *baseURL)
		return exitUsage
	}
	ns := *namespace
	if ns == "" {
		ns = hostNamespace(u.Hostname())
	}
	if ns == "" || strings.Trim(ns, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" || strings.HasPrefix(ns, "-") {
		fmt.Fprintf(stderr, "naftiko create capability: --namespace %q: use lower-case letters, digits and dashes\n", ns)
		return exitUsage
	}
	p := "/" + strings.TrimLeft(*path, "/")
	if !pathShape.MatchString(p) {
		fmt.Fprintf(stderr, "naftiko create capability: --path %q: want a URL path of letters, digits and -._~$:@, with {name} for a path parameter (no query, fragment or {{…}})\n", *path)
		return exitUsage
	}
	resource := kebabName(p)
	if resource == "" {
		resource = "root"
	}
	file := *out
	if file == "" {
		file = ns + ".yaml"
	}
	data := map[string]string{
		"File": file, "Namespace": ns, "Env": spec.EnvName(ns), "BaseURI": strings.TrimRight(*baseURL, "/"),
		"Label": u.Hostname(), "Description": "Calls the HTTP API at " + u.Host + " and serves it over REST and MCP.",
		"Resource": resource, "Path": p, "Route": p, "Operation": "get-" + resource, "Tool": "get-" + resource,
		"OperationDescription": "GET " + p + " of " + u.Host + " (describe what it returns)",
		"MCPDescription":       "Tools over " + u.Host + ".",
	}
	var buf bytes.Buffer
	if err := createTemplate.Execute(&buf, data); err != nil {
		fmt.Fprintf(stderr, "naftiko create capability: %v\n", err)
		return exitFailed
	}
	// What create writes must be what validate accepts.
	v, err := spec.NewValidator()
	if err != nil {
		fmt.Fprintf(stderr, "naftiko create capability: %v\n", err)
		return exitFailed
	}
	if diags := v.ValidateBytes(file, buf.Bytes()); diags.HasErrors() {
		fmt.Fprintf(stderr, "naftiko create capability: the file written does not validate (a naftiko bug):\n%v\n", diags)
		return exitFailed
	}
	if *out == "" {
		stdout.Write(buf.Bytes())
		return exitOK
	}
	f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		fmt.Fprintf(stderr, "naftiko create capability: %v\n", unwrapPath(err))
		return exitFailed
	}
	if _, err := f.Write(buf.Bytes()); err != nil {
		f.Close()
		fmt.Fprintf(stderr, "naftiko create capability: %v\n", err)
		return exitFailed
	}
	if err := f.Close(); err != nil {
		fmt.Fprintf(stderr, "naftiko create capability: %v\n", err)
		return exitFailed
	}
	fmt.Fprintf(stderr, "wrote %s: check it with 'naftiko validate %s', serve it with 'naftiko run %s'\n", *out, *out, *out)
	return exitOK
}

// hostNamespace names a block by its host's most telling label:
// api.github.com -> github, fhir.cigna.com -> cigna, localhost -> localhost.
func hostNamespace(host string) string {
	labels := strings.Split(strings.ToLower(host), ".")
	if len(labels) >= 2 {
		labels = labels[:len(labels)-1] // the top-level domain
	}
	name := labels[len(labels)-1]
	var b strings.Builder
	for _, r := range name {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			b.WriteRune(r)
		}
	}
	name = strings.Trim(b.String(), "-")
	if strings.Trim(name, "0123456789") == "" {
		return "api" // an IP address names nothing
	}
	return name
}
