package sandbox

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
)

const (
	contentTypeFHIR   = "application/fhir+json"
	contentTypeNDJSON = "application/fhir+ndjson"
)

// bundleEntry is one entry of a searchset Bundle.
type bundleEntry struct {
	res  *resource
	mode string // match or include
}

type bundleLink struct {
	Relation string `json:"relation"`
	URL      string `json:"url"`
}

// baseURL is the absolute address the server is reached at, derived from the
// request so that the same Server works wherever it is mounted.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// pageLinks builds self/first/previous/next/last links for a page of a
// result. Paging is stateless: the data never changes, so a page is fully
// described by the query plus _offset and _count.
func pageLinks(base, path string, params url.Values, offset, count, total int) []bundleLink {
	link := func(rel string, off int) bundleLink {
		q := url.Values{}
		for k, v := range params {
			q[k] = v
		}
		q.Set("_count", strconv.Itoa(count))
		if off > 0 {
			q.Set("_offset", strconv.Itoa(off))
		}
		return bundleLink{rel, base + path + "?" + q.Encode()}
	}
	links := []bundleLink{link("self", offset), link("first", 0)}
	if count == 0 {
		return links
	}
	if offset > 0 {
		links = append(links, link("previous", max(0, offset-count)))
	}
	if offset+count < total {
		links = append(links, link("next", offset+count))
	}
	last := 0
	if total > 0 {
		last = (total - 1) / count * count
	}
	return append(links, link("last", last))
}

// selfLink is the single link of an unpaged result.
func selfLink(base, path string, params url.Values) []bundleLink {
	u := base + path
	if len(params) > 0 {
		u += "?" + params.Encode()
	}
	return []bundleLink{{"self", u}}
}

// writeSearchset streams a searchset Bundle. Entries are written one by one
// from their pre-serialised JSON, so even a multi-megabyte $everything costs
// little more than copying bytes.
func writeSearchset(w http.ResponseWriter, base string, total int, links []bundleLink, entries []bundleEntry) {
	w.Header().Set("Content-Type", contentTypeFHIR)
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 64<<10)
	linkJSON, _ := json.Marshal(links) // plain strings: cannot fail
	baseJSON, _ := json.Marshal(base)
	quotedBase := baseJSON[:len(baseJSON)-1] // `"http://host` without the closing quote

	bw.WriteString(`{"resourceType":"Bundle","type":"searchset","total":`)
	bw.WriteString(strconv.Itoa(total))
	bw.WriteString(`,"link":`)
	bw.Write(linkJSON)
	if len(entries) > 0 { // FHIR JSON forbids empty arrays
		bw.WriteString(`,"entry":[`)
		for i, e := range entries {
			if i > 0 {
				bw.WriteByte(',')
			}
			bw.WriteString(`{"fullUrl":`)
			bw.Write(quotedBase)
			bw.WriteByte('/')
			bw.WriteString(e.res.typ)
			bw.WriteByte('/')
			bw.WriteString(e.res.id)
			bw.WriteString(`","resource":`)
			bw.Write(e.res.json)
			bw.WriteString(`,"search":{"mode":"`)
			bw.WriteString(e.mode)
			bw.WriteString(`"}}`)
		}
		bw.WriteByte(']')
	}
	bw.WriteByte('}')
	_ = bw.Flush() // a failed write means the client went away; nothing to report to
}
