// Package binds resolves a capability's `binds` once at start-up into the
// variables its templates may reference, as `NAME` and as `namespace.NAME`.
//
// Every resolved value is treated as a secret: Vars.Redact removes them from
// any text before it reaches a log line, an error body or an MCP result.
package binds

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/naftiko/naftiko/engine/redact"
	"github.com/naftiko/naftiko/spec"
)

// Vars are the resolved variables of one capability file.
type Vars struct {
	byName      map[string]string // NAME and namespace.NAME
	namespaces  map[string]bool
	secrets     *redact.Set
	fromDefault []string // variables filled by a fallback, for the start-up log
}

// Env reads an environment variable; tests and the sandbox substitute their own.
type Env func(name string) (string, bool)

// Options control resolution.
type Options struct {
	Env Env
	// Fallback supplies a value for a variable the environment lacks (the
	// sandbox hands out its own token this way). Nil means none.
	Fallback func(name string) (string, bool)
}

// MissingError names a variable that could not be resolved.
type MissingError struct {
	Var, Source, Namespace, File string
	Pos                          spec.Pos
	Detail                       string
	// Empty: the variable is set, to the empty string.
	Empty bool
}

func (e *MissingError) Error() string {
	msg := fmt.Sprintf("%s:%d:%d: bind %q: variable %s", e.File, e.Pos.Line, e.Pos.Col, e.Namespace, e.Var)
	if e.Detail != "" {
		return msg + ": " + e.Detail
	}
	state := "is not set"
	if e.Empty {
		state = "is set but empty"
	}
	return fmt.Sprintf("%s: environment variable %s %s: export %s=... with the real value, or try naftiko without an account with --sandbox",
		msg, e.Source, state, e.Source)
}

// Resolve reads every bind of doc (root and capability level).
func Resolve(doc *spec.Document, opts Options) (*Vars, error) {
	if opts.Env == nil {
		opts.Env = os.LookupEnv
	}
	v := &Vars{byName: map[string]string{}, namespaces: map[string]bool{}, secrets: redact.New()}
	all := append([]spec.Bind(nil), doc.Binds...)
	if doc.Capability != nil {
		all = append(all, doc.Capability.Binds...)
	}
	for _, b := range all {
		v.namespaces[b.Namespace] = true
		var file map[string]string
		if b.Location != "" {
			var err error
			if file, err = readLocation(doc.Path, b.Location); err != nil {
				return nil, fmt.Errorf("%s:%s: bind %q: %w", doc.Path, b.At("location"), b.Namespace, err)
			}
		}
		for _, kv := range b.Keys {
			var (
				val string
				ok  bool
			)
			if file != nil {
				val, ok = file[kv.Value]
				if !ok {
					if val, ok = lookupFallback(opts, kv.Key); !ok {
						return nil, &MissingError{Var: kv.Key, Source: kv.Value, Namespace: b.Namespace, File: doc.Path, Pos: kv.Pos,
							Detail: fmt.Sprintf("key %q not found in %s", kv.Value, b.Location)}
					}
				}
			} else if val, ok = opts.Env(kv.Value); !ok || val == "" {
				set := ok
				if val, ok = lookupFallback(opts, kv.Key); !ok {
					return nil, &MissingError{Var: kv.Key, Source: kv.Value, Namespace: b.Namespace, File: doc.Path, Pos: kv.Pos, Empty: set}
				}
				v.fromDefault = append(v.fromDefault, kv.Key)
			}
			v.set(b.Namespace, kv.Key, val)
		}
	}
	return v, nil
}

func lookupFallback(opts Options, name string) (string, bool) {
	if opts.Fallback == nil {
		return "", false
	}
	return opts.Fallback(name)
}

func (v *Vars) set(namespace, name, value string) {
	v.byName[name] = value
	if namespace != "" {
		v.byName[namespace+"."+name] = value
	}
	v.secrets.Add(value)
}

// Lookup returns a bound variable by `NAME` or `namespace.NAME`.
func (v *Vars) Lookup(name string) (string, bool) {
	if v == nil {
		return "", false
	}
	s, ok := v.byName[name]
	return s, ok
}

// IsNamespace reports whether ns is a bind namespace of the file.
func (v *Vars) IsNamespace(ns string) bool { return v != nil && v.namespaces[ns] }

// AddSecret registers a value obtained elsewhere (an environment fallback
// read for an undeclared `{{VAR}}`) so it is redacted too.
func (v *Vars) AddSecret(name, value string) { v.set("", name, value) }

// FilledByFallback lists variables whose value came from Options.Fallback.
func (v *Vars) FilledByFallback() []string { return v.fromDefault }

// Redact replaces every secret value in s.
func (v *Vars) Redact(s string) string {
	if v == nil {
		return s
	}
	return v.secrets.String(s)
}

// Secrets is the set of every resolved value (and what the gateway adds
// to it: derived and obtained credentials), for masking bodies and headers.
func (v *Vars) Secrets() *redact.Set {
	if v == nil {
		return nil
	}
	return v.secrets
}

// readLocation loads a file:// bind source: YAML, JSON or .env, relative
// paths resolved against the capability file's folder.
func readLocation(capabilityPath, location string) (map[string]string, error) {
	const scheme = "file://"
	if !strings.HasPrefix(location, scheme) {
		return nil, fmt.Errorf("unsupported bind location %q: naftiko reads file:// locations (or the environment when location is absent)", location)
	}
	p := strings.TrimPrefix(location, scheme)
	if strings.HasPrefix(p, "/./") || strings.HasPrefix(p, "/../") {
		p = p[1:] // file:///./x is the reference engine's spelling of a relative path
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(filepath.Dir(capabilityPath), p)
	}
	data, err := spec.ReadLocation(p)
	if err != nil {
		return nil, fmt.Errorf("read bind file: %w", err)
	}
	out := map[string]string{}
	switch strings.ToLower(filepath.Ext(p)) {
	case ".env":
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			line = strings.TrimPrefix(line, "export ")
			k, val, ok := strings.Cut(line, "=")
			if !ok {
				continue
			}
			out[strings.TrimSpace(k)] = unquote(strings.TrimSpace(val))
		}
		return out, nil
	case ".json":
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			return nil, fmt.Errorf("bind file %s: %w", p, err)
		}
		return stringify(m), nil
	default:
		var m map[string]any
		if err := yaml.Unmarshal(data, &m); err != nil {
			return nil, fmt.Errorf("bind file %s: %w", p, err)
		}
		return stringify(m), nil
	}
}

var quoted = regexp.MustCompile(`^(['"])(.*)['"]$`)

func unquote(s string) string {
	if m := quoted.FindStringSubmatch(s); m != nil {
		return m[2]
	}
	return s
}

func stringify(m map[string]any) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		switch t := v.(type) {
		case string:
			out[k] = t
		case nil:
		default:
			b, _ := json.Marshal(t)
			out[k] = string(b)
		}
	}
	return out
}
