// Package fromopenapi writes a capability file from the OpenAPI description
// of the API it consumes (OpenAPI 3.0 and 3.1, Swagger 2.0): a consumes block
// with the servers, the security scheme as authentication and binds, one
// consumed operation per OpenAPI operation with its parameters and body, and
// REST and MCP exposes blocks that serve each of them.
//
// The description is read into a small model of what a capability can say
// (api, below), so the capability is written from one shape whatever the
// OpenAPI version; what it cannot say is reported as a Note, never dropped
// silently. The output is YAML text for a person to read and edit: `naftiko
// validate` accepts it without errors and `naftiko run` serves it.
package fromopenapi

// api is what the importer keeps of an OpenAPI description.
type api struct {
	title, description, version string
	// servers are absolute or relative URLs, server variables already
	// filled with their defaults.
	servers []string
	schemes map[string]securityScheme
	// security is the document's default requirement: alternatives, each
	// scheme names that apply together.
	security []requirement
	ops      []operation
}

// operation is one path and method.
type operation struct {
	method, path          string
	id, summary, describe string
	deprecated            bool
	params                []param
	body                  *requestBody
	security              []requirement // nil: the document's default
	securitySet           bool          // security was given, possibly empty (public)
	tag                   string
	line                  int // in the OpenAPI file, 0 when unknown
}

// param is one parameter or one field of a JSON body.
type param struct {
	name, in, typ, description string
	required                   bool
	// style and explode are the OpenAPI serialisation of arrays in the
	// query ("form" with explode repeats the name, else comma-joined).
	style   string
	explode *bool
}

// requestBody is what an operation sends.
type requestBody struct {
	mediaType   string
	required    bool
	description string
	// typ is the JSON type of the whole body; fields are its properties when
	// it is an object whose fields can each be an input.
	typ    string
	fields []param
}

// requirement is one alternative of a security requirement: schemes that
// apply together, and the scopes they ask for.
type requirement struct {
	schemes, scopes []string
}

// securityScheme is one entry of components.securitySchemes.
type securityScheme struct {
	typ      string // http, apiKey, oauth2, openIdConnect, mutualTLS
	scheme   string // for http: bearer, basic, digest...
	in, name string // for apiKey
	tokenURL string // oauth2 clientCredentials
	flows    []string
	scopes   []string
}
