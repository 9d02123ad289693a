package spec

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

// Checks of exposes blocks: listeners, REST routes, MCP names, prompts and
// skills.

// --- exposes -----------------------------------------------------------------

func (c *checker) checkExposes() {
	type listener struct {
		pos     Pos
		address string
		label   string
	}
	ports := map[int][]listener{}
	var control *Exposes
	for _, e := range c.exposes() {
		label := fmt.Sprintf("%s exposes block `%s`", e.Type, e.Namespace)
		if e.Type == "control" {
			label = "control exposes block"
		}
		stdio := e.Type == "mcp" && e.Transport == "stdio"
		if e.Port != 0 && !stdio {
			for _, l := range ports[e.Port] {
				if l.address != "" && e.Address != "" && l.address != e.Address {
					continue
				}
				c.add(e.At("port"), Error, "port-conflict", "port %d is already used by the %s (line %d); give each exposes block its own port", e.Port, l.label, l.pos.Line)
				break
			}
			ports[e.Port] = append(ports[e.Port], listener{e.At("port"), e.Address, label})
		}
		c.checkAuth(e.Authentication, false)
		if stdio && e.Authentication != nil {
			c.add(e.KeyAt("authentication"), Warning, "mcp-stdio-auth", "authentication on a stdio MCP server has no effect: a local process has no caller to check")
		}
		switch e.Type {
		case "rest":
			if len(e.RestResources) == 0 {
				c.add(e.KeyAt("type"), Error, "exposes-empty", "REST exposes block `%s` has no `resources`: it would serve nothing", e.Namespace)
			}
			c.checkRoutes(e)
		case "mcp":
			c.checkUnique(e, "tool-name-duplicate", "tool", func(yield func(string, Pos)) {
				for i := range e.Tools {
					yield(e.Tools[i].Name, e.Tools[i].At("name"))
				}
			})
			c.checkUnique(e, "name-duplicate", "MCP resource", func(yield func(string, Pos)) {
				for i := range e.MCPResources {
					yield(e.MCPResources[i].Name, e.MCPResources[i].At("name"))
				}
			})
			c.checkUnique(e, "name-duplicate", "prompt", func(yield func(string, Pos)) {
				for i := range e.Prompts {
					yield(e.Prompts[i].Name, e.Prompts[i].At("name"))
				}
			})
			c.checkPrompts(e)
		case "skill":
			c.checkSkills(e)
		case "control":
			if control != nil {
				c.add(e.KeyAt("type"), Error, "control-duplicate", "a second control exposes block (the first is at line %d): a capability has one", control.Pos.Line)
			}
			control = e
		}
	}
}

func (c *checker) checkUnique(e *Exposes, rule, kind string, each func(func(string, Pos))) {
	seen := map[string]Pos{}
	each(func(name string, p Pos) {
		if name == "" {
			return
		}
		if prev, ok := seen[name]; ok {
			c.add(p, Error, rule, "%s `%s` is already declared at line %d in `%s`", kind, name, prev.Line, e.Namespace)
			return
		}
		seen[name] = p
	})
}

// routeKey normalises a REST path so that `{a}` and `{b}` in the same place
// compare equal.
func routeKey(path string) string {
	var b strings.Builder
	last := 0
	for _, ph := range ScanPlaceholders(path, true) {
		b.WriteString(path[last:ph.Start])
		b.WriteString("{}")
		last = ph.End
	}
	b.WriteString(path[last:])
	k := b.String()
	if len(k) > 1 {
		k = strings.TrimRight(k, "/")
	}
	return k
}

func (c *checker) checkRoutes(e *Exposes) {
	type route struct {
		pos  Pos
		path string
	}
	seen := map[string]route{}
	for ri := range e.RestResources {
		r := &e.RestResources[ri]
		if r.Path != "" && !strings.HasPrefix(r.Path, "/") {
			c.add(r.At("path"), Error, "rest-path-slash", "REST resource path `%s` must start with `/` (e.g. /%s)", r.Path, r.Path)
		}
		for oi := range r.Operations {
			op := &r.Operations[oi]
			method := strings.ToUpper(op.Method)
			if method == "" {
				method = "GET"
			}
			path := JoinPath(r.Path, op.Path)
			k := method + " " + routeKey(path)
			if prev, ok := seen[k]; ok {
				c.add(op.At("method"), Error, "route-duplicate", "%s %s is already served by the operation at line %d (`%s`): one route, one operation", method, path, prev.pos.Line, prev.path)
				continue
			}
			seen[k] = route{op.At("method"), path}
		}
	}
}

func (c *checker) checkPrompts(e *Exposes) {
	for pi := range e.Prompts {
		p := &e.Prompts[pi]
		var args []string
		for _, a := range p.Arguments {
			args = append(args, a.Name)
		}
		for _, m := range p.Template {
			for _, ph := range ScanPlaceholders(m.Content, false) {
				if ph.Namespace() != "" || slices.Contains(args, ph.Name) || c.declared(ph.Name) {
					continue
				}
				msg := fmt.Sprintf("`{{%s}}` in prompt `%s` is not one of its arguments", ph.Name, p.Name)
				if s := suggest(ph.Name, args); s != "" {
					msg += fmt.Sprintf(" (did you mean `%s`?)", s)
				}
				c.add(m.At("content"), Warning, "placeholder-unknown", "%s", msg)
			}
		}
	}
}

func (c *checker) checkSkills(e *Exposes) {
	for si := range e.Skills {
		skill := &e.Skills[si]
		for i := range skill.Tools {
			t := &skill.Tools[i]
			if t.From == nil || t.From.SourceNamespace == "" {
				continue
			}
			src := c.exposesNS[t.From.SourceNamespace]
			if src == nil || (src.Type != "rest" && src.Type != "mcp") {
				var names []string
				for ns, ex := range c.exposesNS {
					if ex.Type == "rest" || ex.Type == "mcp" {
						names = append(names, ns)
					}
				}
				msg := fmt.Sprintf("skill tool `%s` takes its action from `%s`, which is no REST or MCP exposes namespace of this file", t.Name, t.From.SourceNamespace)
				if s := suggest(t.From.SourceNamespace, names); s != "" {
					msg += fmt.Sprintf(" (did you mean `%s`?)", s)
				}
				c.add(t.From.At("sourceNamespace"), Error, "skill-source-unknown", "%s", msg)
				continue
			}
			var actions []string
			for _, tl := range src.Tools {
				actions = append(actions, tl.Name)
			}
			for _, r := range src.RestResources {
				for _, op := range r.Operations {
					actions = append(actions, op.Name)
				}
			}
			if t.From.Action != "" && !slices.Contains(actions, t.From.Action) {
				msg := fmt.Sprintf("`%s` has no tool or operation `%s`", t.From.SourceNamespace, t.From.Action)
				if s := suggest(t.From.Action, actions); s != "" {
					msg += fmt.Sprintf(" (did you mean `%s`?)", s)
				}
				c.add(t.From.At("action"), Error, "skill-source-unknown", "%s", msg)
			}
		}
		if skill.Location != "" {
			c.checkSkillLocation(skill)
		} else {
			c.checkSkillInstructions(skill)
		}
	}
}

// checkSkillLocation holds a skill's instructions to files inside its
// folder: `location` is what the skill block serves files from, and an
// instruction names one of them.
func (c *checker) checkSkillLocation(skill *Skill) {
	for i := range skill.Tools {
		t := &skill.Tools[i]
		if t.Instruction == "" {
			continue
		}
		clean := filepath.ToSlash(filepath.Clean(filepath.FromSlash(t.Instruction)))
		if filepath.IsAbs(t.Instruction) || strings.HasPrefix(t.Instruction, "/") || clean == ".." || strings.HasPrefix(clean, "../") {
			c.add(t.At("instruction"), Error, "skill-instruction-location",
				"instruction `%s` of skill tool `%s` leaves the skill's folder: name a file inside %s", t.Instruction, t.Name, skill.Location)
		}
	}
}

// checkSkillInstructions refuses instructions of a skill without a folder.
func (c *checker) checkSkillInstructions(skill *Skill) {
	for i := range skill.Tools {
		if t := &skill.Tools[i]; t.Instruction != "" {
			c.add(t.At("instruction"), Error, "skill-instruction-location",
				"skill tool `%s` is the instruction `%s`, but skill `%s` has no `location` folder to serve it from", t.Name, t.Instruction, skill.Name)
		}
	}
}
