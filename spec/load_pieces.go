package spec

import (
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

// A capability of thousands of operations parsed whole is a YAML tree of
// hundreds of thousands of nodes (160 bytes each: 125 MB for 10,000
// operations) held while the model is decoded from it and the schema checks
// it, which is what sets the memory peak of run and validate, and the
// collector's work. Its long lists are split already (parse_chunks.go
// parses them in chunks, schema_split.go checks their items apart), so
// Validator.Load reads such a document in pieces and never holds the whole
// tree: the skeleton is parsed, checked and decoded, then each chunk of a
// long list is parsed, its enum aliases read, its items checked against
// the list's item schema (and placed by their own trees), decoded onto the
// model's list, and what the checks read from trees collected (texts.go);
// then the chunk's tree is dropped. Chunks are parsed on every core while
// the skeleton is read, each worker holding one.
//
// That gives what Parse and ValidateParsed give, because it is the same
// work on the same nodes, only in another order where order does not show:
// findings are placed by the trees that hold them, diagnostics are sorted
// by position, and a document without aliases is walked in position
// order. A cut list that the schema check does not split (anything but the
// resources, tools and prompts of a consumes or exposes block: a long list
// of one resource's operations, say) is grafted back into the skeleton,
// as the chunked parse does. Anything that would make the order show, or
// that the pieces do not cover, loads the document whole instead: an alias
// anywhere (a merge key's `*anchor` is one), a model the decoder could not
// read as written (any type error: the decoder then drops whole blocks), an
// Ikanos file, no cut list the check splits, and whatever the chunked
// parse itself declines. TestLoadInPiecesIsLoadWhole holds the two equal.

// piecesFrom is the file size from which Load reads a document in pieces.
// Lower than chunkFrom, where parsing alone gains from pieces: a file of
// 1,000 operations (800 KB) loads in pieces in 0.10 s and 65 MB, whole in
// 0.115 s and 80 MB. Below it the pieces would save little, and the line
// scan that looks for them is saved.
const piecesFrom = 64 << 10

// pieceList is a cut list of the document loaded in pieces.
type pieceList struct {
	cut   *cut
	seq   *yaml.Node // the list in the skeleton, holding its kept items
	ptr   string     // JSON pointer of the list
	toks  []string   // its tokens
	keys  []string   // the mapping keys above the items, as walkStrings gives them
	depth int        // the items' depth in the document's tree
	key   string     // which item schema: "RestExposes.resources"...
	sink  listSink
}

// listSink is the model's list a cut list's items are decoded onto, each
// chunk onto its own places, on every core: the list is extended once to
// its full length, and each item decoded as the list's decoder would decode
// it (into a zero value; a type error, which would drop it, loads the
// document whole instead).
type listSink interface {
	extend(n int)
	decodeAt(i int, item *yaml.Node) error
	len() int
}

type sliceSink[T any] struct{ dst *[]T }

func (s sliceSink[T]) extend(n int) { *s.dst = append(*s.dst, make([]T, n)...) }
func (s sliceSink[T]) len() int     { return len(*s.dst) }

func (s sliceSink[T]) decodeAt(i int, item *yaml.Node) error {
	return item.Decode(&(*s.dst)[i])
}

// chunkResult is what a chunk leaves once its tree is dropped.
type chunkResult struct {
	failed  bool
	aliases Diagnostics // enum aliases read
	schema  Diagnostics
	texts   pieceTexts
}

// pieceLoad is one document being loaded in pieces.
type pieceLoad struct {
	v       *Validator
	path    string
	lists   []pieceList
	items   map[string]*jsonschema.Schema
	cs      *compiledSchema
	isBare  func(string) bool
	aborted atomic.Bool
}

// loadInPieces is Load for a document large enough to be read in pieces;
// false when it must be loaded whole. It returns the document, the
// diagnostics of reading it (Parse's) and the schema check's.
func (v *Validator) loadInPieces(path string, data []byte) (*Document, Diagnostics, <-chan Diagnostics, bool) {
	if v.chunks.perChunk == 0 || len(data) < v.piecesFrom || len(data) > MaxFileSize {
		return nil, nil, nil, false
	}
	pl, ok := v.chunks.plan(data)
	if !ok {
		return nil, nil, nil, false
	}
	l := &pieceLoad{v: v, path: path}
	// The skeleton first (a few lines, once the long lists are cut): it
	// says which cut lists are read in pieces. The others are grafted back
	// into it, their chunks parsed first.
	seqs, graft, ok := l.locate(pl)
	if !ok {
		return nil, nil, nil, false
	}
	type job struct {
		cut  int
		list *pieceList // nil: a chunk to graft
		p    *piece
	}
	var jobs []job
	for i, ct := range pl.cuts {
		if graft[i] {
			for _, p := range ct.chunks {
				jobs = append(jobs, job{cut: i, p: p})
			}
		}
	}
	grafts := len(jobs)
	for i := range l.lists {
		for _, p := range l.lists[i].cut.chunks {
			jobs = append(jobs, job{list: &l.lists[i], p: p})
		}
	}
	ready := make(chan struct{})
	results := make([]chunkResult, len(jobs))
	var next atomic.Int64
	var wg, parsed sync.WaitGroup
	parsed.Add(grafts)
	for range max(1, v.chunks.workers) {
		wg.Go(func() {
			for n := int(next.Add(1) - 1); n < len(jobs); n = int(next.Add(1) - 1) {
				j := jobs[n]
				if j.list == nil {
					j.p.parse()
					parsed.Done()
					continue
				}
				if l.aborted.Load() {
					continue // loaded whole after all: parse no more
				}
				j.p.parse()
				<-ready
				if !l.aborted.Load() {
					results[n] = l.chunk(j.list, j.p)
					if results[n].failed {
						l.aborted.Store(true)
					}
				}
				j.p.root = yaml.Node{}
			}
		})
	}
	parsed.Wait()
	for _, j := range jobs[:grafts] {
		if j.p.err != nil {
			l.aborted.Store(true)
			break
		}
		s, ok := j.p.chunkItems(pl.cuts[j.cut])
		if !ok {
			l.aborted.Store(true)
			break
		}
		seqs[j.cut].Content = append(seqs[j.cut].Content, s.Content...)
	}
	var (
		doc        *Document
		aliases    Diagnostics
		skelSchema <-chan Diagnostics
	)
	if !l.aborted.Load() {
		if doc, aliases, skelSchema, ok = l.skeleton(&pl.skel.root); !ok {
			l.aborted.Store(true)
		}
	}
	close(ready)
	wg.Wait()
	if l.aborted.Load() {
		if skelSchema != nil {
			<-skelSchema
		}
		return nil, nil, nil, false
	}

	texts := doc.pieces
	for _, r := range results[grafts:] {
		aliases = append(aliases, r.aliases...)
		texts.braced = append(texts.braced, r.texts.braced...)
		texts.templates = append(texts.templates, r.texts.templates...)
		for name, p := range r.texts.bare {
			if q, ok := texts.bare[name]; !ok || p.compare(q) < 0 {
				texts.bare[name] = p
			}
		}
	}
	slices.SortStableFunc(texts.braced, func(a, b bracedText) int { return a.pos.compare(b.pos) })
	slices.SortStableFunc(texts.templates, func(a, b posText) int { return a.pos.compare(b.pos) })
	schema := <-skelSchema
	for _, r := range results[grafts:] {
		schema = append(schema, r.schema...)
	}
	texts.schema = schema
	ch := make(chan Diagnostics, 1)
	ch <- slices.Clone(schema)
	return doc, append(aliases, applyReadings(doc)...), ch, true
}

// locate parses the skeleton and finds its cut lists: those read in pieces
// (l.lists), and those to graft back (true in graft). False when the
// document must be loaded whole.
func (l *pieceLoad) locate(pl *chunkPlan) (seqs []*yaml.Node, graft []bool, ok bool) {
	pl.skel.parse()
	for _, ct := range pl.cuts {
		ct.kept.parse()
		if ct.kept.err != nil {
			return nil, nil, false
		}
	}
	if pl.skel.err != nil {
		return nil, nil, false
	}
	if seqs, ok = locate(&pl.skel.root, pl.cuts); !ok {
		return nil, nil, false
	}
	paths := seqPaths(&pl.skel.root, seqs)
	graft = make([]bool, len(pl.cuts))
	for i, ct := range pl.cuts {
		toks := paths[seqs[i]]
		if toks == nil || !splitCandidate(toks) {
			graft[i] = true
			continue
		}
		pli := pieceList{cut: ct, seq: seqs[i], ptr: tokensPtr(toks), toks: toks, depth: len(toks) + 2}
		for _, t := range toks {
			if _, err := strconv.Atoi(t); err != nil {
				pli.keys = append(pli.keys, t)
			}
		}
		l.lists = append(l.lists, pli)
	}
	return seqs, graft, len(l.lists) > 0
}

// skeleton reads the skeleton, with its grafted lists: checked against the
// schema (in the background: the channel), decoded. False when the
// document must be loaded whole.
func (l *pieceLoad) skeleton(root *yaml.Node) (*Document, Diagnostics, <-chan Diagnostics, bool) {
	if deep, aliased := scanTree(root, 0); deep != nil || aliased || len(root.Content) == 0 ||
		root.Content[0].Kind != yaml.MappingNode || foreignFormat(root) != "" {
		return nil, nil, nil, false
	}
	aliases := l.v.kept(readEnumAliases(l.path, root))

	cs, err := l.v.schema()
	if err != nil {
		return nil, nil, nil, false
	}
	if l.items, err = cs.itemSchemas(); err != nil {
		return nil, nil, nil, false
	}
	l.cs = cs
	inst, held := skeletonJSON(root)
	lists, total := findLists(inst, held)
	for i := range l.lists {
		pli := &l.lists[i]
		for _, ls := range lists {
			if ls.ptr == pli.ptr && held[ls.ptr] == pli.seq {
				pli.key = ls.key
			}
		}
		if pli.key == "" {
			return nil, nil, nil, false
		}
		total += len(pli.cut.run.items) - pli.cut.keep
	}
	if total < l.v.splitFrom {
		return nil, nil, nil, false
	}

	doc := &Document{Path: l.path, Root: root}
	if err := root.Decode(doc); err != nil {
		return nil, nil, nil, false
	}
	for i := range l.lists {
		pli := &l.lists[i]
		if pli.sink = sinkAt(doc, root, pli.toks); pli.sink == nil || pli.sink.len() != pli.cut.keep {
			return nil, nil, nil, false
		}
		pli.sink.extend(len(pli.cut.run.items) - pli.cut.keep)
	}
	declared := map[string]bool{}
	binds := doc.Binds
	if doc.Capability != nil {
		binds = append(slices.Clip(binds), doc.Capability.Binds...)
	}
	for _, b := range binds {
		for _, kv := range b.Keys {
			declared[kv.Key] = true
		}
	}
	// A bare value is looked for only for a variable nothing uses: a
	// declared one, or one inferred from a template (a SCREAMING name).
	l.isBare = func(s string) bool {
		return declared[s] || s != "" && 'A' <= s[0] && s[0] <= 'Z' && screamingName.MatchString(s)
	}
	doc.pieces = &pieceTexts{bare: map[string]Pos{}}
	doc.pieces.collect(root, nil, 0, l.isBare)

	schema := make(chan Diagnostics, 1)
	go func() {
		for _, ls := range lists {
			if _, ok := held[ls.ptr]; !ok {
				emptyList(inst, ls.ptr) // a list a merge key brought in
			}
		}
		restoreLists(inst, held, lists)
		sc := &schemaCheck{cs: cs, inst: inst, root: root}
		var ds Diagnostics
		for _, f := range sc.checkSplit(lists, l.items) {
			ds = append(ds, l.v.diagnostic(doc, f))
		}
		schema <- l.v.kept(ds)
	}()
	return doc, aliases, schema, true
}

// chunk reads one chunk of a list; its tree can be dropped after.
func (l *pieceLoad) chunk(pli *pieceList, p *piece) chunkResult {
	if p.err != nil {
		return chunkResult{failed: true}
	}
	seq, ok := p.chunkItems(pli.cut)
	if !ok {
		return chunkResult{failed: true}
	}
	r := chunkResult{texts: pieceTexts{bare: map[string]Pos{}}}
	for _, it := range seq.Content {
		r.aliases = append(r.aliases, readEnumAliasesAt(l.path, it, pli.depth)...)
	}
	r.aliases = l.v.kept(r.aliases)
	for j, it := range seq.Content {
		item := &schemaCheck{cs: l.cs, inst: ToJSONValue(it), item: it, prefix: pli.ptr + "/" + strconv.Itoa(p.from+j)}
		e, err := item.validate(l.items[pli.key])
		if e != nil {
			prefixLocations(e, item.prefix)
		}
		for _, f := range dedupeFindings(item.findings(e, err)) {
			r.schema = append(r.schema, diagnosticAt(l.path, item.nodeAt, f))
		}
	}
	r.schema = l.v.kept(r.schema)
	for j, it := range seq.Content {
		if err := pli.sink.decodeAt(p.from+j, it); err != nil {
			return chunkResult{failed: true}
		}
	}
	for _, it := range seq.Content {
		r.texts.collect(it, pli.keys, pli.depth, l.isBare)
	}
	return r
}

// seqPaths finds the JSON pointer tokens of each of seqs in the tree.
func seqPaths(root *yaml.Node, seqs []*yaml.Node) map[*yaml.Node][]string {
	want := make(map[*yaml.Node]bool, len(seqs))
	for _, s := range seqs {
		want[s] = true
	}
	out := make(map[*yaml.Node][]string, len(seqs))
	var walk func(n *yaml.Node, toks []string)
	walk = func(n *yaml.Node, toks []string) {
		if want[n] {
			out[n] = slices.Clone(toks)
			return
		}
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				walk(n.Content[i+1], append(toks, n.Content[i].Value))
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				walk(c, append(toks, strconv.Itoa(i)))
			}
		}
	}
	if len(root.Content) > 0 {
		walk(root.Content[0], nil)
	}
	return out
}

// sinkAt is the model's list at the JSON pointer toks (a split candidate),
// or nil. The blocks above it must be the tree's one for one, which a
// decode without errors gives.
func sinkAt(doc *Document, root *yaml.Node, toks []string) listSink {
	i, err := strconv.Atoi(toks[len(toks)-2])
	if err != nil {
		return nil
	}
	blocks, _ := NodeAt(root, tokensPtr(toks[:len(toks)-2]))
	count := 0
	if blocks != nil && blocks.Kind == yaml.SequenceNode {
		count = len(blocks.Content)
	}
	switch {
	case len(toks) == 3 && len(doc.Consumes) == count:
		return sliceSink[ConsumedResource]{&doc.Consumes[i].Resources}
	case len(toks) == 4 && doc.Capability != nil && toks[1] == "consumes" && len(doc.Capability.Consumes) == count:
		return sliceSink[ConsumedResource]{&doc.Capability.Consumes[i].Resources}
	case len(toks) == 4 && doc.Capability != nil && toks[1] == "exposes" && len(doc.Capability.Exposes) == count:
		e := &doc.Capability.Exposes[i]
		switch {
		case toks[3] == "tools":
			return sliceSink[Tool]{&e.Tools}
		case toks[3] == "prompts":
			return sliceSink[MCPPrompt]{&e.Prompts}
		case e.Type == "rest":
			return sliceSink[ExposedResource]{&e.RestResources}
		case e.Type == "mcp":
			return sliceSink[MCPResource]{&e.MCPResources}
		}
	}
	return nil
}
