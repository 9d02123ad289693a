package spec

import "gopkg.in/yaml.v3"

// Document is one capability file as written. It mirrors the YAML closely so
// that validation can speak in the file's own terms; the engine compiles it
// into a runtime plan and never looks at YAML again.
type Document struct {
	Src
	Naftiko    string      `yaml:"naftiko"`
	Info       *Info       `yaml:"info"`
	Binds      []Bind      `yaml:"binds"`
	Consumes   []Consumes  `yaml:"consumes"`
	Capability *Capability `yaml:"capability"`

	// Path is the file the document was read from ("" for in-memory input).
	Path string `yaml:"-"`
	// Root is the parsed YAML, kept for diagnostics that point into it.
	// A large document that Validator.Load read in pieces keeps the tree
	// of its skeleton only: its long lists hold their first items, and
	// what the checks read from the rest is in pieces.
	Root *yaml.Node `yaml:"-"`
	// pieces is, for a document loaded in pieces, what the checks read
	// from the trees it did not keep (texts.go).
	pieces *pieceTexts
	// Ikanos is the Ikanos version the file was written in ("" for a
	// naftiko document); its tree is read as alpha2 (ikanos.go).
	Ikanos string `yaml:"-"`
}

// DropTree releases what only validation reads, once the document has been
// validated: its YAML tree and, for a document loaded in pieces, what
// stands in for the trees it did not keep. Positions (Src) stay; Validate
// afterwards checks the model alone.
func (d *Document) DropTree() { d.Root, d.pieces = nil, nil }

// AllConsumes lists the root's consumes entries, then the capability's.
func (d *Document) AllConsumes() []*Consumes {
	var out []*Consumes
	for i := range d.Consumes {
		out = append(out, &d.Consumes[i])
	}
	if cp := d.Capability; cp != nil {
		for i := range cp.Consumes {
			out = append(out, &cp.Consumes[i])
		}
	}
	return out
}

// Info is the human-readable metadata block.
type Info struct {
	Src
	Label       string   `yaml:"label"`
	Title       string   `yaml:"title"` // not in the official schema; read as label
	Description string   `yaml:"description"`
	Tags        []string `yaml:"tags"`
}

// DisplayName is the label, or the title some files write instead.
func (i *Info) DisplayName() string {
	if i == nil {
		return ""
	}
	if i.Label != "" {
		return i.Label
	}
	return i.Title
}

// Capability holds what the file consumes and exposes.
type Capability struct {
	Src
	Binds      []Bind      `yaml:"binds"`
	Consumes   []Consumes  `yaml:"consumes"`
	Exposes    []Exposes   `yaml:"exposes"`
	Aggregates []Aggregate `yaml:"aggregates"`
}

// Bind declares variables read from the environment or from a file.
type Bind struct {
	Src
	Namespace   string    `yaml:"namespace"`
	Description string    `yaml:"description"`
	Location    string    `yaml:"location"`
	Keys        OrderedKV `yaml:"keys"`
}

// Consumes is an upstream HTTP API, inline or imported from another file.
type Consumes struct {
	Src
	Type            string             `yaml:"type"`
	Namespace       string             `yaml:"namespace"`
	Description     string             `yaml:"description"`
	BaseURI         string             `yaml:"baseUri"`
	InputParameters []ConsumedParam    `yaml:"inputParameters"`
	Authentication  *Authentication    `yaml:"authentication"`
	Resources       []ConsumedResource `yaml:"resources"`

	// Import form: `import` names the namespace in the file at `location`,
	// `as` renames it here.
	Import   string `yaml:"import"`
	Location string `yaml:"location"`
	As       string `yaml:"as"`
}

// ConsumedResource groups operations that share a path.
type ConsumedResource struct {
	Src
	Name            string              `yaml:"name"`
	Label           string              `yaml:"label"`
	Description     string              `yaml:"description"`
	Path            string              `yaml:"path"`
	InputParameters []ConsumedParam     `yaml:"inputParameters"`
	Operations      []ConsumedOperation `yaml:"operations"`
}

// ConsumedOperation is one upstream call.
type ConsumedOperation struct {
	Src
	Name             string          `yaml:"name"`
	Label            string          `yaml:"label"`
	Description      string          `yaml:"description"`
	Method           string          `yaml:"method"`
	Path             string          `yaml:"path"` // not in the schema; some files put a path here
	InputParameters  []ConsumedParam `yaml:"inputParameters"`
	OutputRawFormat  string          `yaml:"outputRawFormat"`
	OutputSchema     string          `yaml:"outputSchema"`
	OutputParameters []OutputParam   `yaml:"outputParameters"`
	Body             *RequestBody    `yaml:"body"`
}

// ConsumedParam is a parameter of an upstream call.
type ConsumedParam struct {
	Src
	Name  string `yaml:"name"`
	In    string `yaml:"in"`
	Value string `yaml:"value"`
	// Outside the official schema, but common in real files and useful to
	// infer exposed input schemas.
	Type        string `yaml:"type"`
	Description string `yaml:"description"`
	Required    *bool  `yaml:"required"`
	Style       string `yaml:"style"`   // "form" (repeat) or "comma"-joined arrays
	Explode     *bool  `yaml:"explode"` // OpenAPI-style array serialisation
}

// RequestBody is an operation's payload: a raw template string or a typed body.
type RequestBody struct {
	Src
	Raw      string     `yaml:"-"` // set when the body is a plain string
	IsRaw    bool       `yaml:"-"`
	Type     string     `yaml:"type"`
	Data     any        `yaml:"data"`
	DataNode *yaml.Node `yaml:"-"`
}

// Authentication covers every scheme the schema knows, inbound and outbound.
type Authentication struct {
	Src
	Type string `yaml:"type"`
	// basic, digest
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// bearer
	Token string `yaml:"token"`
	// apikey (`in`/`name` are tolerated spellings of `placement`/`key`)
	Key       string    `yaml:"key"`
	Value     string    `yaml:"value"`
	Placement string    `yaml:"placement"`
	In        string    `yaml:"in"`
	Name      string    `yaml:"name"`
	Headers   OrderedKV `yaml:"headers"`
	// oauth2
	AuthorizationServerURI string   `yaml:"authorizationServerUri"`
	Resource               string   `yaml:"resource"`
	Scopes                 []string `yaml:"scopes"`
	Audience               string   `yaml:"audience"`
	TokenEndpoint          string   `yaml:"tokenEndpoint"`
	TokenValidation        string   `yaml:"tokenValidation"`
	ClientID               string   `yaml:"clientId"`
	ClientSecret           string   `yaml:"clientSecret"`
	// aws-sig-v4 (consumes only; not in the official alpha2 schema)
	AccessKeyID  string `yaml:"accessKeyId"`
	SecretKey    string `yaml:"secretKey"`
	SessionToken string `yaml:"sessionToken"`
	Region       string `yaml:"region"`
	Service      string `yaml:"service"`
}

// Exposes is a surface the capability serves. Which fields apply depends on Type.
type Exposes struct {
	Src
	Type           string          `yaml:"type"`
	Namespace      string          `yaml:"namespace"`
	Address        string          `yaml:"address"`
	Port           int             `yaml:"port"`
	Description    string          `yaml:"description"`
	Transport      string          `yaml:"transport"`
	Authentication *Authentication `yaml:"authentication"`

	// `resources` means REST resources on a rest block and MCP resources on
	// an mcp block; the loader fills the one that matches Type.
	RestResources []ExposedResource `yaml:"-"`
	MCPResources  []MCPResource     `yaml:"-"`
	Tools         []Tool            `yaml:"tools"`
	Prompts       []MCPPrompt       `yaml:"prompts"`
	Skills        []Skill           `yaml:"skills"`
	// Management and Observability are read on a control block.
	Management    *ControlManagement    `yaml:"management"`
	Observability *ControlObservability `yaml:"observability"`
}

// ControlManagement is what naftiko reads of a control block's
// `management`: whether health and status are served. Other keys
// (reload, validate, logs, scripting) are kept by name only.
type ControlManagement struct {
	Health *bool                `yaml:"health"`
	Info   *bool                `yaml:"info"`
	Other  map[string]yaml.Node `yaml:",inline"`
}

// ControlObservability is what naftiko reads of a control block's
// `observability`: whether metrics are served. Traces follow the OTEL_*
// environment; the other keys are kept by name only.
type ControlObservability struct {
	Enabled *bool `yaml:"enabled"`
	Metrics struct {
		Local struct {
			Enabled *bool `yaml:"enabled"`
		} `yaml:"local"`
	} `yaml:"metrics"`
	Other map[string]yaml.Node `yaml:",inline"`
}

// ExposedResource is a REST path.
type ExposedResource struct {
	Src
	Path            string             `yaml:"path"`
	Name            string             `yaml:"name"`
	Label           string             `yaml:"label"`
	Description     string             `yaml:"description"`
	InputParameters []ExposedParam     `yaml:"inputParameters"`
	Operations      []ExposedOperation `yaml:"operations"`
	Forward         *Forward           `yaml:"forward"`
}

// Forward proxies a REST resource to a consumes namespace.
type Forward struct {
	Src
	TargetNamespace string   `yaml:"targetNamespace"`
	TrustedHeaders  []string `yaml:"trustedHeaders"`
}

// Invocation is what REST operations, MCP tools, MCP resources and aggregate
// functions share: how they reach upstream and how they shape the answer.
type Invocation struct {
	Call             string        `yaml:"call"`
	Ref              string        `yaml:"ref"`
	With             With          `yaml:"with"`
	Steps            []Step        `yaml:"steps"`
	Mappings         []StepMapping `yaml:"mappings"`
	OutputParameters []OutputParam `yaml:"outputParameters"`
}

// ExposedOperation is one method on a REST resource.
type ExposedOperation struct {
	Src
	Method          string         `yaml:"method"`
	Name            string         `yaml:"name"`
	Path            string         `yaml:"path"` // not in the schema; a sub-path after the resource's path (real files use it to tell two POSTs apart)
	Label           string         `yaml:"label"`
	Description     string         `yaml:"description"`
	InputParameters []ExposedParam `yaml:"inputParameters"`
	Invocation      `yaml:",inline"`
}

// ExposedParam is an input of a REST operation, MCP tool or aggregate function.
type ExposedParam struct {
	Src
	Name        string `yaml:"name"`
	In          string `yaml:"in"`
	Type        string `yaml:"type"`
	Description string `yaml:"description"`
	Pattern     string `yaml:"pattern"`
	Value       string `yaml:"value"`
	Required    *bool  `yaml:"required"`
}

// Tool is an MCP tool.
type Tool struct {
	Src
	Name            string         `yaml:"name"`
	Label           string         `yaml:"label"`
	Description     string         `yaml:"description"`
	InputParameters []ExposedParam `yaml:"inputParameters"`
	Hints           *Hints         `yaml:"hints"`
	Invocation      `yaml:",inline"`
}

// Hints are MCP tool annotations.
type Hints struct {
	Src
	ReadOnly    *bool `yaml:"readOnly"`
	Destructive *bool `yaml:"destructive"`
	Idempotent  *bool `yaml:"idempotent"`
	OpenWorld   *bool `yaml:"openWorld"`
}

// MCPResource is data an agent can read.
type MCPResource struct {
	Src
	Name        string `yaml:"name"`
	Label       string `yaml:"label"`
	URI         string `yaml:"uri"`
	Description string `yaml:"description"`
	MimeType    string `yaml:"mimeType"`
	Location    string `yaml:"location"`
	Invocation  `yaml:",inline"`
}

// MCPPrompt is a reusable prompt template.
type MCPPrompt struct {
	Src
	Name        string           `yaml:"name"`
	Label       string           `yaml:"label"`
	Description string           `yaml:"description"`
	Arguments   []PromptArgument `yaml:"arguments"`
	Template    []PromptMessage  `yaml:"template"`
	Location    string           `yaml:"location"`
}

// PromptArgument is one argument of a prompt.
type PromptArgument struct {
	Src
	Name        string `yaml:"name"`
	Label       string `yaml:"label"`
	Description string `yaml:"description"`
	Required    *bool  `yaml:"required"`
}

// PromptMessage is one message of a prompt template.
type PromptMessage struct {
	Src
	Role    string `yaml:"role"`
	Content string `yaml:"content"`
}

// Step is one step of an orchestration: call, lookup or script.
type Step struct {
	Src
	Type string `yaml:"type"`
	Name string `yaml:"name"`
	// call
	Call string `yaml:"call"`
	With With   `yaml:"with"`
	// lookup
	Index        string   `yaml:"index"`
	Match        string   `yaml:"match"`
	LookupValue  string   `yaml:"lookupValue"`
	LookupFields []string `yaml:"outputParameters"`
	// script
	Language     string   `yaml:"language"`
	Location     string   `yaml:"location"`
	File         string   `yaml:"file"`
	Dependencies []string `yaml:"dependencies"`
}

// StepMapping copies a step result into the response.
type StepMapping struct {
	Src
	TargetName string `yaml:"targetName"`
	Value      string `yaml:"value"`
}

// OutputParam describes one output: mapped (JSONPath), constant (value) or
// typed with nested properties/items. One type serves every output flavour of
// the schema; validation tells them apart.
type OutputParam struct {
	Src
	Name        string       `yaml:"name"`
	Type        string       `yaml:"type"`
	Description string       `yaml:"description"`
	Mapping     string       `yaml:"mapping"`
	Value       *string      `yaml:"value"`
	Const       any          `yaml:"const"`
	Properties  NamedOutputs `yaml:"properties"`
	Items       *OutputItems `yaml:"items"`
	Values      *OutputParam `yaml:"values"`
	MaxLength   *int         `yaml:"maxLength"`
	In          string       `yaml:"in"`
}

// OutputItems describes array elements: one typed parameter (mapped outputs)
// or a list of named fields (orchestrated outputs).
type OutputItems struct {
	Single *OutputParam
	Fields []OutputParam
}

// NamedOutput is one entry of an object output's properties, in file order.
type NamedOutput struct {
	Name  string
	Param OutputParam
}

// NamedOutputs keeps properties in the order the file gives them.
type NamedOutputs []NamedOutput

// Aggregate groups reusable functions that tools and operations `ref`.
type Aggregate struct {
	Src
	Label     string              `yaml:"label"`
	Namespace string              `yaml:"namespace"`
	Functions []AggregateFunction `yaml:"functions"`
}

// AggregateFunction is a reusable invocation.
type AggregateFunction struct {
	Src
	Name            string         `yaml:"name"`
	Description     string         `yaml:"description"`
	Semantics       *Semantics     `yaml:"semantics"`
	InputParameters []ExposedParam `yaml:"inputParameters"`
	Invocation      `yaml:",inline"`
}

// Semantics describe an aggregate function's behaviour.
type Semantics struct {
	Src
	Safe       *bool `yaml:"safe"`
	Idempotent *bool `yaml:"idempotent"`
	Cacheable  *bool `yaml:"cacheable"`
}

// With feeds consumed parameters, in file order.
type With []WithEntry

// WithEntry is one `param: value` of a with block. Value is a string, a
// number or a bool as written.
type WithEntry struct {
	Src
	Key   string
	Value any
}

// KV is one key of an ordered string map.
type KV struct {
	Src
	Key   string
	Value string
}

// OrderedKV is a string map that remembers file order and positions.
type OrderedKV []KV

// Get returns the value for key and whether it was present.
func (kv OrderedKV) Get(key string) (string, bool) {
	for _, e := range kv {
		if e.Key == key {
			return e.Value, true
		}
	}
	return "", false
}

// Skill is one agent skill a skill block catalogues: metadata an agent
// reads to decide when to use it, the tools it groups (each an action of
// another exposes block of the file, or an instruction), and optionally a
// folder of files (`location`) it is distributed with.
type Skill struct {
	Src
	Name                   string            `yaml:"name"`
	Description            string            `yaml:"description"`
	License                string            `yaml:"license"`
	Compatibility          string            `yaml:"compatibility"`
	Metadata               map[string]string `yaml:"metadata"`
	AllowedTools           string            `yaml:"allowed-tools"`
	ArgumentHint           string            `yaml:"argument-hint"`
	UserInvocable          *bool             `yaml:"user-invocable"`
	DisableModelInvocation *bool             `yaml:"disable-model-invocation"`
	Location               string            `yaml:"location"`
	Tools                  []SkillTool       `yaml:"tools"`
}

// SkillTool is one tool of a skill: derived from an exposed tool or
// operation (`from`), or an instruction to the agent.
type SkillTool struct {
	Src
	Name        string       `yaml:"name"`
	Description string       `yaml:"description"`
	From        *SkillSource `yaml:"from"`
	Instruction string       `yaml:"instruction"`
}

// SkillSource names the exposed tool or REST operation a skill tool is.
type SkillSource struct {
	Src
	SourceNamespace string `yaml:"sourceNamespace"`
	Action          string `yaml:"action"`
}
