package mcpserver

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/naftiko/naftiko/engine"
	"github.com/naftiko/naftiko/engine/continuation"
	"github.com/naftiko/naftiko/engine/paging"
	"github.com/naftiko/naftiko/engine/upstream"
)

// Results within a budget. A JSON result larger than the budget comes as
// pages (engine/paging): each page valid JSON of the result's shape, with a
// sentence saying what the whole holds and how to get the next page, whose
// exact arguments are also in _meta["io.naftiko/next"]. The next page's
// cursor is a sealed continuation (engine/continuation) bound to the tool,
// its arguments and the caller: any replica with the same link key
// continues it, no one else can.

// NextMetaKey is the _meta key of the next page's arguments.
const NextMetaKey = "io.naftiko/next"

const (
	// DefaultResultBudget bounds what one tool result carries, in bytes of
	// JSON: about 12k tokens, well inside what agent clients accept (they
	// refuse results of roughly 25k tokens).
	DefaultResultBudget = 48 << 10
	// cursorTTL is how long a page cursor stays valid.
	cursorTTL = time.Hour
	// Bodies kept so that later pages do not fetch the record again: per
	// body, in all, and for how long (per replica; a replica without it
	// fetches again).
	cacheEntryLimit = 16 << 20
	cacheLimit      = 64 << 20
	cacheTTL        = 10 * time.Minute
)

// pageState is what a cursor carries.
type pageState struct {
	Cache string          `json:"c,omitempty"` // a body kept on the replica that minted the cursor
	URL   string          `json:"u,omitempty"` // an upstream page (its own next link), else the call itself
	Pos   paging.Position `json:"p"`
	Page  int             `json:"n"` // the number of the page it leads to
}

// pageRequest is one paged call: the tool, its bound call, its own
// arguments and narrowing, and who asked.
type pageRequest struct {
	tool      *tool
	call      *engine.Call
	args      map[string]any
	sel       *paging.Selector
	selText   string
	principal string
	outcome   *engine.Outcome // the answer being paged, for messages
}

func (pr *pageRequest) binding() continuation.Binding {
	ctx := map[string]any{"args": pr.args}
	if pr.selText != "" {
		ctx["select"] = pr.selText
	}
	return continuation.Binding{Purpose: "mcp-page", Subject: pr.tool.t.Name, Principal: pr.principal, Context: continuation.Digest(ctx)}
}

// pagedResult answers a successful JSON body: whole when it fits the budget
// (and nothing narrows it), else its first page.
func (s *Server) pagedResult(ctx context.Context, pr *pageRequest, body io.Reader, st pageState) (*mcp.CallToolResult, string, error) {
	budget := s.cfg.budget
	if budget <= 0 {
		return s.wholeBody(ctx, body, pr.outcome)
	}
	if pr.sel == nil && st.Page <= 1 && st.Pos == (paging.Position{}) {
		head, err := io.ReadAll(io.LimitReader(body, int64(budget)+1))
		if err != nil {
			return s.readFailure(ctx, err)
		}
		if len(head) <= budget {
			return s.small(head, pr.outcome)
		}
		body = io.MultiReader(bytes.NewReader(head), body)
	}
	keep := &keeper{limit: cacheEntryLimit}
	if st.Cache == "" {
		body = io.TeeReader(body, keep)
	}
	var narrow paging.Narrow
	if pr.sel != nil {
		nctx, cancel := context.WithTimeout(ctx, paging.Timeout)
		defer cancel()
		narrow = pr.sel.Narrow(nctx)
	}
	page, err := paging.Cut(body, budget, st.Pos, narrow)
	if err != nil {
		var narrowErr *paging.NarrowError
		if errors.Is(err, paging.ErrNotPageable) {
			// A large JSON string or number: nothing to cut at.
			msg := fmt.Sprintf("The result is a single JSON value larger than %s, which cannot be paged. Ask the upstream for less if the tool takes such arguments.", byteSize(int64(budget)))
			return s.errorResult(msg), msg, nil
		}
		if ctx.Err() != nil && !errors.Is(err, upstream.ErrTimeout) {
			return nil, "", ctx.Err()
		}
		var syntax *json.SyntaxError
		if errors.As(err, &syntax) || errors.Is(err, io.ErrUnexpectedEOF) {
			msg := "The upstream's answer is not the JSON this tool declares (it is not valid JSON, or it ends too soon). This is an upstream or gateway problem, not your arguments."
			return s.errorResult(msg), msg, nil
		}
		if errors.As(err, &narrowErr) {
			msg := fmt.Sprintf("Invalid arguments: %s: %v. No result was made; fix the expression or leave %s out.", pr.tool.selectArg, narrowErr.Err, pr.tool.selectArg)
			return s.errorResult(msg), msg, nil
		}
		return s.readFailure(ctx, err)
	}
	if st.Cache == "" && keep.ok() {
		st.Cache = s.cache.put(keep.buf.Bytes())
	}
	page.JSON = bytes.TrimSpace(page.JSON)
	if len(page.Arrays) == 0 {
		// One value with no array to cut at: it comes whole, however large.
		return s.small(page.JSON, pr.outcome)
	}
	var next *pageState
	switch {
	case page.More:
		next = &pageState{Cache: st.Cache, URL: st.URL, Pos: page.Next, Page: max(st.Page, 1) + 1}
	case page.NextLink != "" && pr.tool.t.Action.Under(page.NextLink):
		next = &pageState{URL: page.NextLink, Page: max(st.Page, 1) + 1}
	}
	return s.pageResult(pr, page, max(st.Page, 1), next)
}

// small is a result that fits the budget: the body as it came. o (may be
// nil) is the answer it came in, for messages.
func (s *Server) small(body []byte, o *engine.Outcome) (*mcp.CallToolResult, string, error) {
	if o == nil {
		o = &engine.Outcome{Status: 200}
	}
	body = bytes.TrimPrefix(body, utf8BOM)
	if len(bytes.TrimSpace(body)) == 0 {
		return s.textResult(emptyAnswer(o)), "", nil
	}
	// Both copies fit the limit: the text and structuredContent, which must
	// be valid JSON. Beyond it the text alone carries the result, and a
	// look at its ends tells an upstream error page or a cut body from
	// JSON without a second full scan of a large body.
	structured := 2*len(body) <= s.structuredLimit()
	if structured && !json.Valid(body) || !structured && !looksJSON(body) {
		msg := fmt.Sprintf("The upstream answered %d %s, but its body is not the JSON this tool declares%s. "+
			"This is an upstream or gateway problem, not your arguments. The body starts with: %s",
			o.Status, reason(o.Status), contentTypeNote(o.Header), snippet(body, snippetLimit))
		return s.errorResult(msg), msg, nil
	}
	return s.jsonResult(body, structured), "", nil
}

// wholeBody reads a body whole (no budget), up to the memory bound.
func (s *Server) wholeBody(ctx context.Context, body io.Reader, o *engine.Outcome) (*mcp.CallToolResult, string, error) {
	b, err := io.ReadAll(io.LimitReader(body, s.cfg.maxResult+1))
	if err != nil {
		return s.readFailure(ctx, err)
	}
	if int64(len(b)) > s.cfg.maxResult {
		msg := s.tooLarge()
		return s.errorResult(msg), msg, nil
	}
	return s.small(b, o)
}

func (s *Server) readFailure(ctx context.Context, err error) (*mcp.CallToolResult, string, error) {
	if ctx.Err() != nil && !errors.Is(err, upstream.ErrTimeout) {
		return nil, "", ctx.Err()
	}
	var msg string
	if errors.Is(err, upstream.ErrTimeout) {
		msg = "The upstream did not answer within the timeout: it stalled while sending the result. You may retry later."
	} else {
		s.log.WarnContext(ctx, "upstream body unreadable", "error", s.redact(err.Error()))
		msg = "The upstream's answer could not be read to its end (the connection broke, or the body is not valid JSON). This is not caused by your arguments; you may retry later."
	}
	return s.errorResult(msg), msg, nil
}

// pageResult renders one page: the page's JSON as text, a sentence saying
// what the whole holds and how to go on, the next call's arguments in
// _meta, and the page again as structuredContent when both copies fit the
// budget.
func (s *Server) pageResult(pr *pageRequest, page *paging.Page, n int, next *pageState) (*mcp.CallToolResult, string, error) {
	s.secrets().Mask(page.JSON)
	var b strings.Builder
	tl := pr.tool
	if next == nil {
		fmt.Fprintf(&b, "This is the last page (page %d) of this result: %s.", n, page.Summary())
	} else {
		fmt.Fprintf(&b, "This result is larger than one tool result may be, so it comes in pages: this is page %d (%s).", n, page.Summary())
	}
	if page.Total != nil {
		fmt.Fprintf(&b, " The upstream counts %d in all.", *page.Total)
	}
	res := &mcp.CallToolResult{}
	if next != nil {
		tok, err := s.sealer.Mint(pr.binding(), cursorTTL, next)
		if err != nil {
			return nil, "", err
		}
		nextArgs := make(map[string]any, len(pr.args)+2)
		for k, v := range pr.args {
			nextArgs[k] = v
		}
		if pr.selText != "" {
			nextArgs[tl.selectArg] = pr.selText
		}
		nextArgs[tl.cursorArg] = tok
		res.Meta = mcp.Meta{NextMetaKey: nextArgs}
		fmt.Fprintf(&b, " To get the next page, call %s again with the same arguments plus %q: %q (the exact arguments are in _meta %q).",
			tl.t.Name, tl.cursorArg, tok, NextMetaKey)
	}
	if pr.sel == nil {
		fmt.Fprintf(&b, " To ask for less, add %q: a jq expression applied to each item, e.g. %q.", tl.selectArg, `select(.resource.resourceType == "Observation")`)
	}
	res.Content = []mcp.Content{&mcp.TextContent{Text: string(page.JSON)}, &mcp.TextContent{Text: s.redact(b.String())}}
	if len(page.JSON) > 0 && page.JSON[0] == '{' && 2*len(page.JSON) <= s.structuredLimit() {
		res.StructuredContent = json.RawMessage(page.JSON)
	}
	return res, "", nil
}

// structuredLimit bounds a result that also travels as structuredContent:
// the budget, or without one the default budget, so a large unbudgeted
// result travels once, as text, not twice.
func (s *Server) structuredLimit() int {
	if s.cfg.budget > 0 {
		return s.cfg.budget
	}
	return DefaultResultBudget
}

// continuePage answers a call that carries a cursor.
func (tl *tool) continuePage(ctx context.Context, pr *pageRequest, cursor string) (*mcp.CallToolResult, string, error) {
	s := tl.srv
	var st pageState
	if err := s.sealer.Open(cursor, pr.binding(), &st); err != nil {
		why := strings.TrimPrefix(err.Error(), continuation.ErrInvalid.Error()+": ")
		msg := fmt.Sprintf("Invalid arguments: %s is not a valid page cursor for this call (%s). No upstream call was made. "+
			"Use the %s from the previous page's _meta %q with exactly the same other arguments, or call %s without %s to start from the first page.",
			tl.cursorArg, why, tl.cursorArg, NextMetaKey, tl.t.Name, tl.cursorArg)
		return s.errorResult(msg), msg, nil
	}
	if st.Cache != "" {
		if body, ok := s.cache.get(st.Cache); ok {
			tl.t.Action.Reread(pr.call) // audited as the read it is
			return s.pagedResult(ctx, pr, bytes.NewReader(body), st)
		}
		st.Cache = "" // kept on another replica, or expired: fetch again
	}
	var (
		out *engine.Outcome
		err error
	)
	if st.URL != "" {
		out, err = tl.t.Action.Follow(ctx, pr.call, st.URL)
	} else {
		out, err = tl.t.Action.Invoke(ctx, pr.call)
	}
	if err != nil {
		return nil, "", err
	}
	if out.Status >= 300 || out.Body == nil {
		return s.result(ctx, out, nil)
	}
	defer out.Body.Close()
	pr.outcome = out
	return s.pagedResult(ctx, pr, out.Body, st)
}

// keeper keeps what passes through it, up to a limit.
type keeper struct {
	buf   bytes.Buffer
	limit int
	over  bool
}

func (k *keeper) Write(p []byte) (int, error) {
	if !k.over {
		if k.buf.Len()+len(p) > k.limit {
			k.over = true
			k.buf = bytes.Buffer{}
		} else {
			k.buf.Write(p)
		}
	}
	return len(p), nil
}

func (k *keeper) ok() bool { return !k.over && k.buf.Len() > 0 }

// pageCache keeps bodies being paged, bounded in bytes and time.
type pageCache struct {
	mu      sync.Mutex
	entries map[string]*cached
	bytes   int
	now     func() time.Time
}

type cached struct {
	body    []byte
	expires time.Time
}

func newPageCache() *pageCache { return &pageCache{entries: map[string]*cached{}, now: time.Now} }

func (c *pageCache) put(body []byte) string {
	if len(body) > cacheEntryLimit {
		return ""
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	for id, e := range c.entries {
		if now.After(e.expires) {
			c.drop(id)
		}
	}
	for c.bytes+len(body) > cacheLimit && len(c.entries) > 0 {
		oldest := ""
		for id, e := range c.entries {
			if oldest == "" || e.expires.Before(c.entries[oldest].expires) {
				oldest = id
			}
		}
		c.drop(oldest)
	}
	id := rand.Text()
	c.entries[id] = &cached{body: append([]byte(nil), body...), expires: now.Add(cacheTTL)}
	c.bytes += len(body)
	return id
}

func (c *pageCache) drop(id string) {
	c.bytes -= len(c.entries[id].body)
	delete(c.entries, id)
}

func (c *pageCache) get(id string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[id]
	if !ok || c.now().After(e.expires) {
		return nil, false
	}
	return e.body, true
}

// looksJSON reports whether body starts and ends as a JSON object, array
// or string does.
func looksJSON(body []byte) bool {
	b := bytes.TrimSpace(body)
	if len(b) < 2 {
		return json.Valid(b)
	}
	switch first, last := b[0], b[len(b)-1]; {
	case first == '{':
		return last == '}'
	case first == '[':
		return last == ']'
	case first == '"':
		return last == '"'
	}
	return json.Valid(b) // a number, true, false, null: short
}
