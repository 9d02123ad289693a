// Package openapi describes a compiled REST surface as an OpenAPI 3.1
// document: the routes naftiko serves with their inputs and types, the
// problem+json answers every route can give, and the inbound authentication
// as the security scheme. It reads the plan, never the YAML, so the
// description says what is served, not what the file meant to say.
package openapi

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/naftiko/naftiko/engine"
	"github.com/naftiko/naftiko/engine/fault"
)

// Path is where a REST block serves its own description.
const Path = "/openapi.json"

// Options shape a description.
type Options struct {
	// Server is the base URL clients call; "" writes the block's address.
	Server string
	// Version is info.version (the capability's own version; default 1.0.0).
	Version string
}

// problems are the components every operation's failures refer to, held
// with their values so the document is whole in memory too.
type problems struct {
	schema   *openapi3.SchemaRef
	ref      *openapi3.SchemaRef
	response *openapi3.ResponseRef
}

func newProblems() problems {
	p := problems{schema: problemSchema()}
	p.ref = &openapi3.SchemaRef{Ref: "#/components/schemas/Problem", Value: p.schema.Value}
	p.response = &openapi3.ResponseRef{Value: openapi3.NewResponse().
		WithDescription("An RFC 9457 problem document; `type` is one of naftiko's stable `urn:naftiko:problem:` types.").
		WithContent(openapi3.Content{"application/problem+json": openapi3.NewMediaType().WithSchemaRef(p.ref)})}
	return p
}

// Describe is the OpenAPI 3.1 description of a REST surface.
func Describe(s *engine.RestSurface, opts Options) *openapi3.T {
	pr := newProblems()
	doc := &openapi3.T{
		OpenAPI: "3.1.0",
		Info: &openapi3.Info{
			Title:       cmp.Or(s.Capability.Label, s.Capability.Name, s.Namespace),
			Description: fmt.Sprintf("The REST surface %q that naftiko serves from %s.", s.Namespace, s.Capability.Name),
			Version:     cmp.Or(opts.Version, "1.0.0"),
		},
		Servers:    openapi3.Servers{{URL: cmp.Or(opts.Server, "http://"+s.Address)}},
		Paths:      openapi3.NewPaths(),
		Components: &openapi3.Components{Schemas: openapi3.Schemas{"Problem": pr.schema}, Responses: openapi3.ResponseBodies{}},
	}
	doc.Components.Responses["Problem"] = pr.response
	if sch, name := securityScheme(s); sch != nil {
		doc.Components.SecuritySchemes = openapi3.SecuritySchemes{name: &openapi3.SecuritySchemeRef{Value: sch}}
		doc.Security = openapi3.SecurityRequirements{{name: []string{}}}
	}
	ids := map[string]int{}
	for _, r := range s.Routes {
		path := "/" + strings.Join(r.Segments, "/")
		item := doc.Paths.Value(path)
		if item == nil {
			item = &openapi3.PathItem{}
			doc.Paths.Set(path, item)
		}
		if r.Forward != nil {
			for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
				// An operation of the resource wins its method over the
				// forward, as the router has it.
				if !hasAction(s, r.Path, m) {
					item.SetOperation(m, forwardOperation(r, s.Auth != nil, pr))
				}
			}
			continue
		}
		op := operation(r, s.Auth != nil, pr)
		op.OperationID = uniqueID(ids, r.Action.Name)
		item.SetOperation(r.Method, op)
	}
	return doc
}

// JSON is the description as served: indented, stable key order.
func JSON(s *engine.RestSurface, opts Options) ([]byte, error) {
	b, err := json.MarshalIndent(Describe(s, opts), "", "  ")
	if err != nil {
		return nil, fmt.Errorf("describe %s: %w", s.Namespace, err)
	}
	return b, nil
}

// hasAction says whether a route other than a forward serves method on
// path.
func hasAction(s *engine.RestSurface, path, method string) bool {
	for _, r := range s.Routes {
		if r.Forward == nil && r.Path == path && r.Method == method {
			return true
		}
	}
	return false
}

func uniqueID(ids map[string]int, name string) string {
	id := strings.Map(func(r rune) rune {
		if r == ' ' || r == '/' {
			return '-'
		}
		return r
	}, name)
	cand := id
	for n := 2; ids[cand] > 0; n++ {
		cand = fmt.Sprintf("%s-%d", id, n)
	}
	ids[cand]++
	return cand
}

func operation(r *engine.Route, authenticated bool, pr problems) *openapi3.Operation {
	a := r.Action
	op := &openapi3.Operation{Summary: firstLine(r.Description), Description: r.Description, Responses: openapi3.NewResponses()}
	if ns := a.Namespace(); ns != "" {
		op.Tags = []string{ns}
	}
	var body *openapi3.Schema
	bodyMethod := r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch
	for _, in := range a.Inputs {
		if in.Constant != nil {
			continue // fixed by the file: callers never give it
		}
		schema := inputSchema(in)
		switch {
		case in.In == "body" || (in.In == "" && bodyMethod):
			if body == nil {
				body = openapi3.NewObjectSchema()
			}
			body.Properties[in.Name] = openapi3.NewSchemaRef("", schema)
			if in.Required {
				body.Required = append(body.Required, in.Name)
			}
		default:
			where := cmp.Or(in.In, "query")
			schema.Description = "" // the parameter's own says it
			p := &openapi3.Parameter{Name: in.Name, In: where, Description: in.Description, Required: in.Required || where == "path",
				Schema: openapi3.NewSchemaRef("", schema)}
			if where == "query" && in.Type == "array" {
				p.Style, p.Explode = "form", openapi3.Ptr(true)
			}
			op.Parameters = append(op.Parameters, &openapi3.ParameterRef{Value: p})
		}
	}
	if body != nil && len(body.Properties) == 1 && body.Properties["body"] != nil {
		// The input `body` alone is the whole payload (CONTRACT.md
		// section 6); its own shape is the body's.
		whole := body.Properties["body"].Value
		required := len(body.Required) > 0
		op.RequestBody = &openapi3.RequestBodyRef{Value: openapi3.NewRequestBody().WithRequired(required).
			WithContent(openapi3.Content{"application/json": openapi3.NewMediaType().WithSchema(whole)})}
	} else if body != nil {
		op.RequestBody = &openapi3.RequestBodyRef{Value: openapi3.NewRequestBody().WithRequired(len(body.Required) > 0).
			WithContent(openapi3.Content{"application/json": openapi3.NewMediaType().WithSchema(body)})}
	}
	ok := openapi3.NewResponse()
	if a.Passthrough() {
		ok.WithDescription("The upstream's answer, passed through with its own Content-Type (JSON links rewritten to lead back through naftiko).").
			WithContent(openapi3.Content{"*/*": openapi3.NewMediaType().WithSchema(&openapi3.Schema{})})
	} else {
		ok.WithDescription("The value the capability builds from the upstream's answer.").
			WithContent(openapi3.Content{"application/json": openapi3.NewMediaType().WithSchema(&openapi3.Schema{})})
	}
	op.Responses.Set("200", &openapi3.ResponseRef{Value: ok})
	addProblems(op, problemKinds(authenticated), pr)
	return op
}

func forwardOperation(r *engine.Route, authenticated bool, pr problems) *openapi3.Operation {
	op := &openapi3.Operation{Summary: "Forwarded to the upstream", Description: cmp.Or(r.Description, "Requests under this path are forwarded to the consumed API as they are."),
		Responses: openapi3.NewResponses()}
	for _, v := range r.Vars {
		op.Parameters = append(op.Parameters, &openapi3.ParameterRef{Value: &openapi3.Parameter{Name: v, In: "path", Required: true,
			Schema: openapi3.NewSchemaRef("", openapi3.NewStringSchema())}})
	}
	op.Responses.Set("200", &openapi3.ResponseRef{Value: openapi3.NewResponse().WithDescription("The upstream's answer, as it is.").
		WithContent(openapi3.Content{"*/*": openapi3.NewMediaType().WithSchema(&openapi3.Schema{})})})
	addProblems(op, problemKinds(authenticated), pr)
	return op
}

// inputSchema is an input's JSON Schema: its type, pattern and description.
func inputSchema(in engine.Input) *openapi3.Schema {
	s := &openapi3.Schema{Description: in.Description}
	if in.Type != "" {
		s.Type = &openapi3.Types{in.Type}
	}
	if p := in.Pattern(); p != "" {
		s.Pattern = p
	}
	return s
}

// problemKinds are the failures every served route can answer with.
func problemKinds(authenticated bool) []fault.Kind {
	kinds := []fault.Kind{fault.BadInput, fault.NotFound, fault.TooLarge, fault.RateLimited,
		fault.UpstreamFailed, fault.UpstreamTimeout, fault.UpstreamUnavailable}
	if authenticated {
		kinds = append(kinds, fault.Unauthorized, fault.Forbidden)
	}
	return kinds
}

// addProblems lists the problem answers by status, each naming its types.
func addProblems(op *openapi3.Operation, kinds []fault.Kind, pr problems) {
	byStatus := map[int][]string{}
	for _, k := range kinds {
		byStatus[k.Status()] = append(byStatus[k.Status()], fault.TypePrefix+k.Slug())
	}
	statuses := make([]int, 0, len(byStatus))
	for s := range byStatus {
		statuses = append(statuses, s)
	}
	slices.Sort(statuses)
	for _, st := range statuses {
		desc := fmt.Sprintf("%s: problem+json of type %s.", http.StatusText(st), strings.Join(byStatus[st], " or "))
		op.Responses.Set(fmt.Sprint(st), &openapi3.ResponseRef{Value: openapi3.NewResponse().WithDescription(desc).
			WithContent(openapi3.Content{"application/problem+json": openapi3.NewMediaType().WithSchemaRef(pr.ref)})})
	}
	op.Responses.Set("default", &openapi3.ResponseRef{Ref: "#/components/responses/Problem", Value: pr.response.Value})
}

func problemSchema() *openapi3.SchemaRef {
	s := openapi3.NewObjectSchema().
		WithProperty("type", openapi3.NewStringSchema().WithFormat("uri")).
		WithProperty("title", openapi3.NewStringSchema()).
		WithProperty("status", openapi3.NewIntegerSchema()).
		WithProperty("detail", openapi3.NewStringSchema()).
		WithProperty("instance", openapi3.NewStringSchema())
	s.Required = []string{"type", "title", "status"}
	return openapi3.NewSchemaRef("", s)
}

// securityScheme is the block's inbound authentication as OpenAPI says it.
func securityScheme(s *engine.RestSurface) (*openapi3.SecurityScheme, string) {
	sc := s.Auth.Scheme()
	switch sc.Type {
	case "bearer":
		return openapi3.NewSecurityScheme().WithType("http").WithScheme("bearer"), "bearer"
	case "basic", "digest":
		return openapi3.NewSecurityScheme().WithType("http").WithScheme(sc.Type), sc.Type
	case "apikey":
		return openapi3.NewSecurityScheme().WithType("apiKey").WithIn(sc.KeyIn).WithName(sc.KeyName), "apikey"
	case "oauth2":
		// naftiko checks access tokens; how a client obtains one is the
		// authorization server's business, so the scheme is bearer.
		d := "An OAuth 2.0 access token for this server"
		if sc.AuthorizationServer != "" {
			d += ", issued by " + sc.AuthorizationServer
		}
		return openapi3.NewSecurityScheme().WithType("http").WithScheme("bearer").WithDescription(d + "."), "oauth2"
	}
	return nil, ""
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}
