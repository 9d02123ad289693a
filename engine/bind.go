package engine

import (
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/naftiko/naftiko/engine/fault"
	"github.com/naftiko/naftiko/engine/upstream"
	"github.com/naftiko/naftiko/spec"
)

// Request is what a caller sent, by place. The REST adapter fills the HTTP
// places, the MCP adapter Arguments.
//
// Each slot of an action is filled from exactly one place, by its exact
// name; nothing else can reach it:
//
//	slot                           REST                                    MCP
//	route variable {x}             the path segment, nothing else          argument x
//	in: header / cookie            that header / cookie, once              argument x
//	in: query, in: body, or none   the query string or a JSON (or form)    argument x
//	                               body field, not both; repeated only
//	                               for arrays
//	the input `body`               the body's field `body`, else the
//	                               whole JSON body
//	constant (declared value)      never the caller                        never the caller
//
// A request that gives a value twice (two places, repeated in the query
// string, a header given twice), or under another spelling of a slot's
// name (`PATIENTID` for `patientid`), or in a place its slot does not read
// (a route variable in the query string) is refused before any upstream
// call. On REST, other query parameters and body fields are ignored (and
// listed by [Call.Ignored]); on MCP, an argument the tool does not take is
// refused.
type Request struct {
	// RouteValues are the route's variables, in route order, unescaped.
	RouteValues []string
	Query       url.Values
	Header      http.Header
	Cookies     []*http.Cookie
	// Body is the decoded JSON body; nil when the request has none.
	Body any
	// Form holds the fields of an application/x-www-form-urlencoded body.
	Form url.Values
	// Arguments are an MCP tools/call's arguments.
	Arguments map[string]any
}

// Call is one request to an action with its inputs bound, and the record
// of what it sent upstream.
type Call struct {
	action  *Action
	values  []any // by slot; nil: not given
	ignored []string
	sent    []Sent
}

// Sent is one upstream request a call made.
type Sent struct {
	Operation  string            // "namespace.operation"
	PathParams map[string]string // the values of its path parameters
}

// Value returns the bound value of a slot, by its name.
func (c *Call) Value(name string) (any, bool) {
	i, ok := c.action.byName.get(name)
	if !ok || c.values[i] == nil {
		return nil, false
	}
	return c.values[i], true
}

// Ignored lists what a REST caller sent that no slot takes, sorted.
func (c *Call) Ignored() []string { return c.ignored }

// Sent lists the upstream requests made so far, in order.
func (c *Call) Sent() []Sent { return c.sent }

// PathParams merges the path parameters of every request sent: what an
// audit line records (the patient id, for the seed).
func (c *Call) PathParams() map[string]string {
	if len(c.sent) == 1 {
		return c.sent[0].PathParams
	}
	var out map[string]string
	for _, s := range c.sent {
		for k, v := range s.PathParams {
			if out == nil {
				out = map[string]string{}
			}
			out[k] = v
		}
	}
	return out
}

func (c *Call) record(op *upstream.Operation, args upstream.Args) {
	c.sent = append(c.sent, Sent{Operation: op.Namespace + "." + op.Name, PathParams: op.PathValues(args)})
}

// Bind fills the action's slots from a request, by the precedence of
// [Request], and checks every value against its slot's type and pattern.
// A refusal is a BadInput fault; no upstream call is made.
func (a *Action) Bind(r *Request) (*Call, error) {
	c := &Call{action: a, values: make([]any, len(a.Inputs))}
	var err error
	if a.rest {
		err = a.bindREST(c, r)
	} else {
		err = a.bindArguments(c, r.Arguments)
	}
	if err != nil {
		return nil, err
	}
	for i := range a.Inputs {
		in := &a.Inputs[i]
		if in.Constant != nil {
			c.values[i] = *in.Constant
			continue
		}
		v := c.values[i]
		if v == nil || v == "" {
			c.values[i] = nil
			if in.Required {
				return nil, fault.New(fault.BadInput, "missing required input %q%s", in.Name, where(in.In))
			}
			continue
		}
		cv, err := checkInput(in, v)
		if err != nil {
			return nil, err
		}
		c.values[i] = cv
	}
	return c, nil
}

func (a *Action) bindREST(c *Call, r *Request) error {
	fields, _ := r.Body.(map[string]any)
	if r.Form != nil {
		fields = make(map[string]any, len(r.Form))
		for k, vs := range r.Form {
			fields[k] = textValues(vs)
		}
	}
	// With a slot for the whole body and no field of that name, the body is
	// the payload: its fields are not inputs of their own.
	payload := a.wholeBody >= 0 && r.Body != nil && fields["body"] == nil
	for i := range a.Inputs {
		in := &a.Inputs[i]
		if in.Constant != nil {
			continue
		}
		switch in.In {
		case "path":
			if in.routeVar >= 0 && in.routeVar < len(r.RouteValues) {
				c.values[i] = r.RouteValues[in.routeVar]
			}
		case "header":
			vs := r.Header.Values(in.Name)
			if len(vs) > 1 {
				return fault.New(fault.BadInput, "header %s is given %d times; it takes one value", in.Name, len(vs))
			}
			if len(vs) == 1 {
				c.values[i] = vs[0]
			}
		case "cookie":
			n := 0
			for _, ck := range r.Cookies {
				if ck.Name == in.Name {
					c.values[i] = ck.Value
					n++
				}
			}
			if n > 1 {
				return fault.New(fault.BadInput, "cookie %s is given %d times; it takes one value", in.Name, n)
			}
		default:
			qv, inQuery := r.Query[in.Name]
			bv, inBody := fields[in.Name]
			if i == a.wholeBody && payload {
				bv, inBody = r.Body, true
			}
			if inQuery && inBody {
				return fault.New(fault.BadInput, "input %q is given both in the query string and in the body; give it once", in.Name)
			}
			switch {
			case inQuery && len(qv) > 1 && in.Type != "array":
				return fault.New(fault.BadInput, "query parameter %q is given %d times; it takes one value", in.Name, len(qv))
			case inQuery:
				c.values[i] = textValues(qv)
			case inBody:
				c.values[i] = bv
			}
		}
	}
	if err := a.checkNames(c, mapKeys(r.Query), "the query string"); err != nil {
		return err
	}
	if !payload {
		return a.checkNames(c, mapKeys(fields), "the body")
	}
	return nil
}

// checkNames refuses names given where their slot does not read them, or
// spelled unlike the slot they would reach; it records the others as
// ignored.
func (a *Action) checkNames(c *Call, names []string, place string) error {
	for _, name := range names {
		i, exact := a.byName.get(name)
		if !exact {
			if j, near := a.byKey.get(spelling(name)); near {
				in := &a.Inputs[j]
				if in.In == "path" {
					return fault.New(fault.BadInput, "%q in %s would set the path parameter %q, which only the path gives", name, place, in.Name)
				}
				return fault.New(fault.BadInput, "%q in %s is not an input of this operation; did you mean %q? Names are matched exactly", name, place, in.Name)
			}
			c.ignored = append(c.ignored, name)
			continue
		}
		in := &a.Inputs[i]
		switch {
		case in.Constant != nil:
			c.ignored = append(c.ignored, name) // fixed by the capability file
		case in.In == "path":
			return fault.New(fault.BadInput, "%q is a path parameter of this route; it cannot also be given in %s", name, place)
		case in.In == "header" || in.In == "cookie":
			return fault.New(fault.BadInput, "%q is read from the %s %s; it cannot be given in %s", name, in.In, name, place)
		}
	}
	return nil
}

func (a *Action) bindArguments(c *Call, args map[string]any) error {
	var unknown []string
	for name, v := range args {
		i, ok := a.byName.get(name)
		if !ok || a.Inputs[i].Constant != nil {
			unknown = append(unknown, name)
			continue
		}
		c.values[i] = v
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	name := unknown[0]
	if i, ok := a.byName.get(name); ok {
		return fault.New(fault.BadInput, "argument %q is fixed by the capability file and cannot be given", a.Inputs[i].Name)
	}
	if j, near := a.byKey.get(spelling(name)); near {
		return fault.New(fault.BadInput, "unknown argument %q; did you mean %q? Names are matched exactly", name, a.Inputs[j].Name)
	}
	return fault.New(fault.BadInput, "unknown argument %q", name)
}

// spelling is a name with case, `-` and `_` ignored: the spellings that
// could be taken for one another.
func spelling(s string) string { return spec.LooseKey(s) }

func mapKeys[V any](m map[string]V) []string {
	if len(m) == 0 {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// textValues is one text value, or an array of them when repeated.
func textValues(vs []string) any {
	if len(vs) == 1 {
		return vs[0]
	}
	arr := make([]any, len(vs))
	for i, v := range vs {
		arr[i] = v
	}
	return arr
}

func where(in string) string {
	switch in {
	case "path":
		return " (path parameter)"
	case "query":
		return " (query parameter)"
	case "header":
		return " (header)"
	case "cookie":
		return " (cookie)"
	case "body":
		return " (body field)"
	}
	return ""
}

// checkInput validates a value against its slot's type and pattern, and
// converts text to the declared type (REST query values are always text).
func checkInput(inp *Input, v any) (any, error) {
	bad := func(what string) error {
		return fault.New(fault.BadInput, "input %q must be %s", inp.Name, what)
	}
	switch inp.Type {
	case "number", "integer":
		want := "a number"
		if inp.Type == "integer" {
			want = "an integer"
		}
		switch t := v.(type) {
		case float64:
			if inp.Type == "integer" && t != float64(int64(t)) {
				return nil, bad(want)
			}
			return t, nil
		case string:
			f, err := strconv.ParseFloat(t, 64)
			if err != nil || (inp.Type == "integer" && f != float64(int64(f))) {
				return nil, bad(want)
			}
			return f, nil
		default:
			return nil, bad(want)
		}
	case "boolean":
		switch t := v.(type) {
		case bool:
			return t, nil
		case string:
			b, err := strconv.ParseBool(t)
			if err != nil {
				return nil, bad("true or false")
			}
			return b, nil
		default:
			return nil, bad("true or false")
		}
	case "", "string":
		switch v.(type) {
		case string:
		case float64, bool:
			v = upstream.ToText(v)
		default:
			return nil, bad("a string")
		}
		if inp.pattern != nil && !inp.pattern.MatchString(v.(string)) {
			return nil, bad("match " + inp.pattern.String())
		}
	case "array":
		if s, ok := v.(string); ok {
			if strings.HasPrefix(strings.TrimSpace(s), "[") {
				var arr []any
				if err := json.Unmarshal([]byte(s), &arr); err != nil {
					return nil, bad("an array (JSON text that does not parse: " + err.Error() + ")")
				}
				return arr, nil
			}
			parts := strings.Split(s, ",")
			arr := make([]any, len(parts))
			for i, p := range parts {
				arr[i] = p
			}
			return arr, nil
		}
		if _, ok := v.([]any); !ok {
			return nil, bad("an array")
		}
	case "object":
		if s, ok := v.(string); ok {
			// A query string can only carry an object as JSON text.
			var obj map[string]any
			if err := json.Unmarshal([]byte(s), &obj); err != nil || obj == nil {
				return nil, bad("an object (JSON text in a query parameter)")
			}
			return obj, nil
		}
		if _, ok := v.(map[string]any); !ok {
			return nil, bad("an object")
		}
	}
	return v, nil
}
