package spec

import (
	"fmt"

	"gopkg.in/yaml.v3"
)

// Each model type decodes through a "raw" twin (same fields, no methods) so
// yaml.v3 fills the fields while the type itself records source positions.

func decodeRecording(n *yaml.Node, v any, src *Src) error {
	err := n.Decode(v)
	src.record(n)
	return err
}

// UnmarshalYAML decodes the mapping and records positions.
func (x *Document) UnmarshalYAML(n *yaml.Node) error {
	type raw Document
	return decodeRecording(n, (*raw)(x), &x.Src)
}

// UnmarshalYAML decodes the mapping and records positions.
func (x *Info) UnmarshalYAML(n *yaml.Node) error {
	type raw Info
	return decodeRecording(n, (*raw)(x), &x.Src)
}

// UnmarshalYAML decodes the mapping and records positions.
func (x *Capability) UnmarshalYAML(n *yaml.Node) error {
	type raw Capability
	return decodeRecording(n, (*raw)(x), &x.Src)
}

// UnmarshalYAML decodes the mapping and records positions.
func (x *Bind) UnmarshalYAML(n *yaml.Node) error {
	type raw Bind
	return decodeRecording(n, (*raw)(x), &x.Src)
}

// UnmarshalYAML decodes the mapping and records positions.
func (x *Consumes) UnmarshalYAML(n *yaml.Node) error {
	type raw Consumes
	return decodeRecording(n, (*raw)(x), &x.Src)
}

// UnmarshalYAML decodes the mapping and records positions.
func (x *ConsumedResource) UnmarshalYAML(n *yaml.Node) error {
	type raw ConsumedResource
	return decodeRecording(n, (*raw)(x), &x.Src)
}

// UnmarshalYAML decodes the mapping and records positions.
func (x *ConsumedOperation) UnmarshalYAML(n *yaml.Node) error {
	type raw ConsumedOperation
	return decodeRecording(n, (*raw)(x), &x.Src)
}

// UnmarshalYAML decodes the mapping and records positions.
func (x *ConsumedParam) UnmarshalYAML(n *yaml.Node) error {
	type raw ConsumedParam
	return decodeRecording(n, (*raw)(x), &x.Src)
}

// UnmarshalYAML decodes the mapping and records positions.
func (x *Authentication) UnmarshalYAML(n *yaml.Node) error {
	type raw Authentication
	return decodeRecording(n, (*raw)(x), &x.Src)
}

// UnmarshalYAML decodes the mapping and records positions.
func (x *ExposedResource) UnmarshalYAML(n *yaml.Node) error {
	type raw ExposedResource
	return decodeRecording(n, (*raw)(x), &x.Src)
}

// UnmarshalYAML decodes the mapping and records positions.
func (x *Forward) UnmarshalYAML(n *yaml.Node) error {
	type raw Forward
	return decodeRecording(n, (*raw)(x), &x.Src)
}

// UnmarshalYAML decodes the mapping and records positions.
func (x *ExposedOperation) UnmarshalYAML(n *yaml.Node) error {
	type raw ExposedOperation
	return decodeRecording(n, (*raw)(x), &x.Src)
}

// UnmarshalYAML decodes the mapping and records positions.
func (x *ExposedParam) UnmarshalYAML(n *yaml.Node) error {
	type raw ExposedParam
	return decodeRecording(n, (*raw)(x), &x.Src)
}

// UnmarshalYAML decodes the mapping and records positions.
func (x *Tool) UnmarshalYAML(n *yaml.Node) error {
	type raw Tool
	return decodeRecording(n, (*raw)(x), &x.Src)
}

// UnmarshalYAML decodes the mapping and records positions.
func (x *Hints) UnmarshalYAML(n *yaml.Node) error {
	type raw Hints
	return decodeRecording(n, (*raw)(x), &x.Src)
}

// UnmarshalYAML decodes the mapping and records positions.
func (x *MCPResource) UnmarshalYAML(n *yaml.Node) error {
	type raw MCPResource
	return decodeRecording(n, (*raw)(x), &x.Src)
}

// UnmarshalYAML decodes the mapping and records positions.
func (x *MCPPrompt) UnmarshalYAML(n *yaml.Node) error {
	type raw MCPPrompt
	return decodeRecording(n, (*raw)(x), &x.Src)
}

// UnmarshalYAML decodes the mapping and records positions.
func (x *PromptArgument) UnmarshalYAML(n *yaml.Node) error {
	type raw PromptArgument
	return decodeRecording(n, (*raw)(x), &x.Src)
}

// UnmarshalYAML decodes the mapping and records positions.
func (x *PromptMessage) UnmarshalYAML(n *yaml.Node) error {
	type raw PromptMessage
	return decodeRecording(n, (*raw)(x), &x.Src)
}

// UnmarshalYAML decodes the mapping and records positions.
func (x *Step) UnmarshalYAML(n *yaml.Node) error {
	type raw Step
	return decodeRecording(n, (*raw)(x), &x.Src)
}

// UnmarshalYAML decodes the mapping and records positions.
func (x *StepMapping) UnmarshalYAML(n *yaml.Node) error {
	type raw StepMapping
	return decodeRecording(n, (*raw)(x), &x.Src)
}

// UnmarshalYAML decodes the mapping and records positions.
func (x *OutputParam) UnmarshalYAML(n *yaml.Node) error {
	type raw OutputParam
	return decodeRecording(n, (*raw)(x), &x.Src)
}

// UnmarshalYAML decodes the mapping and records positions.
func (x *Aggregate) UnmarshalYAML(n *yaml.Node) error {
	type raw Aggregate
	return decodeRecording(n, (*raw)(x), &x.Src)
}

// UnmarshalYAML decodes the mapping and records positions.
func (x *AggregateFunction) UnmarshalYAML(n *yaml.Node) error {
	type raw AggregateFunction
	return decodeRecording(n, (*raw)(x), &x.Src)
}

// UnmarshalYAML decodes the mapping and records positions.
func (x *Semantics) UnmarshalYAML(n *yaml.Node) error {
	type raw Semantics
	return decodeRecording(n, (*raw)(x), &x.Src)
}

// UnmarshalYAML reads a body given either as a raw string or as {type, data}.
func (b *RequestBody) UnmarshalYAML(n *yaml.Node) error {
	n = resolveAlias(n)
	if n.Kind == yaml.ScalarNode {
		b.Src.record(n)
		b.IsRaw = true
		b.Raw = n.Value
		return nil
	}
	type raw RequestBody
	if err := decodeRecording(n, (*raw)(b), &b.Src); err != nil {
		return err
	}
	if d, _ := NodeAt(n, "/data"); d != nil && d != n {
		b.DataNode = d
		b.Data = ToJSONValue(d)
	}
	return nil
}

// UnmarshalYAML reads `resources` according to the block's type.
func (e *Exposes) UnmarshalYAML(n *yaml.Node) error {
	type raw Exposes
	err := decodeRecording(n, (*raw)(e), &e.Src)
	res, key := NodeAt(n, "/resources")
	if key == nil {
		return err
	}
	var rerr error
	switch e.Type {
	case "rest":
		rerr = res.Decode(&e.RestResources)
	case "mcp":
		rerr = res.Decode(&e.MCPResources)
	}
	if err == nil {
		err = rerr
	}
	return err
}

// UnmarshalYAML reads a with block in file order.
func (w *With) UnmarshalYAML(n *yaml.Node) error {
	n = resolveAlias(n)
	if n.Kind != yaml.MappingNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: with must be a mapping of parameter names to values", n.Line)}}
	}
	out := make(With, 0, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], resolveAlias(n.Content[i+1])
		e := WithEntry{Key: k.Value}
		e.Src.Pos = posOf(v)
		if v.Kind == yaml.ScalarNode {
			e.Value = scalarValue(v)
		} else {
			e.Value = ToJSONValue(v)
		}
		out = append(out, e)
	}
	*w = out
	return nil
}

// UnmarshalYAML reads a string map in file order.
func (kv *OrderedKV) UnmarshalYAML(n *yaml.Node) error {
	n = resolveAlias(n)
	if n.Kind != yaml.MappingNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: expected a mapping of names to strings", n.Line)}}
	}
	out := make(OrderedKV, 0, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], resolveAlias(n.Content[i+1])
		e := KV{Key: k.Value, Value: v.Value}
		e.Src.Pos = posOf(k)
		out = append(out, e)
	}
	*kv = out
	return nil
}

// UnmarshalYAML reads object properties in file order.
func (p *NamedOutputs) UnmarshalYAML(n *yaml.Node) error {
	n = resolveAlias(n)
	if n.Kind != yaml.MappingNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: properties must be a mapping of names to output parameters", n.Line)}}
	}
	out := make(NamedOutputs, 0, len(n.Content)/2)
	var firstErr error
	for i := 0; i+1 < len(n.Content); i += 2 {
		e := NamedOutput{Name: n.Content[i].Value}
		if err := n.Content[i+1].Decode(&e.Param); err != nil && firstErr == nil {
			firstErr = err
		}
		out = append(out, e)
	}
	*p = out
	return firstErr
}

// UnmarshalYAML accepts a single parameter (mapping) or a field list (sequence).
func (it *OutputItems) UnmarshalYAML(n *yaml.Node) error {
	n = resolveAlias(n)
	if n.Kind == yaml.SequenceNode {
		return n.Decode(&it.Fields)
	}
	it.Single = new(OutputParam)
	return n.Decode(it.Single)
}

// UnmarshalYAML decodes the mapping and records positions.
func (x *Skill) UnmarshalYAML(n *yaml.Node) error {
	type raw Skill
	return decodeRecording(n, (*raw)(x), &x.Src)
}

// UnmarshalYAML decodes the mapping and records positions.
func (x *SkillTool) UnmarshalYAML(n *yaml.Node) error {
	type raw SkillTool
	return decodeRecording(n, (*raw)(x), &x.Src)
}

// UnmarshalYAML decodes the mapping and records positions.
func (x *SkillSource) UnmarshalYAML(n *yaml.Node) error {
	type raw SkillSource
	return decodeRecording(n, (*raw)(x), &x.Src)
}
