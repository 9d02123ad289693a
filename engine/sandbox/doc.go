// Package sandbox is an in-process FHIR R4 server over deterministic
// synthetic data. It is naftiko's embedded default upstream: `naftiko run
// --sandbox file.yaml` starts it on a loopback port and points every
// upstream at it, so capabilities describing Cigna's FHIR APIs (Patient
// Access, Provider Directory, Drug Formulary, Bulk Data) can be tried
// without a Cigna account. It serves generic FHIR R4 JSON and has no
// per-capability code.
//
//	s := sandbox.New(sandbox.Options{})
//	srv := httptest.NewServer(s.Handler()) // or any http.Server
//	// GET srv.URL+"/Patient/example" with "Authorization: Bearer "+s.Token()
//
// # Data
//
// New builds the whole data set once, from a seed (Options.Seed, default
// DefaultSeed); the same seed gives byte-identical data on every run and
// machine. All dates are at or before 2025-06-30, the data set's "today".
//
// There are 30 members (Patient resources); MemberIDs lists them. Notable ids:
//
//   - "example" (ExampleMemberID): Maria Alvarez, 58, Hartford CT, with
//     hypertension, type 2 diabetes, hyperlipidemia and a penicillin
//     allergy; about 250 resources over three years covering every
//     clinical type. The bearer token belongs to this member.
//   - "large-record" (LargeMemberID): Walter Brennan, 71, Nashville TN, with
//     twelve years of monthly chronic-care visits: over 2,000 Observations,
//     about 4.9 MB of JSON in $everything, for paging and streaming.
//   - "member-03" … "member-30": members of all ages, some in households
//     (a spouse or child covered as a dependent on the subscriber's policy).
//
// Each record holds Coverage, Encounter, Condition (SNOMED CT and
// ICD-10-CM), Observation (vital signs and laboratory results with LOINC
// codes and UCUM units), MedicationRequest (RxNorm), AllergyIntolerance,
// Immunization (CVX), Procedure (SNOMED CT and CPT) and ExplanationOfBenefit
// (professional, institutional and pharmacy claims). The shared directory
// has Organizations (the payer "cigna", a pharmacy chain, and a clinic and a
// medical center in each of ten metros), Locations, Practitioners,
// PractitionerRoles, HealthcareServices, InsurancePlans, MedicationKnowledge
// formulary entries (RxNorm, with Da Vinci drug-tier extensions) and the
// Groups "all", "panel-1" and "diabetes". Every reference resolves within
// the sandbox; New panics if the generator ever breaks that rule.
//
// # Endpoints
//
// All responses are application/fhir+json; errors are OperationOutcomes
// (404 not-found for unknown ids, 404 not-supported for unknown types, 400
// invalid or not-supported for bad or unknown parameters, 401 login, 405).
//
//   - GET /metadata: the CapabilityStatement, generated from the same
//     registry the handlers use, listing every type, search parameter and
//     operation.
//   - GET /{type}/{id} and GET /{type}?params for every served type. Search
//     parameters are those in the CapabilityStatement plus _id and
//     _lastUpdated; _include=Type:param is supported for reference
//     parameters. Results are searchset Bundles with total, absolute fullUrl
//     and self/first/previous/next/last links. Pages default to 50 entries
//     (_count, at most 1000) and are addressed with _offset; paging is
//     stateless because the data never changes.
//   - GET /Patient/{id}/$everything with _count, _since and _type: the
//     Patient first, then the member's resources (search mode "match"),
//     then the practitioners, organizations and locations they reference
//     ("include"). It pages as production servers do: 100 entries without
//     _count; pages are streamed from pre-serialised resources.
//   - GET /$userinfo: the Patient resource of the member behind the token.
//   - Bulk Data Access 2.0: GET /Group/{id}/$export and GET /Patient/$export
//     (with _type, _since, _outputFormat) answer 202 with a status URL in
//     Content-Location. The first poll of the status URL answers 202 with
//     X-Progress and Retry-After; later polls return the manifest, whose
//     output files are NDJSON (application/fhir+ndjson). DELETE on the status
//     URL cancels. The most recent 16 jobs are kept in memory.
//
// # Authorization and scoping
//
// Member data (Patient, Coverage, ExplanationOfBenefit, Encounter,
// Observation, Condition, MedicationRequest, AllergyIntolerance,
// Immunization, Procedure, Group, $everything, $userinfo, $export and its
// status and output URLs) requires "Authorization: Bearer <token>", where
// the token is Options.Token or DefaultToken; it is compared in constant
// time. The provider directory, the formulary and /metadata are public, as
// Cigna's real Provider Directory and Drug Formulary APIs are.
//
// The token belongs to member "example". Like a payer's Patient Access API,
// which answers "for the authenticated member", a search that names no
// member is scoped to that member: GET /Observation returns only the
// example member's observations, and GET /Patient (no criteria) returns
// only Patient/example. A search naming members explicitly (patient,
// subject, beneficiary, subscriber or _id, or any criterion on Patient) and
// reads by id reach every member, so the sandbox can demonstrate large
// records and population-level access with its single token.
package sandbox
