package sandbox

import (
	"bufio"
	"crypto/rand"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Bulk Data Access (FHIR Bulk Data 2.0) support: kick-off, status polling,
// cancellation and NDJSON output files.
const (
	exportStatusPath = "$export-status"
	exportOutputPath = "$export-output"
	// maxExportJobs bounds the jobs kept in memory; the oldest is dropped
	// when a new one would exceed it.
	maxExportJobs = 16
)

// exportJob is one bulk export. Its output is fixed at kick-off (the
// transaction time) and holds pointers to the shared, immutable resources,
// so a job costs little memory.
type exportJob struct {
	id              string
	request         string
	transactionTime time.Time
	polls           int
	outputs         []exportOutput
}

// exportOutput is one NDJSON file: all exported resources of one type.
type exportOutput struct {
	typ       string
	resources []*resource
}

// exportJobs is the in-memory job table, safe for concurrent use.
type exportJobs struct {
	mu    sync.Mutex
	max   int
	jobs  map[string]*exportJob
	order []string // job ids, oldest first
}

func newExportJobs(max int) *exportJobs {
	return &exportJobs{max: max, jobs: map[string]*exportJob{}}
}

// add stores a job, evicting the oldest jobs beyond the limit.
func (j *exportJobs) add(job *exportJob) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for len(j.order) >= j.max {
		delete(j.jobs, j.order[0])
		j.order = j.order[1:]
	}
	j.jobs[job.id] = job
	j.order = append(j.order, job.id)
}

// poll records a status request and reports the job and whether it is complete.
// A job reports "in progress" on its first status request and is complete
// from the second on, so clients exercise their polling loop without waiting.
func (j *exportJobs) poll(id string) (job *exportJob, complete bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	job = j.jobs[id]
	if job == nil {
		return nil, false
	}
	job.polls++
	return job, job.polls > 1
}

func (j *exportJobs) get(id string) *exportJob {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.jobs[id]
}

// remove deletes a job and reports whether it existed.
func (j *exportJobs) remove(id string) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.jobs[id] == nil {
		return false
	}
	delete(j.jobs, id)
	j.order = slices.DeleteFunc(j.order, func(x string) bool { return x == id })
	return true
}

// handlePatientExport serves GET /Patient/$export: all members.
func (s *Server) handlePatientExport(w http.ResponseWriter, r *http.Request) {
	if !allowMethods(w, r, http.MethodGet) || !s.authorize(w, r) {
		return
	}
	s.kickOff(w, r, s.store.memberIDs())
}

// handleGroupExport serves GET /Group/{id}/$export: the group's members.
func (s *Server) handleGroupExport(w http.ResponseWriter, r *http.Request) {
	if !allowMethods(w, r, http.MethodGet) || !s.authorize(w, r) {
		return
	}
	id := r.PathValue("id")
	group := s.store.byKey["Group/"+id]
	if group == nil {
		writeError(w, errNotFound("Group/%s is not known", id))
		return
	}
	var members []string
	for _, ref := range group.index["member"].refs {
		members = append(members, strings.TrimPrefix(ref, "Patient/"))
	}
	s.kickOff(w, r, members)
}

// kickOff validates an export request, fixes its output and answers 202
// with the status URL in Content-Location. The caller has checked method and token.
func (s *Server) kickOff(w http.ResponseWriter, r *http.Request, members []string) {
	values, ok := queryValues(w, r)
	if !ok {
		return
	}
	for _, k := range slices.Sorted(maps.Keys(values)) {
		if !slices.Contains([]string{"_type", "_since", "_outputFormat"}, k) {
			writeError(w, errNotSupported("export parameter %q is not supported (supported: _type, _since, _outputFormat)", k))
			return
		}
	}
	for _, f := range values["_outputFormat"] {
		if f != "application/fhir+ndjson" && f != "application/ndjson" && f != "ndjson" {
			writeError(w, errNotSupported("_outputFormat %q is not supported; use application/fhir+ndjson", f))
			return
		}
	}
	var since time.Time
	if v := values.Get("_since"); v != "" {
		t, err := parseInstant(v)
		if err != nil {
			writeError(w, errInvalid("_since: %v", err))
			return
		}
		since = t
	}
	types, ferr := s.parseTypes(values["_type"], (*resourceType).inPatientCompartment)
	if ferr != nil {
		writeError(w, ferr)
		return
	}

	inGroup := make(map[string]bool, len(members))
	for _, m := range members {
		inGroup[m] = true
	}
	job := &exportJob{
		id:              rand.Text(),
		request:         baseURL(r) + r.URL.RequestURI(),
		transactionTime: time.Now().UTC().Truncate(time.Millisecond),
	}
	for _, rt := range s.store.types {
		if !rt.inPatientCompartment() || types != nil && !types[rt.name] {
			continue
		}
		out := exportOutput{typ: rt.name}
		for _, res := range s.store.byType[rt.name] {
			if inGroup[res.owner] && !res.lastUpdated.Before(since) {
				out.resources = append(out.resources, res)
			}
		}
		if len(out.resources) > 0 { // the spec asks for no empty files
			job.outputs = append(job.outputs, out)
		}
	}
	s.exports.add(job)
	w.Header().Set("Content-Location", baseURL(r)+"/"+exportStatusPath+"/"+job.id)
	w.WriteHeader(http.StatusAccepted)
}

// bulkManifest is the completed-export response body.
type bulkManifest struct {
	TransactionTime     string           `json:"transactionTime"`
	Request             string           `json:"request"`
	RequiresAccessToken bool             `json:"requiresAccessToken"`
	Output              []manifestOutput `json:"output"`
	Error               []manifestOutput `json:"error"`
}

type manifestOutput struct {
	Type  string `json:"type"`
	URL   string `json:"url"`
	Count int    `json:"count,omitempty"`
}

// handleExportStatus serves GET (poll) and DELETE (cancel) on a status URL.
func (s *Server) handleExportStatus(w http.ResponseWriter, r *http.Request) {
	if !allowMethods(w, r, http.MethodGet, http.MethodDelete) || !s.authorize(w, r) {
		return
	}
	id := r.PathValue("job")
	if r.Method == http.MethodDelete {
		if !s.exports.remove(id) {
			writeError(w, errNotFound("export job %s is not known", id))
			return
		}
		writeOutcome(w, http.StatusAccepted, "information", "informational", "export job "+id+" was cancelled")
		return
	}
	job, complete := s.exports.poll(id)
	if job == nil {
		writeError(w, errNotFound("export job %s is not known (finished jobs are kept for the %d most recent exports)", id, maxExportJobs))
		return
	}
	if !complete {
		w.Header().Set("X-Progress", "in progress")
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusAccepted)
		return
	}
	m := bulkManifest{
		TransactionTime:     job.transactionTime.Format("2006-01-02T15:04:05.000Z"),
		Request:             job.request,
		RequiresAccessToken: true,
		Output:              []manifestOutput{},
		Error:               []manifestOutput{},
	}
	for _, out := range job.outputs {
		m.Output = append(m.Output, manifestOutput{
			Type:  out.typ,
			URL:   baseURL(r) + "/" + exportOutputPath + "/" + job.id + "/" + out.typ + ".ndjson",
			Count: len(out.resources),
		})
	}
	body, err := json.Marshal(m)
	if err != nil {
		writeOutcome(w, http.StatusInternalServerError, "error", "exception", err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Expires", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat))
	_, _ = w.Write(body)
}

// handleExportOutput serves one NDJSON output file, one resource per line.
func (s *Server) handleExportOutput(w http.ResponseWriter, r *http.Request) {
	if !allowMethods(w, r, http.MethodGet) || !s.authorize(w, r) {
		return
	}
	id, file := r.PathValue("job"), r.PathValue("file")
	job := s.exports.get(id)
	if job == nil {
		writeError(w, errNotFound("export job %s is not known", id))
		return
	}
	typ, ok := strings.CutSuffix(file, ".ndjson")
	i := slices.IndexFunc(job.outputs, func(o exportOutput) bool { return o.typ == typ })
	if !ok || i < 0 {
		writeError(w, errNotFound("export job %s has no file %s", id, file))
		return
	}
	size := 0
	for _, res := range job.outputs[i].resources {
		size += len(res.json) + 1
	}
	w.Header().Set("Content-Type", contentTypeNDJSON)
	w.Header().Set("Content-Length", strconv.Itoa(size))
	bw := bufio.NewWriterSize(w, 64<<10)
	for _, res := range job.outputs[i].resources {
		bw.Write(res.json)
		bw.WriteByte('\n')
	}
	_ = bw.Flush() // a failed write means the client went away
}

// count returns the number of jobs kept.
func (j *exportJobs) count() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.jobs)
}
