package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/naftiko/naftiko/engine/sandbox"
)

// bundle builds a FHIR searchset Bundle of about size bytes: Observations
// with realistic fields, so JSON decoding costs what it costs on real data.
func bundle(size int) []byte { return linkedBundle(size, "") }

// linkedBundle is bundle with the upstream's own absolute URLs, as real FHIR
// servers write them: a self and a next link, and every entry's fullUrl
// under base. With base empty the entries are urn:uuid references and the
// Bundle names no URL the gateway would rewrite.
func linkedBundle(size int, base string) []byte {
	var b strings.Builder
	b.Grow(size + 1024)
	full := func(typ, id string) string {
		if base == "" {
			return "urn:uuid:" + id
		}
		return base + "/" + typ + "/" + id
	}
	b.WriteString(`{"resourceType":"Bundle","type":"searchset",`)
	if base != "" {
		fmt.Fprintf(&b, `"link":[{"relation":"self","url":"%s/Patient/bench/$everything"},{"relation":"next","url":"%s/Patient/bench/$everything?_getpagesoffset=100&_count=100"}],`, base, base)
	}
	b.WriteString(`"entry":[`)
	fmt.Fprintf(&b, `{"fullUrl":%q,"resource":`, full("Patient", "p"))
	b.WriteString(`{"resourceType":"Patient","id":"bench","name":[{"family":"Doe","given":["Jane"]}],"gender":"female","birthDate":"1967-03-02"}}`)
	for i := 0; b.Len() < size-512; i++ {
		fmt.Fprintf(&b, `,{"fullUrl":%q,"resource":{"resourceType":"Observation","id":"o%d","status":"final",`+
			`"category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],`+
			`"code":{"coding":[{"system":"http://loinc.org","code":"8867-4","display":"Heart rate"}]},`+
			`"subject":{"reference":"Patient/bench"},"effectiveDateTime":"2024-01-%02dT10:00:00Z",`+
			`"valueQuantity":{"value":%d,"unit":"beats/minute","system":"http://unitsofmeasure.org","code":"/min"}}}`, full("Observation", "o"+strconv.Itoa(i)), i, i%28+1, 60+i%40)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

// capabilityStatement is about 1 KB, like a small /metadata answer.
func capabilityStatement() []byte {
	s := `{"resourceType":"CapabilityStatement","status":"active","date":"2026-11-27","kind":"instance","fhirVersion":"4.0.1",` +
		`"format":["application/fhir+json"],"rest":[{"mode":"server","resource":[`
	for i, t := range []string{"Patient", "Encounter", "Observation", "Condition", "MedicationRequest", "Coverage", "ExplanationOfBenefit"} {
		if i > 0 {
			s += ","
		}
		s += `{"type":"` + t + `","interaction":[{"code":"read"},{"code":"search-type"}],"searchParam":[{"name":"patient","type":"reference"}]}`
	}
	s += `],"operation":[{"name":"everything","definition":"http://hl7.org/fhir/OperationDefinition/Patient-everything"}]}]}`
	return []byte(s)
}

// Payload ids the fake upstream knows: /Patient/<id>/$everything.
var payloadSizes = map[string]int{"bundle-1kb": 1 << 10, "bundle-1mb": 1 << 20, "bundle-20mb": 20 << 20}

// linkedPayload is the id of a 1 MB Bundle whose links and fullUrls name
// the upstream's own origin, which naftiko rewrites on the way out.
const linkedPayload = "bundle-1mb-links"

// serveUpstream is the fake FHIR upstream (run in its own process so its
// memory is not counted against the servers under test).
func serveUpstream(ctx context.Context, listen, token string) error {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	bodies := map[string][]byte{linkedPayload: linkedBundle(1<<20, "http://"+ln.Addr().String())}
	for id, size := range payloadSizes {
		bodies[id] = bundle(size)
	}
	meta := capabilityStatement()
	write := func(w http.ResponseWriter, b []byte) {
		w.Header().Set("Content-Type", "application/fhir+json")
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		w.Write(b)
	}
	// Real FHIR pages, links and all: the sandbox's members answer ids the
	// fixed payloads do not.
	fhir := sandbox.New(sandbox.Options{Token: token}).Handler()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /size/", serveThing)
	mux.HandleFunc("GET /metadata", func(w http.ResponseWriter, r *http.Request) { write(w, meta) })
	mux.HandleFunc("GET /Patient/{id}/{op}", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		b, ok := bodies[r.PathValue("id")]
		if !ok {
			fhir.ServeHTTP(w, r)
			return
		}
		if r.PathValue("op") != "$everything" {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		write(w, b)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { <-ctx.Done(); srv.Close() }()
	fmt.Println("ready", ln.Addr())
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}
