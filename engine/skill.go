package engine

import (
	"fmt"
	"maps"

	"github.com/naftiko/naftiko/engine/inbound"
	"github.com/naftiko/naftiko/spec"
)

// SkillSurface is a compiled skill exposes block: a read-only catalogue of
// agent skills, each grouping actions the file's REST and MCP blocks serve
// (or instructions, files of the skill's folder), for agents to discover.
// It calls nothing.
type SkillSurface struct {
	Capability  *Capability
	Namespace   string
	Address     string // host:port
	Auth        *inbound.Config
	Description string
	Skills      []*Skill
}

// Skill is one catalogued skill.
type Skill struct {
	Name, Description, License, Compatibility string
	AllowedTools, ArgumentHint                string
	UserInvocable, DisableModelInvocation     *bool
	Metadata                                  map[string]string
	// Folder is the skill's `location` as a local path; "" when it has none.
	Folder string
	Tools  []SkillTool
}

// SkillTool is a tool of a skill: an action of another block (Target,
// Action, Mode "rest" or "mcp") or an instruction (a file of Folder).
type SkillTool struct {
	Name, Description    string
	Target, Action, Mode string
	Instruction          string
}

func (c *compiler) compileSkill(ex *spec.Exposes) (*SkillSurface, error) {
	auth, err := c.inboundAuth(ex)
	if err != nil {
		return nil, err
	}
	modes := map[string]string{}
	for _, other := range c.doc.Capability.Exposes {
		if other.Type == "rest" || other.Type == "mcp" {
			modes[other.Namespace] = other.Type
		}
	}
	s := &SkillSurface{Capability: c.cap, Namespace: ex.Namespace, Auth: auth, Description: ex.Description,
		Address: c.address(ex.Namespace, ex.Address, ex.Port)}
	for si := range ex.Skills {
		sk := &ex.Skills[si]
		out := &Skill{Name: sk.Name, Description: sk.Description, License: sk.License, Compatibility: sk.Compatibility,
			AllowedTools: sk.AllowedTools, ArgumentHint: sk.ArgumentHint, UserInvocable: sk.UserInvocable,
			DisableModelInvocation: sk.DisableModelInvocation, Metadata: maps.Clone(sk.Metadata)}
		if sk.Location != "" {
			p, ok := spec.LocalPath(c.doc.Path, sk.Location)
			if !ok {
				return nil, fmt.Errorf("%s: skill %q: location %q is not a local folder", c.where(sk.Pos), sk.Name, sk.Location)
			}
			out.Folder = p
		}
		for ti := range sk.Tools {
			t := &sk.Tools[ti]
			st := SkillTool{Name: t.Name, Description: t.Description, Instruction: t.Instruction}
			if t.From != nil {
				st.Target, st.Action, st.Mode = t.From.SourceNamespace, t.From.Action, modes[t.From.SourceNamespace]
				if st.Mode == "" {
					return nil, fmt.Errorf("%s: skill tool %q takes its action from %q, no REST or MCP block of this file", c.where(t.Pos), t.Name, t.From.SourceNamespace)
				}
			}
			out.Tools = append(out.Tools, st)
		}
		s.Skills = append(s.Skills, out)
	}
	return s, nil
}
