package main

// The drop-in harness: one capability file at a time, through the built
// binary. It starts `naftiko run` against a recording fake upstream, calls
// every REST route and MCP tool the file exposes, and compares what the
// upstream received, and what the caller got back, with the oracle.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/naftiko/naftiko/spec"
)

// dropinResult is one file's line in the report.
type dropinResult struct {
	file    string
	group   string
	version string
	verdict string // pass, FAIL, or why the file cannot run
	ok      bool   // the verdict is what it should be
	routes  int
	tools   int
	checked int // upstream requests compared
	skills  int // skills read from skill blocks and compared
	reasons []string
}

func (r *dropinResult) fail(format string, args ...any) {
	r.ok = false
	if len(r.reasons) < 12 {
		r.reasons = append(r.reasons, fmt.Sprintf(format, args...))
	} else if len(r.reasons) == 12 {
		r.reasons = append(r.reasons, "…")
	}
}

// validateVerdict is what `naftiko validate` said about a file.
type validateVerdict struct {
	valid bool
	rules []string // error rules, sorted, unique
	first string   // first error message
}

// validateFiles runs `naftiko validate --format json` once over files.
func validateFiles(files []string) (map[string]validateVerdict, error) {
	cmd := exec.Command(naftikoBin, append([]string{"validate", "--format", "json"}, files...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return nil, err
	}
	var res validateJSONResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		return nil, fmt.Errorf("validate output: %v\n%s", err, errb.String())
	}
	verdicts := map[string]validateVerdict{}
	for _, f := range res.Files {
		v := validateVerdict{valid: f.Valid}
		seen := map[string]bool{}
		for _, d := range f.Diagnostics {
			if d.Severity != "error" {
				continue
			}
			if v.first == "" {
				v.first = d.Message
			}
			if !seen[d.Rule] {
				seen[d.Rule] = true
				v.rules = append(v.rules, d.Rule)
			}
		}
		sort.Strings(v.rules)
		verdicts[f.Path] = v
	}
	return verdicts, nil
}

type validateJSONResult struct {
	Files []struct {
		Path        string `json:"path"`
		Valid       bool   `json:"valid"`
		Diagnostics []struct {
			Severity string `json:"severity"`
			Rule     string `json:"rule"`
			Message  string `json:"message"`
		} `json:"diagnostics"`
	} `json:"files"`
}

// fileRun is one file being exercised.
type fileRun struct {
	m       *capModel
	res     *dropinResult
	fake    *fakeUpstream
	answers *answerSet
	proc    *runningNaftiko
	secrets []string
	client  *http.Client
	// answersConflict: the file maps some operation in incompatible ways, so
	// a null in an expected answer is the file's doing, not the fake's.
	answersConflict bool
}

// runningNaftiko is a naftiko process started without a testing.T, so a
// worker pool can run many.
type runningNaftiko struct {
	cmd    *exec.Cmd
	stderr *lockedBuffer
	done   chan struct{}
	code   int
}

func startProcess(env map[string]string, args []string) (*runningNaftiko, error) {
	p := &runningNaftiko{stderr: &lockedBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(naftikoBin, args...)
	p.cmd.Env = os.Environ()
	for k, v := range env {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		p.cmd.Wait()
		p.code = p.cmd.ProcessState.ExitCode()
		close(p.done)
	}()
	return p, nil
}

// waitListening waits for n "listening" lines, or the process's end.
func (p *runningNaftiko) waitListening(n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if strings.Count(p.stderr.String(), "msg=listening") >= n {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("exited with %d before listening: %s", p.code, tail(p.stderr.String(), 600))
		case <-time.After(10 * time.Millisecond):
		}
	}
	return fmt.Errorf("not listening after %s: %s", timeout, tail(p.stderr.String(), 600))
}

func (p *runningNaftiko) waitExit(timeout time.Duration) (int, bool) {
	select {
	case <-p.done:
		return p.code, true
	case <-time.After(timeout):
		return 0, false
	}
}

func (p *runningNaftiko) stop() {
	p.cmd.Process.Signal(syscall.SIGTERM)
	if _, ok := p.waitExit(10 * time.Second); !ok {
		p.cmd.Process.Kill()
		<-p.done
	}
}

func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// httpSurfaces sorts a file's exposes blocks by how they are reached.
func httpSurfaces(doc *spec.Document) (rest, mcpHTTP, skills []*spec.Exposes, stdio bool) {
	if doc.Capability == nil {
		return nil, nil, nil, false
	}
	for i := range doc.Capability.Exposes {
		ex := &doc.Capability.Exposes[i]
		switch ex.Type {
		case "skill":
			skills = append(skills, ex)
		case "rest":
			rest = append(rest, ex)
		case "mcp":
			if ex.Transport == "stdio" {
				stdio = true
			} else {
				mcpHTTP = append(mcpHTTP, ex)
			}
		}
	}
	return rest, mcpHTTP, skills, stdio
}

// exerciseFile runs one capability file and fills in its verdict.
func exerciseFile(path, group string, v validateVerdict) *dropinResult {
	res := &dropinResult{file: filepath.Base(path), group: group, ok: true}
	m, err := loadCapModel(path)
	if err != nil {
		var noEnv *errNoEnvName
		if v.valid || errors.As(err, &noEnv) {
			res.verdict = "FAIL"
			res.fail("cannot load: %v", err)
			return res
		}
		// Not a document naftiko reads at all (another format): run must
		// refuse it with validate's reason.
		m = &capModel{path: path, doc: &spec.Document{}, env: map[string]string{}, vars: map[string]string{},
			consumes: map[string]*spec.Consumes{}, ops: map[string]consumedOp{}, funcs: map[string]aggFunc{}}
	}
	res.version = m.doc.Naftiko
	if m.doc.Ikanos != "" {
		res.version = "ikanos " + m.doc.Ikanos
	}
	for file, kv := range m.bindFiles {
		if err := writeBindFile(file, kv); err != nil {
			res.verdict = "FAIL"
			res.fail("cannot create bind file: %v", err)
			return res
		}
	}
	rest, mcpHTTP, skillBlocks, stdio := httpSurfaces(m.doc)
	answers := m.buildAnswers()
	fake := newFakeUpstream(m, answers)
	defer fake.Close()

	args := []string{"run", "--timeout", "10s", "--grace", "2s"}
	nsList := make([]string, 0, len(m.consumes))
	for ns := range m.consumes {
		nsList = append(nsList, ns)
	}
	sort.Strings(nsList)
	for _, ns := range nsList {
		args = append(args, "--upstream", ns+"="+fake.URL(ns))
	}
	// withPorts adds fresh loopback ports for every listener.
	baseArgs := args
	var addrs map[string]string
	withPorts := func() error {
		addrs = map[string]string{}
		args = append([]string(nil), baseArgs...)
		// Hold every port until all are chosen, so no two are the same.
		var held []net.Listener
		defer func() {
			for _, ln := range held {
				ln.Close()
			}
		}()
		for _, ex := range slices.Concat(rest, mcpHTTP, skillBlocks) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return err
			}
			held = append(held, ln)
			addrs[ex.Namespace] = ln.Addr().String()
			args = append(args, "--listen", ex.Namespace+"="+ln.Addr().String())
		}
		args = append(args, path)
		return nil
	}
	if err := withPorts(); err != nil {
		res.verdict = "FAIL"
		res.fail("no free port: %v", err)
		return res
	}

	if !v.valid {
		// validate refuses the file: run must refuse it too, and say why.
		res.verdict = "cannot run (validate: " + strings.Join(v.rules, ", ") + ")"
		p, err := startProcess(m.env, args)
		if err != nil {
			res.fail("start: %v", err)
			return res
		}
		code, exited := p.waitExit(15 * time.Second)
		if !exited {
			p.stop()
			res.fail("naftiko run started a file that validate rejects")
			return res
		}
		out := p.stderr.String()
		if code != 1 {
			res.fail("naftiko run exited %d, want 1", code)
		}
		for _, rule := range v.rules {
			if !strings.Contains(out, "["+rule+"]") {
				res.fail("naftiko run does not say why (no %s diagnostic): %s", rule, tail(out, 300))
			}
		}
		return res
	}
	if len(rest)+len(mcpHTTP) == 0 && !stdio {
		res.verdict = "refused: nothing to serve"
		p, err := startProcess(m.env, args)
		if err != nil {
			res.fail("start: %v", err)
			return res
		}
		code, exited := p.waitExit(15 * time.Second)
		if !exited {
			p.stop()
			res.fail("naftiko run kept running a file that serves nothing")
			return res
		}
		if out := p.stderr.String(); code != 1 || !strings.Contains(out, "nothing to serve") {
			res.fail("want exit 1 and a message saying there is nothing to serve; got %d: %s", code, tail(out, 300))
		}
		return res
	}

	x := &fileRun{m: m, res: res, fake: fake, answers: answers, client: &http.Client{Timeout: 20 * time.Second},
		answersConflict: len(answers.conflicted) > 0}
	for _, v := range m.vars {
		x.secrets = append(x.secrets, v)
	}
	var session *mcp.ClientSession
	if stdio {
		cmd := exec.Command(naftikoBin, args...)
		cmd.Env = os.Environ()
		for k, v := range m.env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		stderr := &lockedBuffer{}
		cmd.Stderr = stderr
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		client := mcp.NewClient(&mcp.Implementation{Name: "dropin", Version: "1"}, nil)
		session, err = client.Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
		if err != nil {
			res.verdict = "FAIL"
			res.fail("stdio MCP: %v: %s", err, tail(stderr.String(), 300))
			return res
		}
		defer session.Close()
		x.proc = &runningNaftiko{cmd: cmd, stderr: stderr}
	} else {
		// A port picked free may be taken by a neighbour before naftiko
		// binds it: try again with others.
		for attempt := 0; ; attempt++ {
			p, err := startProcess(m.env, args)
			if err != nil {
				res.verdict = "FAIL"
				res.fail("start: %v", err)
				return res
			}
			err = p.waitListening(len(rest)+len(mcpHTTP)+len(skillBlocks), 20*time.Second)
			if err == nil {
				x.proc = p
				defer p.stop()
				break
			}
			p.stop()
			if attempt < 3 && strings.Contains(err.Error(), "already in use") && withPorts() == nil {
				continue
			}
			res.verdict = "FAIL"
			res.fail("naftiko run did not start: %v", err)
			return res
		}
	}
	if err := x.proc.waitListening(len(rest)+len(mcpHTTP)+len(skillBlocks), 20*time.Second); err != nil {
		res.verdict = "FAIL"
		res.fail("naftiko run did not start: %v", err)
		return res
	}
	for _, ex := range rest {
		x.exerciseREST(ex, "http://"+addrs[ex.Namespace])
	}
	for _, ex := range mcpHTTP {
		x.exerciseMCP(ex, "http://"+addrs[ex.Namespace]+"/mcp", nil)
	}
	for _, ex := range skillBlocks {
		x.exerciseSkills(ex, "http://"+addrs[ex.Namespace])
	}
	if session != nil {
		for i := range m.doc.Capability.Exposes {
			ex := &m.doc.Capability.Exposes[i]
			if ex.Type == "mcp" && ex.Transport == "stdio" {
				x.exerciseMCP(ex, "", session)
			}
		}
	}
	log := x.proc.stderr.String()
	for _, s := range x.secrets {
		if len(s) > 6 && strings.Contains(log, s) {
			res.fail("a variable's value appears in naftiko's log")
			break
		}
	}
	if strings.Contains(log, "panic:") {
		res.fail("naftiko panicked: %s", tail(log, 400))
	}
	if res.ok {
		res.verdict = "pass"
	} else {
		res.verdict = "FAIL"
	}
	return res
}

func writeBindFile(path string, kv map[string]string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	var b strings.Builder
	for _, k := range sortedStringKeys(kv) {
		fmt.Fprintf(&b, "%s: %q\n", k, kv[k])
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

func sortedStringKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// credentials returns the header an exposes block's authentication wants
// from callers ("" when it wants none).
func (x *fileRun) credentials(ex *spec.Exposes) (name, value string) {
	a := ex.Authentication
	if a == nil {
		return "", ""
	}
	field := func(s string) string { v, _ := x.m.render(s, nil, false); return textOf(v) }
	switch strings.ToLower(a.Type) {
	case "bearer":
		return "Authorization", "Bearer " + field(a.Token)
	case "apikey":
		key := a.Key
		if key == "" {
			key = a.Name
		}
		return key, field(a.Value)
	case "basic":
		req := &http.Request{Header: http.Header{}}
		req.SetBasicAuth(field(a.Username), field(a.Password))
		return "Authorization", req.Header.Get("Authorization")
	}
	return "", ""
}

// --- skills --------------------------------------------------------------------

// exerciseSkills reads a skill block's catalogue and each skill, and checks
// them against the file: every skill listed with its tools, each tool an
// invocation of the block and action its `from` names (mode: that block's
// type) or the instruction it names.
func (x *fileRun) exerciseSkills(ex *spec.Exposes, base string) {
	types := map[string]string{}
	for _, other := range x.m.doc.Capability.Exposes {
		types[other.Namespace] = other.Type
	}
	get := func(path string, v any) bool {
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		if name, value := x.credentials(ex); name != "" {
			req.Header.Set(name, value)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			x.res.fail("skill %s GET %s: %v", ex.Namespace, path, err)
			return false
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || json.Unmarshal(body, v) != nil {
			x.res.fail("skill %s GET %s: %d %s", ex.Namespace, path, resp.StatusCode, tail(string(body), 200))
			return false
		}
		return true
	}
	var list struct {
		Count  int `json:"count"`
		Skills []struct {
			Name  string   `json:"name"`
			Tools []string `json:"tools"`
		} `json:"skills"`
	}
	if !get("/skills", &list) {
		return
	}
	if list.Count != len(ex.Skills) || len(list.Skills) != len(ex.Skills) {
		x.res.fail("skill %s: /skills lists %d, the file has %d", ex.Namespace, list.Count, len(ex.Skills))
		return
	}
	for i := range ex.Skills {
		sk := &ex.Skills[i]
		var d struct {
			Name  string `json:"name"`
			Tools []struct {
				Name, Type, Instruction string
				InvocationRef           *struct{ TargetNamespace, Action, Mode string }
			} `json:"tools"`
		}
		if !get("/skills/"+sk.Name, &d) {
			continue
		}
		if d.Name != sk.Name || len(d.Tools) != len(sk.Tools) || list.Skills[i].Name != sk.Name {
			x.res.fail("skill %s/%s: answered %q with %d tools, the file has %d", ex.Namespace, sk.Name, d.Name, len(d.Tools), len(sk.Tools))
			continue
		}
		for j, t := range sk.Tools {
			g := d.Tools[j]
			switch {
			case t.From != nil:
				if g.Type != "derived" || g.InvocationRef == nil || g.InvocationRef.TargetNamespace != t.From.SourceNamespace ||
					g.InvocationRef.Action != t.From.Action || g.InvocationRef.Mode != types[t.From.SourceNamespace] {
					x.res.fail("skill %s/%s tool %s: %+v, want %s.%s (%s)", ex.Namespace, sk.Name, t.Name, g, t.From.SourceNamespace, t.From.Action, types[t.From.SourceNamespace])
				}
			case g.Type != "instruction" || g.Instruction != t.Instruction:
				x.res.fail("skill %s/%s tool %s: %+v, want the instruction %s", ex.Namespace, sk.Name, t.Name, g, t.Instruction)
			}
		}
		x.res.skills++
	}
}

// --- REST ----------------------------------------------------------------------

var routeVarRe = regexp.MustCompile(`^\{\{?\s*([^{}]+?)\s*\}?\}$`)

func routeVars(path string) []string {
	var out []string
	for _, s := range strings.Split(strings.Trim(path, "/"), "/") {
		if m := routeVarRe.FindStringSubmatch(s); m != nil {
			out = append(out, m[1])
		}
	}
	return out
}

func (x *fileRun) exerciseREST(ex *spec.Exposes, base string) {
	credName, credValue := x.credentials(ex)
	checkedAuth := false
	for ri := range ex.RestResources {
		res := &ex.RestResources[ri]
		for oi := range res.Operations {
			op := &res.Operations[oi]
			route := spec.JoinPath(res.Path, op.Path)
			label := fmt.Sprintf("REST %s %s", strings.ToUpper(op.Method), route)
			x.res.routes++
			declared := append(append([]spec.ExposedParam(nil), res.InputParameters...), op.InputParameters...)
			iv, err := x.m.resolve(op.Invocation, declared, ex.Namespace, route)
			if err != nil {
				x.res.fail("%s: %v", label, err)
				continue
			}
			inputs, err := x.m.inferInputs(iv)
			if err != nil {
				x.res.fail("%s: oracle: %v", label, err)
				continue
			}
			req, values, err := x.buildREST(base, strings.ToUpper(op.Method), route, inputs)
			if err != nil {
				x.res.fail("%s: %v", label, err)
				continue
			}
			if credName != "" {
				if !checkedAuth {
					checkedAuth = true
					x.expectRefused(label, req)
				}
				req.Header.Set(credName, credValue)
			}
			before := x.fake.count()
			resp, err := x.client.Do(req)
			if err != nil {
				x.res.fail("%s: %v", label, err)
				continue
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			x.checkInvocation(label, iv, values, before, func(want any, passthrough []byte) {
				if resp.StatusCode != http.StatusOK {
					x.res.fail("%s: status %d: %s", label, resp.StatusCode, tail(string(body), 300))
					return
				}
				if req.Method == http.MethodHead {
					return
				}
				if passthrough != nil {
					if !bytes.Equal(body, passthrough) {
						x.res.fail("%s: the upstream body was not passed through: got %s", label, tail(string(body), 200))
					}
					return
				}
				x.compareAnswer(label, body, want)
			}, func(msg string) {
				if msg == errNotImplemented.Error() {
					if resp.StatusCode != http.StatusNotImplemented {
						x.res.fail("%s: status %d, want 501 for an operation with nothing to call", label, resp.StatusCode)
					}
					return
				}
				x.res.fail("%s: %s (status %d: %s)", label, msg, resp.StatusCode, tail(string(body), 200))
			})
		}
		if res.Forward != nil {
			x.res.routes++
			x.exerciseForward(ex, res, base, credName, credValue)
		}
	}
}

// expectRefused checks that a route protected by the block's
// authentication refuses a caller without credentials.
func (x *fileRun) expectRefused(label string, req *http.Request) {
	r := req.Clone(context.Background())
	if req.GetBody != nil {
		r.Body, _ = req.GetBody()
	}
	before := x.fake.count()
	resp, err := x.client.Do(r)
	if err != nil {
		x.res.fail("%s without credentials: %v", label, err)
		return
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		x.res.fail("%s without credentials: status %d, want 401", label, resp.StatusCode)
	}
	if n := len(x.fake.since(before)); n != 0 {
		x.res.fail("%s without credentials reached the upstream", label)
	}
}

// buildREST makes the request a caller sends: route variables in the path,
// other inputs in the query (GET, HEAD, DELETE) or a JSON body, headers and
// cookies where declared so.
func (x *fileRun) buildREST(base, method, route string, inputs []inputSpec) (*http.Request, map[string]any, error) {
	values := map[string]any{}
	var segs []string
	for _, s := range strings.Split(strings.Trim(route, "/"), "/") {
		if m := routeVarRe.FindStringSubmatch(s); m != nil {
			typ := "string"
			for _, in := range inputs {
				if in.name == m[1] {
					typ = in.typ
				}
			}
			v := sampleValue(m[1], typ)
			values[m[1]] = v
			s = url.PathEscape(textOf(v))
		}
		segs = append(segs, s)
	}
	u := base + "/" + strings.Join(segs, "/")
	query := url.Values{}
	header := http.Header{}
	bodyFields := map[string]any{}
	var cookies []*http.Cookie
	for _, in := range inputs {
		if in.in == "path" || in.constant {
			continue
		}
		v := sampleValue(in.name, in.typ)
		place := in.in
		if place == "" || place == "body" || place == "query" {
			if method == http.MethodGet || method == http.MethodHead || method == http.MethodDelete {
				place = "query"
			} else if place == "" {
				place = "body"
			}
		}
		switch place {
		case "query":
			if in.typ == "object" {
				if !in.required {
					continue
				}
				b, _ := json.Marshal(v)
				query.Add(in.name, string(b))
				values[in.name] = v
				continue
			}
			if arr, ok := v.([]any); ok {
				for _, e := range arr {
					query.Add(in.name, textOf(e))
				}
			} else {
				query.Add(in.name, textOf(v))
			}
		case "header":
			header.Set(in.name, textOf(v))
		case "cookie":
			cookies = append(cookies, &http.Cookie{Name: in.name, Value: textOf(v)})
		default:
			bodyFields[in.name] = v
		}
		values[in.name] = v
	}
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var body io.Reader
	var raw []byte
	if len(bodyFields) > 0 {
		payload := any(bodyFields)
		if whole, ok := bodyFields["body"]; ok && len(bodyFields) == 1 {
			payload = whole // the caller's body is the upstream body
		}
		raw, _ = json.Marshal(payload)
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		return nil, nil, err
	}
	req.Header = header
	if raw != nil {
		req.Header.Set("Content-Type", "application/json")
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil }
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	return req, values, nil
}

// exerciseForward sends a request through a `forward` resource and checks
// that it reaches the target namespace unchanged, with only the trusted
// headers and the namespace's own parameters and credentials.
func (x *fileRun) exerciseForward(ex *spec.Exposes, res *spec.ExposedResource, base, credName, credValue string) {
	label := "REST forward " + res.Path
	route := res.Path
	var segs []string
	for _, s := range strings.Split(strings.Trim(route, "/"), "/") {
		if m := routeVarRe.FindStringSubmatch(s); m != nil {
			if m[1] == "path" {
				s = "fwd/" + url.PathEscape("a b") + "/c"
			} else {
				s = url.PathEscape(sampleValue(m[1], "string").(string))
			}
		}
		segs = append(segs, s)
	}
	raw := []byte(`{"forwarded":true}`)
	req, _ := http.NewRequest(http.MethodPost, base+"/"+strings.Join(segs, "/")+"?q=1", bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Untrusted", "drop-me")
	for _, h := range res.Forward.TrustedHeaders {
		req.Header.Set(h, "trusted-"+strings.ToLower(h))
	}
	if credName != "" {
		req.Header.Set(credName, credValue)
	}
	cs := x.m.consumes[res.Forward.TargetNamespace]
	if cs == nil {
		x.res.fail("%s: no consumes namespace %q", label, res.Forward.TargetNamespace)
		return
	}
	before := x.fake.count()
	resp, err := x.client.Do(req)
	if err != nil {
		x.res.fail("%s: %v", label, err)
		return
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	got := x.fake.since(before)
	if len(got) != 1 {
		x.res.fail("%s: the upstream received %d requests, want 1", label, len(got))
		return
	}
	g := got[0]
	x.res.checked++
	wantPath := ""
	if strings.Contains(route, "path}") {
		wantPath = "/fwd/" + url.PathEscape("a b") + "/c"
	}
	wantQuery := url.Values{"q": {"1"}}
	for _, p := range cs.InputParameters {
		if strings.ToLower(p.In) == "query" && p.Value != "" {
			if v, ok := x.m.render(p.Value, nil, false); ok {
				wantQuery.Add(p.Name, textOf(v))
			}
		}
	}
	if q, _ := url.ParseQuery(g.rawQuery); !reflect.DeepEqual(q, wantQuery) {
		x.res.fail("%s: upstream query %q, want %q", label, g.rawQuery, wantQuery.Encode())
	}
	if g.ns != cs.Namespace || g.method != http.MethodPost || g.rawPath != wantPath {
		x.res.fail("%s: upstream got %s /%s%s, want POST /%s%s", label, g.method, g.ns, g.rawPath, cs.Namespace, wantPath)
	}
	if string(g.body) != string(raw) {
		x.res.fail("%s: body %q, want %q", label, g.body, raw)
	}
	if g.header.Get("X-Untrusted") != "" {
		x.res.fail("%s: an untrusted header was forwarded", label)
	}
	for _, h := range res.Forward.TrustedHeaders {
		if g.header.Get(h) != "trusted-"+strings.ToLower(h) {
			x.res.fail("%s: trusted header %s not forwarded", label, h)
		}
	}
	w := &wantReq{header: http.Header{}, query: url.Values{}, auth: cs.Authentication}
	for _, p := range cs.InputParameters {
		if strings.ToLower(p.In) == "header" && p.Value != "" {
			if v, ok := x.m.render(p.Value, nil, false); ok {
				w.header.Set(p.Name, textOf(v))
			}
		}
	}
	x.m.expectAuth(w)
	for k := range w.header {
		if g.header.Get(k) != w.header.Get(k) {
			x.res.fail("%s: header %s = %q, want %q", label, k, g.header.Get(k), w.header.Get(k))
		}
	}
	if resp.StatusCode != http.StatusOK {
		x.res.fail("%s: status %d", label, resp.StatusCode)
	}
}

// --- MCP ---------------------------------------------------------------------

type headerRoundTripper struct {
	name, value string
}

func (h headerRoundTripper) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set(h.name, h.value)
	return http.DefaultTransport.RoundTrip(r)
}

func (x *fileRun) exerciseMCP(ex *spec.Exposes, endpoint string, session *mcp.ClientSession) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if session == nil {
		transport := &mcp.StreamableClientTransport{Endpoint: endpoint}
		if name, value := x.credentials(ex); name != "" {
			// Without credentials the server must refuse to talk at all.
			c := mcp.NewClient(&mcp.Implementation{Name: "dropin", Version: "1"}, nil)
			if s, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: endpoint, MaxRetries: -1}, nil); err == nil {
				s.Close()
				x.res.fail("MCP %s: a client without credentials was served", ex.Namespace)
			}
			transport.HTTPClient = &http.Client{Transport: headerRoundTripper{name, value}}
		}
		client := mcp.NewClient(&mcp.Implementation{Name: "dropin", Version: "1"}, nil)
		var err error
		session, err = client.Connect(ctx, transport, nil)
		if err != nil {
			x.res.fail("MCP %s: connect: %v", ex.Namespace, err)
			return
		}
		defer session.Close()
	}
	if init := session.InitializeResult(); init == nil || init.ServerInfo == nil || init.ServerInfo.Name != ex.Namespace {
		x.res.fail("MCP %s: server name is not the namespace", ex.Namespace)
	}
	// Every page: a large capability's tools do not fit in one.
	advertised := map[string]*mcp.Tool{}
	for t, err := range session.Tools(ctx, nil) {
		if err != nil {
			x.res.fail("MCP %s: tools/list: %v", ex.Namespace, err)
			return
		}
		advertised[t.Name] = t
	}
	for ti := range ex.Tools {
		t := &ex.Tools[ti]
		iv, err := x.m.resolve(t.Invocation, t.InputParameters, ex.Namespace, "")
		name := t.Name
		if name == "" && t.Ref != "" {
			if f, ok := x.m.funcs[t.Ref]; ok {
				name = f.fn.Name
			}
		}
		label := "MCP tool " + name
		x.res.tools++
		if err != nil {
			x.res.fail("%s: %v", label, err)
			continue
		}
		adv := advertised[name]
		if adv == nil {
			x.res.fail("%s: not listed by tools/list", label)
			continue
		}
		inputs, err := x.m.inferInputs(iv)
		if err != nil {
			x.res.fail("%s: oracle: %v", label, err)
			continue
		}
		args := x.checkSchema(label, adv, inputs)
		before := x.fake.count()
		result, err := session.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
		if err != nil {
			x.res.fail("%s: tools/call: %v", label, err)
			continue
		}
		text := ""
		if len(result.Content) > 0 {
			if tc, ok := result.Content[0].(*mcp.TextContent); ok {
				text = tc.Text
			}
		}
		x.checkInvocation(label, iv, args, before, func(want any, passthrough []byte) {
			if result.IsError {
				x.res.fail("%s: isError: %s", label, tail(text, 300))
				return
			}
			if passthrough != nil && len(passthrough) == 0 {
				return // a HEAD call: no body to pass
			}
			if passthrough != nil {
				if text != string(passthrough) {
					x.res.fail("%s: the upstream body was not passed through: got %s", label, tail(text, 200))
				}
				return
			}
			x.compareAnswer(label, []byte(text), want)
			if obj, ok := want.(map[string]any); ok && obj != nil {
				b, _ := json.Marshal(result.StructuredContent)
				x.compareAnswer(label+" (structuredContent)", b, want)
			}
		}, func(msg string) {
			if msg == errNotImplemented.Error() {
				if !result.IsError || !strings.Contains(text, "not implemented") {
					x.res.fail("%s: want an isError result saying the tool is not implemented, got %s", label, tail(text, 200))
				}
				return
			}
			x.res.fail("%s: %s (isError=%v: %s)", label, msg, result.IsError, tail(text, 200))
		})
	}
}

// checkSchema compares an advertised input schema with the inputs the
// oracle expects, and returns arguments for every advertised property.
func (x *fileRun) checkSchema(label string, t *mcp.Tool, want []inputSpec) map[string]any {
	var schema struct {
		Type       string `json:"type"`
		Properties map[string]struct {
			Type        string `json:"type"`
			Description string `json:"description"`
		} `json:"properties"`
		Required []string `json:"required"`
	}
	b, _ := json.Marshal(t.InputSchema)
	if err := json.Unmarshal(b, &schema); err != nil || schema.Type != "object" {
		x.res.fail("%s: input schema is not an object schema: %s", label, b)
		return map[string]any{}
	}
	required := map[string]bool{}
	for _, r := range schema.Required {
		required[r] = true
	}
	// Every tool also takes naftiko's own page cursor and narrowing (README,
	// MCP surface), under these names unless the file declares them itself.
	paging := map[string]bool{}
	for _, name := range []string{"_cursor", "_select"} {
		for _, in := range want {
			if in.name == name {
				name = "_naftiko" + name
			}
		}
		paging[name] = true
		if p, ok := schema.Properties[name]; !ok || p.Type != "string" || p.Description == "" {
			x.res.fail("%s: input schema lacks naftiko's %q argument", label, name)
		}
	}
	args := map[string]any{}
	for name, p := range schema.Properties {
		if p.Description == "" {
			x.res.fail("%s: input %q has no description", label, name)
		}
		if !paging[name] {
			args[name] = sampleValue(name, p.Type)
		}
	}
	for _, in := range want {
		if in.constant {
			continue
		}
		// Callers give an input by its exact name: the schema must say it.
		found := in.name
		if _, ok := schema.Properties[found]; !ok {
			x.res.fail("%s: input schema lacks %q", label, in.name)
			continue
		}
		if got := schema.Properties[found].Type; got != in.typ {
			x.res.fail("%s: input %q has type %q, want %q", label, found, got, in.typ)
		}
		if in.required && !required[found] {
			x.res.fail("%s: input %q is not required", label, found)
		}
		if !in.required && required[found] {
			x.res.fail("%s: input %q is required, but nothing needs it", label, found)
		}
	}
	for _, name := range sortedKeysOf(schema.Properties) {
		known := paging[name]
		for _, in := range want {
			known = known || (in.name == name && !in.constant)
		}
		if !known {
			x.res.fail("%s: input schema has %q, which the file does not give callers", label, name)
		}
	}
	return args
}

func sortedKeysOf[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// --- comparing -----------------------------------------------------------------

// checkInvocation computes what one call of iv must send upstream and
// answer, and compares. onAnswer checks the caller's answer (passthrough
// holds the exact upstream bytes when the answer passes through); onError
// reports an invocation the oracle cannot expect to succeed.
func (x *fileRun) checkInvocation(label string, iv invocation, inputs map[string]any, before int,
	onAnswer func(want any, passthrough []byte), onError func(string)) {
	wants, want, passthrough, err := x.expectInvocation(label, iv, inputs)
	got := x.fake.since(before)
	if err == errNotImplemented {
		if len(got) > 0 {
			x.res.fail("%s: an operation with nothing to call reached the upstream", label)
		}
		onError(err.Error())
		return
	}
	if err != nil {
		onError("oracle: " + err.Error())
		return
	}
	if len(got) != len(wants) {
		var seen []string
		for _, g := range got {
			seen = append(seen, g.method+" /"+g.ns+g.rawPath)
		}
		x.res.fail("%s: the upstream received %d request(s) %v, want %d", label, len(got), seen, len(wants))
		onAnswer(want, passthrough)
		return
	}
	for i, w := range wants {
		x.res.checked++
		for _, problem := range compareRequest(w, got[i]) {
			x.res.fail("%s: %s: %s", label, w.label, problem)
		}
	}
	onAnswer(want, passthrough)
}

// errNotImplemented is the oracle's verdict on an operation the file gives
// nothing to do: REST answers 501, MCP an isError result.
var errNotImplemented = errors.New("not implemented")

// expectInvocation lists the upstream requests of one call and its answer.
func (x *fileRun) expectInvocation(label string, iv invocation, inputs map[string]any) (wants []*wantReq, answer any, passthrough []byte, err error) {
	m := x.m
	sc, err := m.newScope(iv, inputs)
	if err != nil {
		return nil, nil, nil, err
	}
	defer func() {
		if err == nil && sc.err != nil {
			wants, answer, passthrough, err = nil, nil, nil, sc.err
		}
	}()
	if len(iv.Steps) > 0 {
		results := map[string]any{}
		for k, st := range iv.Steps {
			ssc := sc.atStep(iv, k, results)
			if st.Index != "" {
				results[st.Name] = lookupRows(st, results, ssc, m)
				if ssc.err != nil {
					return nil, nil, nil, fmt.Errorf("step %s: %w", st.Name, ssc.err)
				}
				continue
			}
			if st.Call == "" {
				return nil, nil, nil, fmt.Errorf("step %q: not a call or lookup step", st.Name)
			}
			w, err := m.expectCall("step "+st.Name, st.Call, ssc)
			if err != nil {
				return nil, nil, nil, err
			}
			wants = append(wants, w)
			_, _, decoded := x.answers.answer(st.Call)
			results[st.Name] = projectStep(m.ops[st.Call], decoded)
		}
		answer, err := m.expectOrchestration(iv, x.answers, sc)
		return wants, answer, nil, err
	}
	if iv.Call == "" && len(iv.OutputParameters) == 0 {
		return nil, nil, nil, errNotImplemented
	}
	if _, found := m.ops[iv.Call]; !found {
		if hasMock(iv.OutputParameters) {
			return nil, m.mockOutput(iv.OutputParameters, sc), nil, nil
		}
		return nil, nil, nil, fmt.Errorf("call %q names no consumed operation and the outputs hold no constants", iv.Call)
	}
	w, err := m.expectCall("call "+iv.Call, iv.Call, sc)
	if err != nil {
		return nil, nil, nil, err
	}
	if w.method == http.MethodHead {
		return []*wantReq{w}, nil, []byte{}, nil // headers only
	}
	body, _, decoded := x.answers.answer(iv.Call)
	co := m.ops[iv.Call]
	format := strings.ToLower(co.op.OutputRawFormat)
	if outputPassesThrough(iv.OutputParameters) && (format == "" || format == "json") {
		return []*wantReq{w}, decoded, body, nil
	}
	return []*wantReq{w}, m.shapeOutput(iv.OutputParameters, decoded, sc), nil, nil
}

func (x *fileRun) compareAnswer(label string, got []byte, want any) {
	if path := nullLeaf(want, "$"); path != "" && !x.answersConflict {
		// The fake answers what the file's mappings read: a null here means
		// the comparison would prove nothing.
		x.res.fail("%s: the expected answer has null at %s: the fake upstream did not satisfy a mapping", label, path)
	}
	var v any
	if err := json.Unmarshal(got, &v); err != nil {
		x.res.fail("%s: answer is not JSON: %s", label, tail(string(got), 200))
		return
	}
	if !jsonEqual(v, want) {
		wb, _ := json.Marshal(want)
		x.res.fail("%s: answer %s, want %s", label, tail(string(got), 300), tail(string(wb), 300))
	}
}

func jsonEqual(a, b any) bool {
	na, nb := normalizeJSON(a), normalizeJSON(b)
	return reflect.DeepEqual(na, nb)
}

func normalizeJSON(v any) any {
	b, _ := json.Marshal(v)
	var out any
	json.Unmarshal(b, &out)
	return out
}

// safeSegment is what a path segment may hold unescaped (RFC 3986 pchar).
var safeSegment = regexp.MustCompile(`^[A-Za-z0-9\-._~!$&'()*+,;=:@]*$`)

// compareRequest lists how got differs from w.
func compareRequest(w *wantReq, g *gotReq) []string {
	var out []string
	if g.problem != "" {
		out = append(out, g.problem)
	}
	if g.ns != w.ns {
		out = append(out, fmt.Sprintf("sent to namespace %q, want %q", g.ns, w.ns))
	}
	if g.method != w.method {
		out = append(out, fmt.Sprintf("method %s, want %s", g.method, w.method))
	}
	var raw []string
	for _, s := range strings.Split(g.rawPath, "/") {
		if s != "" {
			raw = append(raw, s)
		}
	}
	if len(raw) != len(w.segs) {
		out = append(out, fmt.Sprintf("path %s has %d segments, want %d (%s)", g.rawPath, len(raw), len(w.segs), wantPath(w)))
	} else {
		for i, s := range w.segs {
			dec, err := url.PathUnescape(raw[i])
			switch {
			case s.unknown:
			case err != nil || dec != s.text:
				out = append(out, fmt.Sprintf("path segment %d is %q, want %q (path %s)", i+1, raw[i], s.text, g.rawPath))
			case s.literal && safeSegment.MatchString(s.text) && raw[i] != s.text:
				out = append(out, fmt.Sprintf("literal path segment %q was sent as %q", s.text, raw[i]))
			}
		}
	}
	if w.unknown {
		return out
	}
	q, err := url.ParseQuery(g.rawQuery)
	if err != nil {
		out = append(out, fmt.Sprintf("query %q does not parse: %v", g.rawQuery, err))
	}
	for k, vs := range w.query {
		if !reflect.DeepEqual(q[k], vs) {
			out = append(out, fmt.Sprintf("query %s = %q, want %q", k, q[k], vs))
		}
	}
	for k := range q {
		if _, ok := w.query[k]; !ok {
			out = append(out, fmt.Sprintf("unexpected query parameter %s=%q", k, q[k]))
		}
	}
	for k := range w.header {
		if got, want := g.header.Get(k), w.header.Get(k); got != want {
			out = append(out, fmt.Sprintf("header %s = %q, want %q", k, got, want))
		}
	}
	if w.auth == nil && g.header.Get("Authorization") != "" && w.header.Get("Authorization") == "" {
		out = append(out, "an Authorization header was sent, but the file declares no authentication")
	}
	if len(w.cookies) > 0 {
		r := &http.Request{Header: g.header}
		for k, v := range w.cookies {
			c, err := r.Cookie(k)
			if err != nil || c.Value != v {
				out = append(out, fmt.Sprintf("cookie %s missing or wrong", k))
			}
		}
	}
	ct, _, _ := mime.ParseMediaType(g.header.Get("Content-Type"))
	switch {
	case w.body == nil:
		if len(g.body) > 0 {
			out = append(out, fmt.Sprintf("a body was sent, but the file describes none: %s", tail(string(g.body), 120)))
		}
	case w.body.kind == "json":
		var v any
		if err := json.Unmarshal(g.body, &v); err != nil {
			out = append(out, fmt.Sprintf("body is not JSON: %q", tail(string(g.body), 120)))
		} else if !jsonEqual(v, w.body.json) {
			wb, _ := json.Marshal(w.body.json)
			out = append(out, fmt.Sprintf("body %s, want %s", tail(string(g.body), 200), tail(string(wb), 200)))
		}
		if !strings.HasSuffix(ct, "json") {
			out = append(out, fmt.Sprintf("JSON body sent as Content-Type %q", ct))
		}
	case w.body.kind == "form":
		f, err := url.ParseQuery(string(g.body))
		if err != nil || !reflect.DeepEqual(f, w.body.form) {
			out = append(out, fmt.Sprintf("form body %q, want %q", g.body, w.body.form.Encode()))
		}
		if ct != "application/x-www-form-urlencoded" {
			out = append(out, fmt.Sprintf("form body sent as Content-Type %q", ct))
		}
	default:
		if string(g.body) != w.body.text {
			out = append(out, fmt.Sprintf("body %q, want %q", tail(string(g.body), 120), tail(w.body.text, 120)))
		}
	}
	return out
}

func wantPath(w *wantReq) string {
	var parts []string
	for _, s := range w.segs {
		parts = append(parts, s.text)
	}
	return "/" + strings.Join(parts, "/")
}

// nullLeaf finds a null or an empty list inside v (its path), or "".
func nullLeaf(v any, at string) string {
	switch t := v.(type) {
	case nil:
		return at
	case map[string]any:
		for _, k := range sortedKeys(t) {
			if p := nullLeaf(t[k], at+"."+k); p != "" {
				return p
			}
		}
	case []any:
		if len(t) == 0 {
			return at + " (an empty list)"
		}
		for i, e := range t {
			if p := nullLeaf(e, fmt.Sprintf("%s[%d]", at, i)); p != "" {
				return p
			}
		}
	}
	return ""
}
