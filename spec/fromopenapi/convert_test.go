package fromopenapi

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/naftiko/naftiko/spec"
)

// convert imports an inline description and checks that the capability
// validates without errors.
func convert(t *testing.T, description string, opts Options) (*Result, *spec.Document) {
	t.Helper()
	res, err := Convert(context.Background(), []byte(description), filepath.Join(t.TempDir(), "api.yaml"), opts)
	if err != nil {
		t.Fatal(err)
	}
	doc, diags := spec.Parse("imported.yaml", res.YAML)
	v, err := spec.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	if diags = append(diags, v.ValidateParsed(doc, diags)...); diags.HasErrors() {
		t.Fatalf("the capability does not validate: %v\n%s", diags, res.YAML)
	}
	return res, doc
}

const securityDoc = `openapi: 3.1.0
info: {title: Shop API, version: "2.0"}
servers: [{url: "https://{region}.shop.example/api/v2", variables: {region: {default: eu}}}]
components:
  securitySchemes:
    s: SCHEME
security: [{s: [orders.read]}]
paths:
  /orders/{orderId}:
    get:
      operationId: getOrder
      summary: Get one order
      parameters:
        - {name: orderId, in: path, required: true, schema: {type: [string, "null"]}}
        - {name: expand, in: query, schema: {type: array, items: {type: string}}, style: form, explode: false}
        - {name: $filter, in: query, schema: {type: string}}
      responses: {"200": {description: ok}}
    put:
      operationId: putOrder
      security: []
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [total]
              properties:
                total: {type: number, description: Order total}
                note: {type: string}
                id: {type: string, readOnly: true}
      responses: {"200": {description: ok}}
    post:
      operationId: uploadOrder
      requestBody: {content: {application/octet-stream: {schema: {type: string, format: binary}}}}
      responses: {"200": {description: ok}}
`

func TestSecuritySchemesBecomeAuthentication(t *testing.T) {
	cases := []struct {
		scheme, typ string
		env         []string
		check       func(a *spec.Authentication) bool
		note        string
	}{
		{"{type: http, scheme: bearer}", "bearer", []string{"SHOP_TOKEN"}, func(a *spec.Authentication) bool { return a.Token == "{{env.SHOP_TOKEN}}" }, ""},
		{"{type: http, scheme: basic}", "basic", []string{"SHOP_USERNAME", "SHOP_PASSWORD"}, func(a *spec.Authentication) bool { return a.Username != "" && a.Password != "" }, ""},
		{"{type: apiKey, in: query, name: api_key}", "apikey", []string{"SHOP_API_KEY"}, func(a *spec.Authentication) bool { return a.Key == "api_key" && a.Placement == "query" }, ""},
		{"{type: apiKey, in: header, name: Authorization}", "bearer", []string{"SHOP_TOKEN"}, nil, "sent as a bearer token"},
		{"{type: oauth2, flows: {clientCredentials: {tokenUrl: 'https://id.shop.example/token', scopes: {orders.read: r, orders.write: w}}}}", "oauth2",
			[]string{"SHOP_CLIENT_ID", "SHOP_CLIENT_SECRET"}, func(a *spec.Authentication) bool {
				return a.TokenEndpoint == "https://id.shop.example/token" && strings.Join(a.Scopes, ",") == "orders.read" && a.Resource == "https://eu.shop.example/api/v2"
			}, ""},
		{"{type: oauth2, flows: {authorizationCode: {authorizationUrl: 'https://id/a', tokenUrl: 'https://id/t', scopes: {}}}}", "bearer", []string{"SHOP_TOKEN"}, nil, "no client-credentials flow"},
		{"{type: apiKey, in: cookie, name: sid}", "", nil, nil, "goes in a cookie"},
		{"{type: mutualTLS}", "", nil, nil, "no capability form"},
	}
	for _, c := range cases {
		res, doc := convert(t, strings.Replace(securityDoc, "SCHEME", c.scheme, 1), Options{})
		a := doc.Capability.Consumes[0].Authentication
		switch {
		case c.typ == "" && a != nil:
			t.Errorf("%s: authentication %q written, want none", c.scheme, a.Type)
		case c.typ != "" && (a == nil || a.Type != c.typ):
			t.Errorf("%s: authentication %+v, want %s", c.scheme, a, c.typ)
		case c.check != nil && !c.check(a):
			t.Errorf("%s: authentication %+v", c.scheme, a)
		}
		if strings.Join(res.Env, ",") != strings.Join(c.env, ",") {
			t.Errorf("%s: env %v, want %v", c.scheme, res.Env, c.env)
		}
		notes := strings.Join(res.Notes, "\n")
		if c.note != "" && !strings.Contains(notes, c.note) {
			t.Errorf("%s: notes do not say %q:\n%s", c.scheme, c.note, notes)
		}
		if c.typ != "" && !strings.Contains(notes, "PUT /orders/{orderId}: public upstream") {
			t.Errorf("%s: the public operation is not named:\n%s", c.scheme, notes)
		}
	}
}

func TestOperationsParametersAndBodies(t *testing.T) {
	res, doc := convert(t, strings.Replace(securityDoc, "SCHEME", "{type: http, scheme: bearer}", 1), Options{})
	cs := doc.Capability.Consumes[0]
	if cs.Namespace != "shop" || cs.BaseURI != "https://eu.shop.example/api/v2" {
		t.Errorf("namespace %q, baseUri %q (server variables take their defaults)", cs.Namespace, cs.BaseURI)
	}
	if res.Operations != 2 || res.Found != 3 || !strings.Contains(strings.Join(res.Notes, "\n"), "POST /orders/{orderId}: not imported: its request body is application/octet-stream") {
		t.Errorf("imported %d of %d; notes:\n%s", res.Operations, res.Found, strings.Join(res.Notes, "\n"))
	}
	if !strings.Contains(strings.Join(res.Notes, "\n"), `optional query parameter "$filter" left out`) {
		t.Errorf("the dropped $filter is not named:\n%s", strings.Join(res.Notes, "\n"))
	}
	ops := cs.Resources[0].Operations
	got := func(op spec.ConsumedOperation) string {
		var b []string
		for _, p := range op.InputParameters {
			s := p.Name + ":" + p.In + ":" + p.Type
			if p.Required != nil && *p.Required {
				s += ":required"
			}
			if p.Style != "" {
				s += ":" + p.Style
			}
			b = append(b, s)
		}
		return strings.Join(b, " ")
	}
	if g := got(ops[0]); g != "orderId:path: expand:query:array:form" {
		t.Errorf("GET parameters: %s", g)
	}
	// The body's properties are inputs of their own; a read-only one is not
	// sent. (The undeclared {orderId} is a path parameter all the same.)
	if g := got(ops[1]); g != "note:body: total:body:number:required" {
		t.Errorf("PUT parameters: %s", g)
	}
	routes := doc.Capability.Exposes[0].RestResources
	if len(routes) != 1 || routes[0].Path != "/v2/orders/{orderid}" || len(routes[0].Operations) != 2 {
		t.Errorf("REST routes: %+v", routes)
	}
	tools := doc.Capability.Exposes[1].Tools
	if len(tools) != 2 || tools[0].Name != "get-one-order" || tools[1].Name != "putorder" {
		t.Errorf("tools: %+v", tools)
	}
	if h := tools[0].Hints; h == nil || !*h.ReadOnly || !*h.Idempotent || *h.Destructive {
		t.Errorf("GET hints: %+v", h)
	}
	if h := tools[1].Hints; h == nil || *h.ReadOnly || !*h.Idempotent {
		t.Errorf("PUT hints: %+v", h)
	}
}

// A body field named like a parameter would be one input with it: the body
// is then one input, `body`, and loses nothing.
func TestBodyFieldClashKeepsTheWholeBody(t *testing.T) {
	_, doc := convert(t, `openapi: 3.0.3
info: {title: Git, version: "1"}
servers: [{url: "https://git.example"}]
paths:
  /repos/{owner}:
    post:
      operationId: create
      parameters: [{name: owner, in: path, required: true, schema: {type: string}}]
      requestBody: {content: {application/json: {schema: {type: object, properties: {owner: {type: string}, name: {type: string}}}}}}
      responses: {"201": {description: ok}}
`, Options{})
	ps := doc.Capability.Consumes[0].Resources[0].Operations[0].InputParameters
	if len(ps) != 2 || ps[1].Name != "body" || ps[1].In != "body" || ps[1].Type != "object" {
		t.Errorf("parameters: %+v", ps)
	}
}

func TestSwagger2(t *testing.T) {
	res, doc := convert(t, `swagger: "2.0"
info: {title: Pets, version: "1.0.0"}
host: pets.example
basePath: /v1
schemes: [https]
securityDefinitions: {basic: {type: basic}}
security: [{basic: []}]
paths:
  /pets/{petId}:
    get:
      operationId: showPetById
      summary: Info for a specific pet
      parameters: [{name: petId, in: path, required: true, type: string}, {name: limit, in: query, type: integer, format: int32}]
      responses: {"200": {description: ok}}
`, Options{})
	cs := doc.Capability.Consumes[0]
	if cs.BaseURI != "https://pets.example/v1" || cs.Authentication == nil || cs.Authentication.Type != "basic" || res.Operations != 1 {
		t.Errorf("baseUri %q, auth %+v, %d operations", cs.BaseURI, cs.Authentication, res.Operations)
	}
	if p := cs.Resources[0].Operations[0].InputParameters; len(p) != 2 || p[1].Type != "integer" {
		t.Errorf("parameters: %+v", p)
	}
	if r := doc.Capability.Exposes[0].RestResources[0].Path; r != "/v1/pets/{petid}" {
		t.Errorf("route %q", r)
	}
}

// A description's `{{…}}` in a security scheme never reaches an
// authentication field (naftiko would read it as a variable at start-up).
func TestTemplateInSchemeIsNotWritten(t *testing.T) {
	res, doc := convert(t, strings.Replace(securityDoc, "SCHEME",
		`{type: oauth2, flows: {clientCredentials: {tokenUrl: 'https://id.example/token?leak={{AWS_SECRET_ACCESS_KEY}}', scopes: {}}}}`, 1), Options{})
	if doc.Capability.Consumes[0].Authentication != nil || strings.Contains(string(res.YAML), "tokenEndpoint") {
		t.Errorf("authentication written from a templated token URL:\n%s", res.YAML)
	}
	if !strings.Contains(strings.Join(res.Notes, "\n"), "holds `{{`") {
		t.Errorf("notes: %v", res.Notes)
	}
}

// Cut descriptions stay text, whatever the script.
func TestToolDescriptionCutIsText(t *testing.T) {
	d := toolDescription(&operation{describe: strings.Repeat("あ", 400)}, "要約")
	if !utf8.ValidString(d) || len(d) > toolDescriptionLimit+len(" …") {
		t.Errorf("cut description: valid %v, %d bytes", utf8.ValidString(d), len(d))
	}
}

// Without a document default, an operation with no security of its own is
// public upstream: sending it the block's credentials is said.
func TestPublicOperationsAreNamed(t *testing.T) {
	res, _ := convert(t, `openapi: 3.0.3
info: {title: Mixed, version: "1"}
servers: [{url: "https://mixed.example"}]
components: {securitySchemes: {key: {type: apiKey, in: header, name: X-Key}}}
paths:
  /private: {get: {operationId: priv, security: [{key: []}], responses: {"200": {description: ok}}}}
  /public: {get: {operationId: pub, responses: {"200": {description: ok}}}}
`, Options{})
	if !strings.Contains(strings.Join(res.Notes, "\n"), "GET /public: public upstream") {
		t.Errorf("notes: %v", res.Notes)
	}
}
