package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"
)

// report collects the tables and lines printed at the end, as markdown.
type report struct {
	header []string
	rows   []string
	lines  []string
	blocks []string // markdown printed as it is, after the lines
}

func (r *report) machine() {
	cpu := "unknown CPU"
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
		f.Close()
	}
	r.header = append(r.header, fmt.Sprintf("Machine: %s, %d cores, %s, %s/%s; %s.",
		cpu, runtime.NumCPU(), runtime.Version(), runtime.GOOS, runtime.GOARCH, time.Now().UTC().Format("2006-01-02")))
}

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

// compare adds two rows and their ratio (b relative to a).
func (r *report) compare(name string, conc int, aName string, a sample, bName string, b sample) {
	row := func(who string, s sample) string {
		return fmt.Sprintf("| %s | %s | %.0f | %.1f | %s | %s | %s | %d |", name, who, s.res.perSecond(), s.res.mbPerSecond(),
			ms(s.res.percentile(0.5)), ms(s.res.percentile(0.99)), mib(s.rss), s.res.errors)
	}
	r.rows = append(r.rows, row(aName, a), row(bName, b))
	ratio := b.res.perSecond() / a.res.perSecond()
	p99 := float64(b.res.percentile(0.99)) / float64(a.res.percentile(0.99))
	r.rows = append(r.rows, fmt.Sprintf("| %s | **%s / %s** | **%.2f×** | | | **%.2f×** | | |", name, bName, aName, ratio, p99))
	_ = conc
}

func (r *report) line(s string) { r.lines = append(r.lines, s) }

func (r *report) block(s string) { r.blocks = append(r.blocks, s) }

func (r *report) print(w io.Writer) {
	for _, h := range r.header {
		fmt.Fprintln(w, h)
	}
	fmt.Fprintln(w)
	if len(r.rows) > 0 {
		fmt.Fprintln(w, "| scenario | server | req/s | MB/s | p50 | p99 | peak RSS | errors |")
		fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|")
		for _, row := range r.rows {
			fmt.Fprintln(w, row)
		}
		fmt.Fprintln(w)
	}
	for _, l := range r.lines {
		fmt.Fprintln(w, "- "+l)
	}
	for _, b := range r.blocks {
		fmt.Fprintln(w)
		fmt.Fprint(w, b)
	}
}
