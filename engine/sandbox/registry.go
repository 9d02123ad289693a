package sandbox

// paramKind is the FHIR search parameter type; its value is the code used in
// the CapabilityStatement.
type paramKind string

const (
	kindString    paramKind = "string"
	kindToken     paramKind = "token"
	kindReference paramKind = "reference"
	kindDate      paramKind = "date"
)

// searchParam describes one search parameter: which elements of the resource
// it reads (dotted paths, arrays are traversed implicitly as in FHIRPath) and,
// for references, which resource types it may point to. The first target is
// the one assumed for a bare id ("patient=example" means Patient/example).
type searchParam struct {
	name    string
	kind    paramKind
	paths   []string
	targets []string
	doc     string
}

// resourceType is everything the server knows about one served resource type.
type resourceType struct {
	name string
	// public types (provider directory, formulary) need no bearer token.
	public bool
	// compartment names the reference parameter that places a resource in a
	// member's Patient compartment ("" for shared resources). Patient itself
	// is its own compartment.
	compartment string
	// memberParams are the parameters that address members explicitly. A
	// search using none of them is scoped to the member behind the token.
	// For Patient every search parameter counts (see scopeToMember).
	memberParams []string
	params       []searchParam
}

// param returns the named search parameter, or nil.
func (rt *resourceType) param(name string) *searchParam {
	for i := range rt.params {
		if rt.params[i].name == name {
			return &rt.params[i]
		}
	}
	return nil
}

// inPatientCompartment reports whether resources of this type belong to a member.
func (rt *resourceType) inPatientCompartment() bool {
	return rt.name == "Patient" || rt.compartment != ""
}

// commonParams apply to every resource type.
func commonParams() []searchParam {
	return []searchParam{
		{name: "_id", kind: kindToken, paths: []string{"id"}, doc: "Logical id of the resource"},
		{name: "_lastUpdated", kind: kindDate, paths: []string{"meta.lastUpdated"}, doc: "When the resource last changed"},
	}
}

// Helpers that keep the registry table readable.
func str(name string, doc string, paths ...string) searchParam {
	return searchParam{name: name, kind: kindString, paths: paths, doc: doc}
}

func tok(name string, doc string, paths ...string) searchParam {
	return searchParam{name: name, kind: kindToken, paths: paths, doc: doc}
}

func dat(name string, doc string, paths ...string) searchParam {
	return searchParam{name: name, kind: kindDate, paths: paths, doc: doc}
}

func refp(name, doc, path string, targets ...string) searchParam {
	return searchParam{name: name, kind: kindReference, paths: []string{path}, targets: targets, doc: doc}
}

// patientParams are the two conventional ways of naming the member whose
// data a clinical search is about.
func patientParams(path string) []searchParam {
	return []searchParam{
		refp("patient", "The member the resource is about", path, "Patient"),
		refp("subject", "The member the resource is about", path, "Patient"),
	}
}

// newRegistry returns the served resource types in a fixed order. The order
// is used for the CapabilityStatement and for $everything output.
func newRegistry() []*resourceType {
	types := []*resourceType{
		{
			name: "Patient",
			params: []searchParam{
				tok("identifier", "Member identifier (member number)", "identifier"),
				str("name", "Any part of the member's name", "name"),
				str("family", "Family name", "name.family"),
				str("given", "Given name", "name.given"),
				dat("birthdate", "Date of birth", "birthDate"),
				tok("gender", "Administrative gender", "gender"),
				str("address-postalcode", "Postal code of the home address", "address.postalCode"),
				refp("general-practitioner", "Primary care provider", "generalPractitioner", "Practitioner"),
			},
		},
		{
			name:         "Coverage",
			compartment:  "beneficiary",
			memberParams: []string{"_id", "patient", "beneficiary", "subscriber"},
			params: []searchParam{
				refp("patient", "The member covered", "beneficiary", "Patient"),
				refp("beneficiary", "The member covered", "beneficiary", "Patient"),
				refp("subscriber", "The subscriber of the policy", "subscriber", "Patient"),
				refp("payor", "The insurer paying benefits", "payor", "Organization"),
				tok("identifier", "Member identifier on the policy", "identifier"),
				tok("status", "Coverage status", "status"),
				tok("type", "Kind of coverage", "type"),
			},
		},
		{
			name:         "ExplanationOfBenefit",
			compartment:  "patient",
			memberParams: []string{"_id", "patient"},
			params: []searchParam{
				refp("patient", "The member the claim is for", "patient", "Patient"),
				tok("identifier", "Claim number", "identifier"),
				tok("status", "Status of the EOB", "status"),
				tok("type", "Claim type (professional, institutional, pharmacy)", "type"),
				dat("created", "When the EOB was created", "created"),
				dat("service-date", "Date of service", "billablePeriod", "item.servicedDate"),
				refp("coverage", "The coverage the claim was paid under", "insurance.coverage", "Coverage"),
				refp("provider", "The billing provider", "provider", "Practitioner", "Organization"),
				refp("encounter", "Encounters billed", "item.encounter", "Encounter"),
			},
		},
		{
			name:         "Encounter",
			compartment:  "patient",
			memberParams: []string{"_id", "patient", "subject"},
			params: append(patientParams("subject"),
				dat("date", "When the encounter took place", "period"),
				tok("status", "Encounter status", "status"),
				tok("class", "Encounter class (AMB, EMER, VR, ...)", "class"),
				tok("type", "Kind of encounter", "type"),
				refp("practitioner", "Practitioners taking part", "participant.individual", "Practitioner"),
				refp("location", "Where the encounter took place", "location.location", "Location"),
				refp("service-provider", "Organization responsible for the encounter", "serviceProvider", "Organization"),
			),
		},
		{
			name:         "Condition",
			compartment:  "patient",
			memberParams: []string{"_id", "patient", "subject"},
			params: append(patientParams("subject"),
				tok("category", "problem-list-item or encounter-diagnosis", "category"),
				tok("code", "SNOMED CT or ICD-10-CM code", "code"),
				tok("clinical-status", "active, resolved, ...", "clinicalStatus"),
				tok("verification-status", "confirmed, provisional, ...", "verificationStatus"),
				dat("onset-date", "Date of onset", "onsetDateTime"),
				dat("recorded-date", "Date recorded", "recordedDate"),
				refp("encounter", "Encounter the condition was recorded in", "encounter", "Encounter"),
			),
		},
		{
			name:         "Observation",
			compartment:  "patient",
			memberParams: []string{"_id", "patient", "subject"},
			params: append(patientParams("subject"),
				tok("category", "vital-signs or laboratory", "category"),
				tok("code", "LOINC code", "code"),
				dat("date", "Clinically relevant time", "effectiveDateTime"),
				tok("status", "Observation status", "status"),
				refp("encounter", "Encounter the observation was made in", "encounter", "Encounter"),
				refp("performer", "Who performed the observation", "performer", "Practitioner", "Organization"),
			),
		},
		{
			name:         "MedicationRequest",
			compartment:  "patient",
			memberParams: []string{"_id", "patient", "subject"},
			params: append(patientParams("subject"),
				tok("status", "active, completed, ...", "status"),
				tok("intent", "order, plan, ...", "intent"),
				tok("category", "Where the medication is expected to be taken", "category"),
				tok("code", "RxNorm code of the medication", "medicationCodeableConcept"),
				dat("authoredon", "When the prescription was written", "authoredOn"),
				refp("encounter", "Encounter the prescription was written in", "encounter", "Encounter"),
				refp("requester", "Prescriber", "requester", "Practitioner"),
			),
		},
		{
			name:         "AllergyIntolerance",
			compartment:  "patient",
			memberParams: []string{"_id", "patient"},
			params: []searchParam{
				refp("patient", "The member with the allergy", "patient", "Patient"),
				tok("clinical-status", "active, inactive, resolved", "clinicalStatus"),
				tok("verification-status", "confirmed, unconfirmed, ...", "verificationStatus"),
				tok("type", "allergy or intolerance", "type"),
				tok("category", "food, medication, environment, biologic", "category"),
				tok("criticality", "low, high, unable-to-assess", "criticality"),
				tok("code", "Substance or allergy code", "code"),
				dat("date", "Date recorded", "recordedDate"),
			},
		},
		{
			name:         "Immunization",
			compartment:  "patient",
			memberParams: []string{"_id", "patient"},
			params: []searchParam{
				refp("patient", "The member immunized", "patient", "Patient"),
				tok("status", "completed, not-done, ...", "status"),
				tok("vaccine-code", "CVX vaccine code", "vaccineCode"),
				dat("date", "When the vaccine was given", "occurrenceDateTime"),
				str("lot-number", "Vaccine lot number", "lotNumber"),
				refp("location", "Where the vaccine was given", "location", "Location"),
				refp("performer", "Who gave the vaccine", "performer.actor", "Practitioner"),
			},
		},
		{
			name:         "Procedure",
			compartment:  "patient",
			memberParams: []string{"_id", "patient", "subject"},
			params: append(patientParams("subject"),
				tok("code", "SNOMED CT or CPT code", "code"),
				dat("date", "When the procedure was performed", "performedDateTime"),
				tok("status", "Procedure status", "status"),
				refp("encounter", "Encounter the procedure was performed in", "encounter", "Encounter"),
				refp("performer", "Who performed the procedure", "performer.actor", "Practitioner"),
				refp("location", "Where the procedure was performed", "location", "Location"),
			),
		},
		{
			name: "Group",
			params: []searchParam{
				tok("identifier", "Group identifier", "identifier"),
				tok("type", "Kind of group members", "type"),
				tok("actual", "Whether the group lists actual members", "actual"),
				refp("member", "A member of the group", "member.entity", "Patient"),
				refp("managing-entity", "Organization managing the group", "managingEntity", "Organization"),
			},
		},
		{
			name:   "Practitioner",
			public: true,
			params: []searchParam{
				tok("identifier", "NPI", "identifier"),
				str("name", "Any part of the name", "name"),
				str("family", "Family name", "name.family"),
				str("given", "Given name", "name.given"),
				tok("gender", "Administrative gender", "gender"),
				tok("active", "Whether the practitioner is active", "active"),
			},
		},
		{
			name:   "PractitionerRole",
			public: true,
			params: []searchParam{
				refp("practitioner", "The practitioner", "practitioner", "Practitioner"),
				refp("organization", "The organization the role is for", "organization", "Organization"),
				refp("location", "Where the role is performed", "location", "Location"),
				refp("service", "Healthcare services provided in the role", "healthcareService", "HealthcareService"),
				tok("specialty", "NUCC provider taxonomy code", "specialty"),
				tok("role", "Role code (doctor, nurse, ...)", "code"),
				tok("active", "Whether the role is active", "active"),
			},
		},
		{
			name:   "Organization",
			public: true,
			params: []searchParam{
				str("name", "Name or alias", "name", "alias"),
				str("address", "Any part of the address", "address"),
				str("address-city", "City", "address.city"),
				str("address-state", "State", "address.state"),
				str("address-postalcode", "Postal code", "address.postalCode"),
				tok("identifier", "NPI or other identifier", "identifier"),
				tok("type", "Kind of organization (prov, pay, ...)", "type"),
				tok("active", "Whether the organization is active", "active"),
			},
		},
		{
			name:   "Location",
			public: true,
			params: []searchParam{
				str("name", "Name or alias", "name", "alias"),
				str("address", "Any part of the address", "address"),
				str("address-city", "City", "address.city"),
				str("address-state", "State", "address.state"),
				str("address-postalcode", "Postal code", "address.postalCode"),
				refp("organization", "Managing organization", "managingOrganization", "Organization"),
				tok("status", "active, suspended, inactive", "status"),
				tok("type", "Kind of location", "type"),
			},
		},
		{
			name:   "HealthcareService",
			public: true,
			params: []searchParam{
				str("name", "Name of the service", "name"),
				refp("organization", "Organization providing the service", "providedBy", "Organization"),
				refp("location", "Where the service is provided", "location", "Location"),
				tok("service-category", "Service category", "category"),
				tok("service-type", "Type of service", "type"),
				tok("specialty", "NUCC provider taxonomy code", "specialty"),
				tok("active", "Whether the service is active", "active"),
			},
		},
		{
			name:   "InsurancePlan",
			public: true,
			params: []searchParam{
				str("name", "Plan name or alias", "name", "alias"),
				tok("identifier", "Plan identifier", "identifier"),
				tok("status", "draft, active, retired", "status"),
				tok("type", "Kind of product", "type"),
				refp("owned-by", "Plan issuer", "ownedBy", "Organization"),
				refp("administered-by", "Plan administrator", "administeredBy", "Organization"),
			},
		},
		{
			name:   "MedicationKnowledge",
			public: true,
			params: []searchParam{
				tok("code", "RxNorm code", "code"),
				tok("status", "active, inactive, entered-in-error", "status"),
				tok("doseform", "Dose form", "doseForm"),
			},
		},
	}
	for _, rt := range types {
		rt.params = append(commonParams(), rt.params...)
	}
	return types
}
