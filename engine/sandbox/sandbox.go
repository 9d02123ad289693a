package sandbox

import (
	"net/http"
	"time"
)

const (
	// DefaultToken is the bearer token accepted when Options.Token is empty.
	DefaultToken = "sandbox-token"
	// DefaultSeed is the data seed used when Options.Seed is 0.
	DefaultSeed int64 = 20250630

	// ExampleMemberID is the member bound to the bearer token, with a small
	// but complete record.
	ExampleMemberID = "example"
	// LargeMemberID is the member with a multi-megabyte record (thousands of
	// Observations), for exercising paging and streaming.
	LargeMemberID = "large-record"
)

// asOf is the fixed "today" of the synthetic data set. Every date in the data
// is at or before it, which keeps the data identical from run to run.
var asOf = time.Date(2025, time.June, 30, 12, 0, 0, 0, time.UTC)

// Options configure a sandbox Server.
type Options struct {
	Token string // bearer token the server accepts; empty means DefaultToken
	Seed  int64  // data seed; 0 means DefaultSeed. Equal seeds give identical data.
}

// Server is an in-process FHIR R4 server over deterministic synthetic data.
// All its data is built by New and never changes; only bulk export jobs are
// mutable state, kept in memory with a bounded count.
type Server struct {
	token   string
	member  string // the member the token belongs to
	store   *store
	exports *exportJobs
	mux     *http.ServeMux
}

// New builds the data set and the server. It is deterministic for a given
// seed and takes a fraction of a second.
func New(opts Options) *Server {
	if opts.Token == "" {
		opts.Token = DefaultToken
	}
	if opts.Seed == 0 {
		opts.Seed = DefaultSeed
	}
	s := &Server{
		token:   opts.Token,
		member:  ExampleMemberID,
		store:   generate(opts.Seed),
		exports: newExportJobs(maxExportJobs),
	}
	s.mux = s.routes()
	return s
}

// Handler serves the FHIR API at the root path ("/metadata", "/Patient/...").
func (s *Server) Handler() http.Handler { return s.mux }

// Token returns the bearer token the server accepts.
func (s *Server) Token() string { return s.token }

// MemberIDs returns the sorted ids of all members (Patient resources).
func (s *Server) MemberIDs() []string { return s.store.memberIDs() }
