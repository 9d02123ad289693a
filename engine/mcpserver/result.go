package mcpserver

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/naftiko/naftiko/engine"
	"github.com/naftiko/naftiko/engine/output"
)

const (
	// errorBodyLimit is how much of a failed answer is read for diagnostics.
	errorBodyLimit = 64 << 10
	// errorTextLimit is how much of it a message quotes.
	errorTextLimit = 4 << 10
	// snippetLimit is how much of an unexpected body a message quotes.
	snippetLimit = 512
)

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// result turns an outcome into a tool result: JSON within the budget, or
// its first page (pr says for which call; nil: a continuation's failed
// answer). failure is the message of an isError result (for the log); err
// is set only when ctx ended while the body was being read.
func (s *Server) result(ctx context.Context, o *engine.Outcome, pr *pageRequest) (res *mcp.CallToolResult, failure string, err error) {
	if o.Status >= 400 {
		msg := s.failureMessage(o)
		return s.errorResult(msg), msg, nil
	}
	if o.HasValue {
		if o.Body != nil {
			o.Body.Close()
		}
		b, err := marshal(o.Value)
		if err != nil {
			s.log.ErrorContext(ctx, "result not encodable as JSON", "error", s.redact(err.Error()))
			msg := "naftiko could not encode the result as JSON; this is a gateway problem, not your arguments."
			return s.errorResult(msg), msg, nil
		}
		if pr == nil {
			return s.small(b, o)
		}
		pr.outcome = o
		return s.pagedResult(ctx, pr, bytes.NewReader(b), pageState{})
	}
	if o.Body == nil {
		return s.textResult(emptyAnswer(o)), "", nil
	}
	defer o.Body.Close()
	switch f := strings.ToLower(o.Format); {
	case f != "" && f != "json":
		// Another raw format the engine left undecoded: convert it.
		body, err := io.ReadAll(io.LimitReader(o.Body, s.cfg.maxResult+1))
		if err != nil {
			return s.readFailure(ctx, err)
		}
		v, derr := output.Decode(bytes.NewReader(body), o.Format)
		if derr != nil {
			msg := fmt.Sprintf("The upstream answered %d %s with a body naftiko could not read as %s: %v. The body starts with: %s",
				o.Status, reason(o.Status), o.Format, derr, snippet(body, snippetLimit))
			return s.errorResult(msg), msg, nil
		}
		return s.result(ctx, &engine.Outcome{Status: o.Status, Header: o.Header, Value: v, HasValue: true}, pr)
	}
	if pr == nil {
		return s.wholeBody(ctx, o.Body, o)
	}
	pr.outcome = o
	return s.pagedResult(ctx, pr, o.Body, pageState{})
}

// marshal encodes a value built by the engine, without HTML escaping (a
// model reads <, > and & as they are).
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// jsonResult answers JSON text, with structuredContent when structured
// and it is an object. Secrets are removed from the text first; the
// structured copy is the same (redacted) bytes, so both always agree.
func (s *Server) jsonResult(text []byte, structured bool) *mcp.CallToolResult {
	// Masking keeps the JSON valid and escaped forms included, so the text
	// and the structured copy are the same bytes and neither decodes back to
	// a secret.
	if s.secrets().Mask(text) {
		s.log.Warn("an upstream result contained a configured secret value; it was masked")
	}
	str := string(text)
	res := &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: str}}}
	if trimmed := bytes.TrimLeft(text, " \t\r\n"); structured && len(trimmed) > 0 && trimmed[0] == '{' {
		res.StructuredContent = json.RawMessage(str)
	}
	return res
}

func (s *Server) textResult(text string) *mcp.CallToolResult {
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: s.redact(text)}}}
}

func (s *Server) errorResult(msg string) *mcp.CallToolResult {
	return &mcp.CallToolResult{IsError: true, Content: []mcp.Content{&mcp.TextContent{Text: s.redact(msg)}}}
}

func (s *Server) tooLarge() string {
	return fmt.Sprintf("The result is larger than %s, too large for an MCP tool result. "+
		"Ask for less (narrower filters or fewer records) if the tool takes such arguments, "+
		"or fetch it through the capability's REST route, which streams results of any size.",
		byteSize(s.cfg.maxResult))
}

// emptyAnswer describes a successful answer without a body.
func emptyAnswer(o *engine.Outcome) string {
	var b strings.Builder
	fmt.Fprintf(&b, "The upstream answered %d %s with no content.", o.Status, reason(o.Status))
	switch {
	case o.Status == http.StatusAccepted:
		b.WriteString(" The request was accepted for asynchronous processing.")
	case o.Status == http.StatusNoContent || o.Status == http.StatusCreated:
		b.WriteString(" The operation succeeded.")
	case o.Status >= 300 && o.Status < 400 && o.Status != http.StatusNotModified:
		b.WriteString(" It is a redirect, which naftiko does not follow for tools.")
	}
	if o.Header != nil {
		if cl := o.Header.Get("Content-Location"); cl != "" {
			fmt.Fprintf(&b, " Content-Location: %s (where the result or its status will be available).", cl)
		}
		if l := o.Header.Get("Location"); l != "" {
			fmt.Fprintf(&b, " Location: %s.", l)
		}
		if ra := o.Header.Get("Retry-After"); ra != "" {
			fmt.Fprintf(&b, " Retry-After: %s.", ra)
		}
	}
	return b.String()
}

// failureMessage explains an upstream answer >= 400.
func (s *Server) failureMessage(o *engine.Outcome) string {
	var body []byte
	if o.HasValue {
		body, _ = json.Marshal(o.Value)
		if o.Body != nil {
			o.Body.Close()
		}
	} else {
		body = o.ErrorBody(errorBodyLimit)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "The upstream answered %d %s.", o.Status, reason(o.Status))
	if advice := statusAdvice(o.Status, o.Header); advice != "" {
		b.WriteString(" " + advice)
	}
	if d := diagnostics(body, o.Header); d != "" {
		b.WriteString("\n" + d)
	}
	return b.String()
}

// statusAdvice says what an upstream status means for the caller.
func statusAdvice(status int, h http.Header) string {
	retry := ""
	if h != nil {
		if ra := h.Get("Retry-After"); ra != "" {
			retry = " (Retry-After: " + ra + ")"
		}
	}
	switch status {
	case 400:
		return "The upstream rejected the request as invalid: check the values and formats of your arguments."
	case 401:
		return "The upstream refused the gateway's own credentials (its configured API key or token is missing, " +
			"invalid or expired). This is not caused by your arguments and retrying will not help: " +
			"the gateway's operator must fix its credentials."
	case 403:
		return "The upstream refused access with the gateway's own credentials: the gateway is not permitted " +
			"to perform this operation, possibly for this particular record. This is not an argument format " +
			"problem; tell the user access was denied."
	case 404:
		return "Not found: check the id and the other identifiers in your arguments."
	case 405, 501:
		return "The upstream does not support this operation."
	case 406, 415:
		return "The upstream cannot serve the format naftiko asked for; this is a gateway configuration problem, not your arguments."
	case 408, 504:
		return "The upstream (or a gateway in front of it) timed out. You may retry later" + retry + "."
	case 409:
		return "The request conflicts with the current state of the resource."
	case 410:
		return "The resource existed but is gone."
	case 412, 428:
		return "A precondition of the upstream was not met."
	case 413, 414:
		return "The request is too large: ask for less."
	case 422:
		return "The upstream understood the request but rejected its content: check the values of your arguments."
	case 429:
		return "The upstream is rate limiting the gateway: wait before retrying" + retry + "."
	}
	switch {
	case status >= 500:
		return "The upstream failed; this is not caused by your arguments. You may retry later" + retry + "."
	case status >= 400:
		return "The upstream rejected the request."
	}
	return ""
}

// diagnostics renders what the upstream said about a failure.
func diagnostics(body []byte, h http.Header) string {
	body = bytes.TrimSpace(bytes.TrimPrefix(body, utf8BOM))
	if len(body) == 0 {
		return ""
	}
	if body[0] == '{' || body[0] == '[' {
		var v any
		if json.Unmarshal(body, &v) == nil {
			if oo := operationOutcome(v); oo != "" {
				return oo
			}
			return "Upstream response body: " + truncate(string(body), errorTextLimit)
		}
	}
	if !looksLikeText(body) {
		return fmt.Sprintf("Upstream response body: %d bytes%s (not text).", len(body), contentTypeNote(h))
	}
	text := strings.ToValidUTF8(string(body), "\uFFFD")
	if isHTML(h, body) {
		text = htmlTags.ReplaceAllString(text, " ")
	}
	text = strings.Join(strings.Fields(text), " ")
	return "Upstream response body: " + truncate(text, errorTextLimit/4)
}

var htmlTags = regexp.MustCompile(`(?s)<(script|style)\b.*?</(script|style)>|<[^>]*>`)

func isHTML(h http.Header, body []byte) bool {
	if h != nil {
		if mt, _, err := mime.ParseMediaType(h.Get("Content-Type")); err == nil && mt == "text/html" {
			return true
		}
	}
	lower := bytes.ToLower(body[:min(len(body), 64)])
	return bytes.HasPrefix(lower, []byte("<!doctype html")) || bytes.HasPrefix(lower, []byte("<html"))
}

// operationOutcome lists the issues of a FHIR OperationOutcome.
func operationOutcome(v any) string {
	m, ok := v.(map[string]any)
	if !ok || m["resourceType"] != "OperationOutcome" {
		return ""
	}
	issues, _ := m["issue"].([]any)
	var b strings.Builder
	b.WriteString("Upstream diagnostics (FHIR OperationOutcome):")
	n := 0
	for _, it := range issues {
		is, ok := it.(map[string]any)
		if !ok {
			continue
		}
		if b.Len() > errorTextLimit {
			fmt.Fprintf(&b, "\n- … %d more issues", len(issues)-n)
			break
		}
		n++
		var parts []string
		head := strings.TrimSpace(str(is["severity"]) + " " + str(is["code"]))
		if details, ok := is["details"].(map[string]any); ok {
			if t := str(details["text"]); t != "" {
				parts = append(parts, t)
			} else if codings, ok := details["coding"].([]any); ok {
				for _, c := range codings {
					if cm, ok := c.(map[string]any); ok {
						if d := cmp.Or(str(cm["display"]), str(cm["code"])); d != "" {
							parts = append(parts, d)
						}
					}
				}
			}
		}
		if d := str(is["diagnostics"]); d != "" {
			parts = append(parts, d)
		}
		line := "\n- " + head
		if len(parts) > 0 {
			line += ": " + strings.Join(parts, "; ")
		}
		if ex := strList(is["expression"], is["location"]); ex != "" {
			line += " (at " + ex + ")"
		}
		b.WriteString(truncate(line, 1024))
	}
	if n == 0 {
		b.WriteString(" no issues listed.")
	}
	return b.String()
}

func str(v any) string {
	s, _ := v.(string)
	return strings.TrimSpace(s)
}

func strList(vs ...any) string {
	for _, v := range vs {
		arr, _ := v.([]any)
		var out []string
		for _, e := range arr {
			if s := str(e); s != "" {
				out = append(out, s)
			}
		}
		if len(out) > 0 {
			return strings.Join(out, ", ")
		}
	}
	return ""
}

func reason(status int) string {
	if t := http.StatusText(status); t != "" {
		return t
	}
	return "(non-standard status)"
}

func contentTypeNote(h http.Header) string {
	if h == nil {
		return ""
	}
	if ct := h.Get("Content-Type"); ct != "" {
		return " (Content-Type " + ct + ")"
	}
	return ""
}

// snippet quotes the start of an unexpected body as text.
func snippet(body []byte, limit int) string {
	head := body[:min(len(body), limit*2)]
	if !looksLikeText(head) {
		return fmt.Sprintf("(%d bytes, not text)", len(body))
	}
	return truncate(strings.Join(strings.Fields(strings.ToValidUTF8(string(head), "\uFFFD")), " "), limit)
}

// looksLikeText tolerates a character cut at the end of a bounded read.
func looksLikeText(b []byte) bool {
	if bytes.IndexByte(b, 0) >= 0 {
		return false
	}
	for i := 0; i < 3 && len(b) > 0 && !utf8.Valid(b); i++ {
		b = b[:len(b)-1]
	}
	return utf8.Valid(b)
}

// truncate cuts s to at most limit bytes at a character boundary.
func truncate(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + fmt.Sprintf("… (truncated, %d bytes in all)", len(s))
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
