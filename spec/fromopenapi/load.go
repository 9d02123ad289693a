package fromopenapi

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi2conv"
	"github.com/getkin/kin-openapi/openapi3"
	"gopkg.in/yaml.v3"

	"github.com/naftiko/naftiko/spec"
)

// Convert reads an OpenAPI description (YAML or JSON; OpenAPI 3.0, 3.1 or
// Swagger 2.0) and writes a capability from it. path locates the
// description: `$ref`s to other files resolve against its folder and may not
// leave it; remote `$ref`s are not followed (an import reads nothing from the
// network).
func Convert(ctx context.Context, data []byte, path string, opts Options) (*Result, error) {
	doc, err := load(ctx, data, path)
	if err != nil {
		return nil, err
	}
	a, err := model(doc)
	if err != nil {
		return nil, err
	}
	return write(a, opts)
}

// load reads the description into kin-openapi's OpenAPI 3 model, converting
// Swagger 2.0 first, with every `$ref` resolved.
func load(ctx context.Context, data []byte, path string) (*openapi3.T, error) {
	var head struct {
		Swagger string `yaml:"swagger"`
		OpenAPI string `yaml:"openapi"`
	}
	if err := yaml.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("not YAML or JSON: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	loader := openapi3.NewLoader()
	loader.Context = ctx
	loader.IncludeOrigin = true
	loader.ReadFromURIFunc = localRefs(filepath.Dir(abs))
	where := &url.URL{Path: filepath.ToSlash(abs)}
	switch {
	case strings.HasPrefix(head.Swagger, "2."):
		// Swagger 2.0 is converted, so one model serves every version; its
		// JSON form is what openapi2 reads.
		var raw yaml.Node
		if err := yaml.Unmarshal(data, &raw); err != nil {
			return nil, fmt.Errorf("not YAML or JSON: %w", err)
		}
		js, err := json.Marshal(spec.ToJSONValue(&raw))
		if err != nil {
			return nil, fmt.Errorf("swagger 2.0: %w", err)
		}
		var v2 openapi2.T
		if err := json.Unmarshal(js, &v2); err != nil {
			return nil, fmt.Errorf("swagger 2.0: %w", err)
		}
		doc, err := openapi2conv.ToV3(&v2)
		if err != nil {
			return nil, fmt.Errorf("swagger 2.0 to OpenAPI 3: %w", err)
		}
		if err := loader.ResolveRefsIn(doc, where); err != nil {
			return nil, fmt.Errorf("swagger 2.0: %w", err)
		}
		return doc, nil
	case strings.HasPrefix(head.OpenAPI, "3."):
		doc, err := loader.LoadFromDataWithPath(data, where)
		if err != nil {
			return nil, fmt.Errorf("OpenAPI %s: %w", head.OpenAPI, err)
		}
		return doc, nil
	case head.Swagger != "":
		return nil, fmt.Errorf("swagger %q: naftiko imports Swagger 2.0 and OpenAPI 3.x", head.Swagger)
	case head.OpenAPI != "":
		return nil, fmt.Errorf("openapi %q: naftiko imports Swagger 2.0 and OpenAPI 3.x", head.OpenAPI)
	}
	return nil, fmt.Errorf("not an OpenAPI description: no top-level `openapi` or `swagger` version")
}

// localRefs reads the files a description refers to, inside its folder only:
// a description is often someone else's file, and `$ref: /etc/passwd` or a
// cloud metadata URL must not become part of a capability.
func localRefs(root string) openapi3.ReadFromURIFunc {
	return func(_ *openapi3.Loader, u *url.URL) ([]byte, error) {
		if u.Scheme != "" && u.Scheme != "file" || u.Host != "" {
			return nil, fmt.Errorf("remote $ref %s not followed: naftiko import reads local files only", u.Redacted())
		}
		p := filepath.Clean(filepath.FromSlash(u.Path))
		rel, err := filepath.Rel(root, p)
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return nil, fmt.Errorf("$ref %s leaves the description's folder %s", u.Path, root)
		}
		// Through an os.Root: a symbolic link inside the folder cannot lead
		// out of it either.
		r, err := os.OpenRoot(root)
		if err != nil {
			return nil, err
		}
		defer r.Close()
		b, err := r.ReadFile(rel)
		if err != nil {
			return nil, fmt.Errorf("$ref %s: %w (references stay inside the description's folder %s)", u.Path, err, root)
		}
		return b, nil
	}
}

// model keeps of the description what a capability can say.
func model(doc *openapi3.T) (*api, error) {
	a := &api{schemes: map[string]securityScheme{}}
	if doc.Info != nil {
		a.title, a.description, a.version = doc.Info.Title, doc.Info.Description, doc.Info.Version
	}
	for _, s := range doc.Servers {
		if s == nil {
			continue
		}
		u := s.URL
		for name, v := range s.Variables {
			if v != nil {
				u = strings.ReplaceAll(u, "{"+name+"}", v.Default)
			}
		}
		a.servers = append(a.servers, u)
	}
	a.security = requirements(doc.Security)
	if doc.Components != nil {
		for name, ref := range doc.Components.SecuritySchemes {
			if ref == nil || ref.Value == nil {
				continue
			}
			a.schemes[name] = scheme(ref.Value)
		}
	}
	if doc.Paths == nil {
		return a, nil
	}
	for path, item := range doc.Paths.Map() {
		if item == nil {
			continue
		}
		for method, op := range item.Operations() {
			if op == nil {
				continue
			}
			o := operation{method: strings.ToUpper(method), path: path, id: op.OperationID, summary: op.Summary,
				describe: op.Description, deprecated: op.Deprecated}
			if len(op.Tags) > 0 {
				o.tag = op.Tags[0]
			}
			if op.Origin != nil && op.Origin.Key != nil {
				o.line = op.Origin.Key.Line
			}
			if op.Security != nil {
				o.security, o.securitySet = requirements(*op.Security), true
				if o.security == nil {
					o.security = []requirement{}
				}
			}
			o.params = parameters(item.Parameters, op.Parameters)
			if op.RequestBody != nil && op.RequestBody.Value != nil {
				o.body = body(op.RequestBody.Value)
			}
			a.ops = append(a.ops, o)
		}
	}
	// Document order, so the capability reads like the description; the
	// path and method break ties (and order files that lost positions).
	sort.Slice(a.ops, func(i, j int) bool {
		x, y := &a.ops[i], &a.ops[j]
		if x.line != y.line {
			return x.line < y.line
		}
		if x.path != y.path {
			return x.path < y.path
		}
		return slices.Index(methods, x.method) < slices.Index(methods, y.method)
	})
	return a, nil
}

func requirements(rs openapi3.SecurityRequirements) []requirement {
	var out []requirement
	for _, r := range rs {
		var req requirement
		for _, name := range slices.Sorted(maps.Keys(r)) {
			req.schemes = append(req.schemes, name)
			req.scopes = append(req.scopes, r[name]...)
		}
		out = append(out, req)
	}
	return out
}

func scheme(s *openapi3.SecurityScheme) securityScheme {
	out := securityScheme{typ: s.Type, scheme: s.Scheme, in: s.In, name: s.Name}
	if f := s.Flows; f != nil {
		for name, flow := range map[string]*openapi3.OAuthFlow{"authorizationCode": f.AuthorizationCode,
			"clientCredentials": f.ClientCredentials, "implicit": f.Implicit, "password": f.Password} {
			if flow != nil {
				out.flows = append(out.flows, name)
			}
		}
		sort.Strings(out.flows)
		if cc := f.ClientCredentials; cc != nil {
			out.tokenURL = cc.TokenURL
			out.scopes = slices.Sorted(maps.Keys(cc.Scopes))
		}
	}
	return out
}

// parameters merges a path's parameters with an operation's, the
// operation's winning (OpenAPI: same name and location overrides).
func parameters(shared, own openapi3.Parameters) []param {
	var out []param
	at := map[string]int{}
	for _, list := range []openapi3.Parameters{shared, own} {
		for _, ref := range list {
			if ref == nil || ref.Value == nil {
				continue
			}
			p := ref.Value
			in := strings.ToLower(p.In)
			q := param{name: p.Name, in: in, required: p.Required || in == "path", description: p.Description, style: p.Style, explode: p.Explode}
			if p.Schema != nil && p.Schema.Value != nil {
				q.typ = jsonType(p.Schema.Value)
				q.description = cmp.Or(q.description, p.Schema.Value.Description)
			} else if len(p.Content) > 0 {
				q.typ = "object" // a parameter with `content` is serialised JSON
			}
			k := in + "\x00" + p.Name
			if i, ok := at[k]; ok {
				out[i] = q
				continue
			}
			at[k] = len(out)
			out = append(out, q)
		}
	}
	return out
}

// bodyFieldLimit is how many properties a JSON body may have to be imported
// as one input each; a larger one is one `body` input.
const bodyFieldLimit = 40

func body(rb *openapi3.RequestBody) *requestBody {
	types := slices.Sorted(maps.Keys(rb.Content))
	if len(types) == 0 {
		return nil
	}
	mt := types[0]
	for _, t := range types {
		if jsonMedia(t) && t != "*/*" {
			mt = t
			break
		}
		if jsonMedia(t) {
			mt = t
		}
	}
	b := &requestBody{mediaType: mt, required: rb.Required, description: rb.Description}
	media := rb.Content[mt]
	if media == nil || media.Schema == nil || media.Schema.Value == nil {
		return b
	}
	s := media.Schema.Value
	b.typ = jsonType(s)
	if b.typ != "object" || len(s.Properties) == 0 || len(s.Properties) > bodyFieldLimit ||
		len(s.AllOf)+len(s.OneOf)+len(s.AnyOf) > 0 {
		return b
	}
	fields := make([]param, 0, len(s.Properties))
	for _, name := range slices.Sorted(maps.Keys(s.Properties)) {
		ps := s.Properties[name]
		if ps == nil || ps.Value == nil || ps.Value.ReadOnly {
			continue
		}
		if !validName(name) || name == "body" {
			// A field a capability cannot name as an input: the whole body
			// is one input instead, so nothing is lost.
			return b
		}
		fields = append(fields, param{name: name, typ: jsonType(ps.Value), description: ps.Value.Description,
			required: slices.Contains(s.Required, name)})
	}
	b.fields = fields
	return b
}

// jsonType is the one JSON type an input of schema s takes: OpenAPI 3.1's
// `type: [string, "null"]` is a string, an untyped schema with properties is
// an object, one with items an array, the first branch of a oneOf/anyOf
// decides, and anything else is a string.
func jsonType(s *openapi3.Schema) string {
	if s.Type != nil {
		for _, t := range s.Type.Slice() {
			if t != "null" {
				return t
			}
		}
	}
	switch {
	case len(s.Properties) > 0 || s.AdditionalProperties.Has != nil || s.AdditionalProperties.Schema != nil:
		return "object"
	case s.Items != nil:
		return "array"
	}
	for _, list := range []openapi3.SchemaRefs{s.AllOf, s.OneOf, s.AnyOf} {
		for _, r := range list {
			if r != nil && r.Value != nil {
				if t := jsonType(r.Value); t != "" {
					return t
				}
			}
		}
	}
	return ""
}
