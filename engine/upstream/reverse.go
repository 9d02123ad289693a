package upstream

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Parse inverts the operation for a URL its upstream returned: the values
// that make the operation request exactly that URL, when there are such
// values. Only GET operations invert, only path placeholders that fill
// whole segments and query parameters callers feed are read, and the
// answer is checked by building the request again ([Operation.Sends]), so
// a URL the operation would not send (another query parameter, a constant
// missing or different) reports false.
func (o *Operation) Parse(rawURL string) (Args, bool) {
	if o.Method != http.MethodGet || strings.ContainsRune(rawURL, '#') {
		return nil, false
	}
	rel, ok := o.client.Relative(rawURL)
	if !ok {
		return nil, false
	}
	path, rawQuery, _ := strings.Cut(rel, "?")
	slots, ok := o.path.MatchPath(path)
	if !ok {
		return nil, false
	}
	args := make(Args, len(o.args))
	for i, v := range slots {
		args[i] = v
	}
	query, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, false
	}
	for name, vs := range query {
		i := slices.IndexFunc(o.params, func(p param) bool { return p.In == "query" && p.Name == name })
		if i < 0 {
			if slices.ContainsFunc(o.pathQuery, func(q queryPart) bool { return q.name == name }) {
				continue // a constant of the path's own query string: checked by Sends
			}
			return nil, false
		}
		p := o.params[i]
		switch {
		case p.arg < 0:
			continue // a constant: checked by Sends
		case len(vs) > 1:
			// Repeated: an array, if the operation sends one so.
			arr := make([]any, len(vs))
			for j, v := range vs {
				arr[j] = v
			}
			args[p.arg] = arr
		default:
			args[p.arg] = vs[0]
		}
	}
	return args, true
}

// Sends reports whether the operation called with args requests exactly
// rawURL: the same path, escaped alike, and the same query parameters in
// any order. It makes no call.
func (o *Operation) Sends(args Args, rawURL string) bool {
	rel, ok := o.client.Relative(rawURL)
	if !ok {
		return false
	}
	path, rawQuery, _ := strings.Cut(rel, "?")
	req, err := o.NewRequest(context.Background(), args)
	if err != nil || req.Body != nil || req.URL.EscapedPath() != o.client.basePath+path {
		return false
	}
	gq, err1 := url.ParseQuery(req.URL.RawQuery)
	wq, err2 := url.ParseQuery(rawQuery)
	if err1 != nil || err2 != nil || len(gq) != len(wq) {
		return false
	}
	for k, v := range wq {
		if !slices.Equal(gq[k], v) {
			return false
		}
	}
	return true
}
