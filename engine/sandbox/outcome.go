package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// fhirError is a failed request, answered with an OperationOutcome. code is
// the FHIR issue-type code (not-found, invalid, not-supported, login, ...).
type fhirError struct {
	status int
	code   string
	msg    string
}

func (e *fhirError) Error() string { return e.msg }

func errNotFound(format string, args ...any) *fhirError {
	return &fhirError{http.StatusNotFound, "not-found", fmt.Sprintf(format, args...)}
}

func errInvalid(format string, args ...any) *fhirError {
	return &fhirError{http.StatusBadRequest, "invalid", fmt.Sprintf(format, args...)}
}

func errNotSupported(format string, args ...any) *fhirError {
	return &fhirError{http.StatusBadRequest, "not-supported", fmt.Sprintf(format, args...)}
}

// writeError answers with the OperationOutcome for err.
func writeError(w http.ResponseWriter, err *fhirError) {
	writeOutcome(w, err.status, "error", err.code, err.msg)
}

// writeOutcome writes an OperationOutcome with a single issue.
func writeOutcome(w http.ResponseWriter, status int, severity, code, diagnostics string) {
	type issue struct {
		Severity    string `json:"severity"`
		Code        string `json:"code"`
		Diagnostics string `json:"diagnostics"`
	}
	body, err := json.Marshal(struct {
		ResourceType string  `json:"resourceType"`
		Issue        []issue `json:"issue"`
	}{"OperationOutcome", []issue{{severity, code, diagnostics}}})
	if err != nil { // cannot happen for strings
		http.Error(w, diagnostics, status)
		return
	}
	w.Header().Set("Content-Type", contentTypeFHIR)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
