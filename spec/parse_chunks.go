package spec

import (
	"bytes"
	"runtime"
	"sort"
	"sync"

	"gopkg.in/yaml.v3"
)

// yaml.v3 builds a document's node tree on one core, and on a capability of
// thousands of operations that is most of the time to start. Such a file is
// a few long block sequences (resources, tools), whose items do not depend
// on one another. So a large document is parsed in pieces on every core:
// the text with each long sequence cut down to its first items (the
// skeleton), and the cut items in chunks, each chunk a block sequence of its
// own at the same indentation; then the chunks' items are put back into
// the skeleton's sequence and every line number is moved back to where the
// line is in the file. yaml.v3 parses every byte; this file only decides
// where the cuts go, from lines alone.
//
// That is exact only where nothing crosses a cut, so anything that could is
// refused and the document is parsed whole, as any smaller one: a NUL byte
// (not UTF-8), a line break other than LF or CRLF, a directive, a
// tab-indented line, an explicit key (`? k`), a keep-chomping block scalar
// (`|+`: its value takes the blank lines after it), a list holding a
// comment line (yaml.v3 attaches comments by their surroundings, and a
// document's first node is special), an anchor or alias in a chunk, a
// chunk nested 1,000 deep, any piece that fails to parse (so errors are
// always the whole parse's), kept items that do not parse on their own (a
// flow collection or quote opened in them and closed after the list), and
// pieces that are not where the cut expected them: the skeleton's sequence,
// the text after the list, each chunk's items on their lines (which catches
// list-like lines inside a block or quoted scalar). A cut is made only
// before an item whose previous line is content. TestChunkedParseIsTheWholeParse
// holds the two equal on every file we have, on variants of them made to
// cross the cuts, and on the counterexamples a review found.

// chunkFrom is the file size from which a document is parsed in pieces;
// below it one parse costs less than the set-up.
const chunkFrom = 1 << 20

// chunker parses a document in pieces, when that is safe.
type chunker struct {
	// minRun is how many items a sequence needs for it to be cut, and
	// perChunk how many items (at least) a chunk holds; tests lower both.
	minRun, perChunk int
	workers          int
}

func defaultChunker() chunker {
	return chunker{minRun: 256, perChunk: 256, workers: runtime.GOMAXPROCS(0)}
}

// line is one line of the text: its byte range, indentation and what it
// holds.
type line struct {
	start, end int // data[start:end] is the line with its break
	indent     int
	kind       lineKind
	// comment: the line may hold a comment (a `#` first, or after a
	// space or tab), whole or after its content.
	comment bool
}

type lineKind uint8

const (
	lineBlank   lineKind = iota // empty or spaces only
	lineComment                 // first non-space byte is '#'
	lineItem                    // "- " or "-" at the indentation
	lineOther                   // any other content
)

func splitLines(data []byte) ([]line, bool) {
	lines := make([]line, 0, bytes.Count(data, []byte{'\n'})+1)
	for start := 0; start < len(data); {
		end := bytes.IndexByte(data[start:], '\n')
		if end < 0 {
			end = len(data)
		} else {
			end += start + 1
		}
		content := bytes.TrimRight(data[start:end], "\r\n")
		i := 0
		for i < len(content) && content[i] == ' ' {
			i++
		}
		l := line{start: start, end: end, indent: i}
		rest := content[i:]
		l.comment = bytes.HasPrefix(rest, []byte("#")) || bytes.Contains(rest, []byte(" #")) || bytes.Contains(rest, []byte("\t#"))
		switch {
		case len(rest) == 0:
			l.kind = lineBlank
		case rest[0] == '\t':
			return nil, false // tabs are not indentation: leave it to the parser
		case rest[0] == '#':
			l.kind = lineComment
		case rest[0] == '%' && i == 0:
			return nil, false // a directive: it applies to every piece
		case rest[0] == '-' && (len(rest) == 1 || rest[1] == ' '):
			l.kind = lineItem
		default:
			l.kind = lineOther
		}
		if l.kind != lineBlank && l.kind != lineComment && (keepsTrailingBlanks(rest) || explicitKey(rest)) {
			return nil, false
		}
		lines = append(lines, l)
		start = end
	}
	return lines, true
}

// explicitKey reports whether a line, past its list indicators, opens an
// explicit key (`? k`): an empty value after one takes the position of the
// token that comes next, which a chunk's end moves.
func explicitKey(s []byte) bool {
	for len(s) > 0 && s[0] == '-' && (len(s) == 1 || s[1] == ' ') {
		s = bytes.TrimLeft(s[1:], " ")
	}
	return len(s) > 0 && s[0] == '?' && (len(s) == 1 || s[1] == ' ')
}

// keepsTrailingBlanks reports whether a line may open a keep-chomping
// block scalar, which takes the blank lines after it as its value: a `+`
// after `|` or `>` anywhere on it (a false alarm only costs the split).
func keepsTrailingBlanks(s []byte) bool {
	for i := 0; i+1 < len(s); i++ {
		if (s[i] == '|' || s[i] == '>') && (s[i+1] == '+' || (i+2 < len(s) && s[i+1] >= '1' && s[i+1] <= '9' && s[i+2] == '+')) {
			return true
		}
	}
	return false
}

// run is a long block sequence found in the text: the lines of its items
// at one indentation.
type run struct {
	indent int
	items  []int // line index of each item
	next   int   // line index of the first content line after it, or len(lines)
}

func findRuns(lines []line, minRun int) []run {
	var runs []run
	for i := 0; i < len(lines); {
		if lines[i].kind != lineItem {
			i++
			continue
		}
		r := run{indent: lines[i].indent, items: []int{i}}
		// yaml.v3 attaches a comment by the tokens around it (a line
		// comment after an empty node goes to the next one), and a
		// document's first node is special: a comment in a list, right
		// after it, or right before it may attach elsewhere in a chunk
		// than in the whole document. Such a list is not cut. (What only
		// looks like a comment, inside a scalar, is refused the same way.)
		commented := lines[i].comment || !contentBefore(lines, i)
		j := i + 1
		for ; j < len(lines); j++ {
			l := lines[j]
			switch {
			case l.kind == lineBlank:
				continue
			case l.kind == lineComment:
				commented = true
				continue
			case l.comment:
				commented = true
			case l.indent > r.indent:
				continue
			case l.indent == r.indent && l.kind == lineItem:
				r.items = append(r.items, j)
				continue
			}
			break
		}
		r.next = j
		if len(r.items) < minRun || commented {
			i++ // a short list: look for long ones inside it
			continue
		}
		runs = append(runs, r)
		i = j // lists inside this one are cut with its items
	}
	return runs
}

// contentBefore reports whether the nearest non-blank line before line i
// is content, not a comment or the start of the document.
func contentBefore(lines []line, i int) bool {
	for j := i - 1; j >= 0; j-- {
		switch lines[j].kind {
		case lineBlank:
			continue
		case lineComment:
			return false
		}
		return true
	}
	return false
}

// piece is a part of the text parsed on its own, and the number of the
// file's line its first line is.
type piece struct {
	text      []byte
	firstLine int
	// from and items say which of its run's items a chunk holds: items
	// are their line indexes, from the index of the first in the run.
	from  int
	items []int
	root  yaml.Node
	err   error
}

// cut is where a run's tail was taken out of the skeleton.
type cut struct {
	run        run
	keep       int // items of the run left in the skeleton
	chunks     []*piece
	fromLine   int // first file line cut out (1-based)
	lines      int // how many lines were cut out
	seqColumn  int // column the sequence's items start at ("-"), 1-based
	lastKept   int // file line of the last item kept
	resumeLine int // file line of the first content after the run, 0 at the end
	// kept is the kept items parsed on their own: a flow collection or
	// quoted scalar opened in them and closed only after the list fails
	// there, where the skeleton might close it with the text after the cut.
	kept *piece
}

// chunkPlan is where a document is cut, and the pieces it is cut into.
type chunkPlan struct {
	cuts []*cut
	skel *piece
	// pieces are every piece: the chunks and kept items of each cut, then
	// the skeleton.
	pieces []*piece
}

// parse returns the document's tree and true, or false when the document
// must be parsed whole.
func (c chunker) parse(data []byte) (*yaml.Node, bool) {
	pl, ok := c.plan(data)
	if !ok {
		return nil, false
	}
	var (
		wg   sync.WaitGroup
		next = make(chan *piece)
	)
	for range min(c.workers, len(pl.pieces)) {
		wg.Go(func() {
			for p := range next {
				p.parse()
			}
		})
	}
	// The skeleton first: it is the largest piece but one.
	next <- pl.skel
	for _, p := range pl.pieces[:len(pl.pieces)-1] {
		next <- p
	}
	close(next)
	wg.Wait()
	for _, p := range pl.pieces {
		if p.err != nil {
			return nil, false
		}
	}
	return graft(&pl.skel.root, pl.cuts)
}

func (p *piece) parse() {
	p.err = yaml.NewDecoder(bytes.NewReader(p.text)).Decode(&p.root)
}

// plan decides where data is cut, from its lines alone; false when it is
// not cut.
func (c chunker) plan(data []byte) (*chunkPlan, bool) {
	// yaml.v3 also breaks lines at a lone CR, NEL, LS and PS, which the
	// line scan below would not count.
	if bytes.IndexByte(data, 0) >= 0 || bytes.Contains(data, []byte("\u0085")) ||
		bytes.Contains(data, []byte("\u2028")) || bytes.Contains(data, []byte("\u2029")) ||
		bytes.Count(data, []byte{'\r'}) != bytes.Count(data, []byte("\r\n")) {
		return nil, false
	}
	lines, ok := splitLines(data)
	if !ok {
		return nil, false
	}
	runs := findRuns(lines, c.minRun)
	if len(runs) == 0 {
		return nil, false
	}
	var (
		pl       chunkPlan
		skeleton bytes.Buffer
		from     int // next byte of data the skeleton takes
	)
	skeleton.Grow(len(data) / 8)
	for _, r := range runs {
		// A cut goes before an item whose previous line is content.
		clean := func(k int) bool {
			prev := lines[r.items[k]-1]
			return prev.kind != lineBlank && prev.kind != lineComment
		}
		keep := 1
		for keep < len(r.items) && !clean(keep) {
			keep++
		}
		if keep >= len(r.items)-1 {
			continue
		}
		ct := &cut{run: r, keep: keep, seqColumn: r.indent + 1}
		ct.lastKept = r.items[keep-1] + 1
		ct.fromLine = r.items[keep] + 1
		ct.lines = r.next - r.items[keep]
		if r.next < len(lines) {
			ct.resumeLine = r.next + 1
		}
		for k := keep; k < len(r.items); {
			end := k + c.perChunk
			for end < len(r.items) && !clean(end) {
				end++
			}
			// The last chunk takes the blank lines after the list too: a
			// block scalar may end in lines of spaces that are its value.
			endLine := r.next - 1
			if end < len(r.items) {
				endLine = r.items[end] - 1
			} else {
				end = len(r.items)
			}
			p := &piece{text: data[lines[r.items[k]].start:lines[endLine].end], firstLine: r.items[k] + 1,
				from: k, items: r.items[k:end]}
			ct.chunks = append(ct.chunks, p)
			pl.pieces = append(pl.pieces, p)
			k = end
		}
		ct.kept = &piece{text: data[lines[r.items[0]].start:lines[r.items[keep]].start], firstLine: r.items[0] + 1}
		pl.pieces = append(pl.pieces, ct.kept)
		skeleton.Write(data[from:lines[r.items[keep]].start])
		from = lines[r.next-1].end
		pl.cuts = append(pl.cuts, ct)
	}
	if len(pl.cuts) == 0 {
		return nil, false
	}
	skeleton.Write(data[from:])
	pl.skel = &piece{text: skeleton.Bytes(), firstLine: 1}
	pl.pieces = append(pl.pieces, pl.skel)
	return &pl, true
}

// graft puts the chunks' items back into the skeleton and moves every line
// number to the file's; false when a piece is not what the cut expected.
func graft(root *yaml.Node, cuts []*cut) (*yaml.Node, bool) {
	seqs, ok := locate(root, cuts)
	if !ok {
		return nil, false
	}
	for i, ct := range cuts {
		for _, p := range ct.chunks {
			s, ok := p.chunkItems(ct)
			if !ok {
				return nil, false
			}
			seqs[i].Content = append(seqs[i].Content, s.Content...)
		}
	}
	return root, true
}

// locate moves the skeleton's line numbers to the file's and finds each
// cut's sequence in it (parsed kept items included); false when the
// skeleton is not what the cuts expected.
func locate(root *yaml.Node, cuts []*cut) ([]*yaml.Node, bool) {
	// Skeleton line -> file line: each cut moves what follows it down.
	type shift struct{ from, by int } // skeleton lines >= from move by `by`
	shifts := make([]shift, 0, len(cuts))
	by := 0
	for _, ct := range cuts {
		by += ct.lines
		shifts = append(shifts, shift{from: ct.fromLine - (by - ct.lines), by: by})
	}
	fileLine := func(l int) int {
		i := sort.Search(len(shifts), func(i int) bool { return shifts[i].from > l })
		if i == 0 {
			return l
		}
		return l + shifts[i-1].by
	}
	// Renumber the skeleton, and find each cut's sequence and the node the
	// text resumes at after it.
	type found struct {
		column  int
		seq     *yaml.Node
		resumed bool
	}
	at := make(map[int]*found, len(cuts)) // by lastKept line
	resume := make(map[int]*found, len(cuts))
	for _, ct := range cuts {
		f := &found{column: ct.seqColumn}
		at[ct.lastKept] = f
		if ct.resumeLine > 0 {
			resume[ct.resumeLine] = f
		} else {
			f.resumed = true
		}
	}
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		n.Line = fileLine(n.Line)
		if f := resume[n.Line]; f != nil {
			f.resumed = true
		}
		for _, ch := range n.Content {
			walk(ch)
		}
		if n.Kind == yaml.SequenceNode && n.Style&yaml.FlowStyle == 0 && len(n.Content) > 0 {
			if f := at[n.Content[len(n.Content)-1].Line]; f != nil && f.seq == nil && n.Column == f.column {
				f.seq = n
			}
		}
	}
	walk(root)
	seqs := make([]*yaml.Node, len(cuts))
	for i, ct := range cuts {
		f := at[ct.lastKept]
		if f.seq == nil || !f.resumed || len(f.seq.Content) != ct.keep {
			return nil, false
		}
		if k := ct.kept.root.Content; len(k) != 1 || k[0].Kind != yaml.SequenceNode || k[0].Column != ct.seqColumn || len(k[0].Content) != ct.keep {
			return nil, false
		}
		seqs[i] = f.seq
	}
	return seqs, true
}

// chunkItems checks a parsed chunk of ct and moves its nodes to the file's
// lines: its sequence, holding the items it was cut to hold, or false.
func (p *piece) chunkItems(ct *cut) (*yaml.Node, bool) {
	if len(p.root.Content) != 1 {
		return nil, false
	}
	s := p.root.Content[0]
	if s.Kind != yaml.SequenceNode || s.Column != ct.seqColumn || s.Style&yaml.FlowStyle != 0 ||
		p.root.HeadComment != "" || p.root.FootComment != "" || s.HeadComment != "" || s.FootComment != "" ||
		len(s.Content) != len(p.items) {
		return nil, false
	}
	off := p.firstLine - 1
	for j, it := range s.Content {
		if !shiftChunk(it, off, 0) || it.Line != p.items[j]+1 {
			return nil, false
		}
	}
	s.Line += off
	return s, true
}

// chunkDepth is how deep a chunk's items may nest: yaml.v3 refuses a
// document nested 10,000 deep counting the levels above the list, which a
// chunk parsed alone does not have.
const chunkDepth = 1000

// shiftChunk moves a chunk's nodes to the file's lines; false when the
// chunk has an anchor or alias, whose meaning may reach past the chunk, or
// nests deeper than chunkDepth.
func shiftChunk(n *yaml.Node, off, depth int) bool {
	if n.Anchor != "" || n.Kind == yaml.AliasNode || depth > chunkDepth {
		return false
	}
	n.Line += off
	for _, ch := range n.Content {
		if !shiftChunk(ch, off, depth+1) {
			return false
		}
	}
	return true
}
