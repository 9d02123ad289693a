package sandbox

import (
	"math"
	"time"
)

// object and list are the building blocks of resource bodies. Resources are
// built as plain JSON-shaped values so that one generic indexer (search.go)
// can evaluate search parameters against any resource type.
type (
	object = map[string]any
	list   = []any
)

// Code systems and naming systems used by the synthetic data.
const (
	sysSNOMED = "http://snomed.info/sct"
	sysICD10  = "http://hl7.org/fhir/sid/icd-10-cm"
	sysLOINC  = "http://loinc.org"
	sysRxNorm = "http://www.nlm.nih.gov/research/umls/rxnorm"
	sysCVX    = "http://hl7.org/fhir/sid/cvx"
	sysCPT    = "http://www.ama-assn.org/go/cpt"
	sysUCUM   = "http://unitsofmeasure.org"
	sysNPI    = "http://hl7.org/fhir/sid/us-npi"
	sysNUCC   = "http://nucc.org/provider-taxonomy"
	sysBCP47  = "urn:ietf:bcp:47"
	sysTHO    = "http://terminology.hl7.org/CodeSystem/"

	// sysSandbox prefixes the identifier systems this sandbox invents (member
	// numbers, claim numbers, ...). The reserved .example TLD makes it obvious
	// that these identifiers are synthetic.
	sysSandbox = "https://sandbox.naftiko.example/fhir/sid/"
)

// code is one concept of a code system.
type code struct{ system, code, display string }

func (c code) coding() object {
	return object{"system": c.system, "code": c.code, "display": c.display}
}

// concept builds a CodeableConcept whose text is the first coding's display.
func concept(codes ...code) object {
	codings := make(list, len(codes))
	for i, c := range codes {
		codings[i] = c.coding()
	}
	return object{"coding": codings, "text": codes[0].display}
}

// tho is a code from an HL7 terminology (terminology.hl7.org) code system.
func tho(codeSystem, c, display string) code { return code{sysTHO + codeSystem, c, display} }

// textConcept is a CodeableConcept with text only, for example-bound elements.
func textConcept(text string) object { return object{"text": text} }

// ref is a relative literal Reference.
func ref(typ, id string) object { return object{"reference": typ + "/" + id} }

// refDisplay is a relative literal Reference with a display.
func refDisplay(typ, id, display string) object {
	return object{"reference": typ + "/" + id, "display": display}
}

// quantity is a UCUM Quantity.
func quantity(value float64, unit, ucum string) object {
	return object{"value": value, "unit": unit, "system": sysUCUM, "code": ucum}
}

// money is an amount in US dollars.
func money(value float64) object { return object{"value": roundTo(value, 2), "currency": "USD"} }

func period(start, end time.Time) object {
	return object{"start": fhirDateTime(start), "end": fhirDateTime(end)}
}

// fhirDateTime formats a FHIR dateTime/instant; all synthetic times are UTC.
func fhirDateTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// fhirDate formats a FHIR date.
func fhirDate(t time.Time) string { return t.UTC().Format("2006-01-02") }

func roundTo(v float64, decimals int) float64 {
	p := math.Pow10(decimals)
	return math.Round(v*p) / p
}

// day returns midnight UTC of the given date.
func day(year int, month time.Month, d int) time.Time {
	return time.Date(year, month, d, 0, 0, 0, 0, time.UTC)
}
