package sandbox

// operation definitions of the operations the sandbox serves.
const (
	opEverything    = "http://hl7.org/fhir/OperationDefinition/Patient-everything"
	opGroupExport   = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export"
	opPatientExport = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export"
	// $userinfo is not a standard operation, so its definition is a
	// sandbox-specific canonical URL.
	opUserinfo = "https://sandbox.naftiko.example/fhir/OperationDefinition/userinfo"
)

// capabilityStatement describes exactly what this server serves; it is
// generated from the same registry the handlers and the indexer use, so it
// cannot drift from the implementation.
func (s *Server) capabilityStatement(base string) []byte {
	resources := make(list, 0, len(s.store.types))
	for _, rt := range s.store.types {
		params := make(list, 0, len(rt.params))
		var includes []string
		for _, p := range rt.params {
			params = append(params, object{"name": p.name, "type": string(p.kind), "documentation": p.doc})
			if p.kind == kindReference {
				includes = append(includes, rt.name+":"+p.name)
			}
		}
		access := "Requires the bearer token."
		if rt.public {
			access = "Public: no token needed."
		} else if rt.inPatientCompartment() {
			access += " Searches that name no member (patient/subject/_id, or any criterion for Patient) return only the data of the member the token belongs to."
		}
		entry := object{
			"type":          rt.name,
			"interaction":   list{object{"code": "read"}, object{"code": "search-type"}},
			"versioning":    "no-version",
			"readHistory":   false,
			"searchParam":   params,
			"documentation": access,
		}
		if len(includes) > 0 {
			entry["searchInclude"] = includes
		}
		switch rt.name {
		case "Patient":
			entry["operation"] = list{
				object{"name": "everything", "definition": opEverything,
					"documentation": "GET /Patient/{id}/$everything with _count, _since and _type"},
				object{"name": "export", "definition": opPatientExport,
					"documentation": "GET /Patient/$export (FHIR Bulk Data 2.0) with _type, _since and _outputFormat"},
			}
		case "Group":
			entry["operation"] = list{
				object{"name": "export", "definition": opGroupExport,
					"documentation": "GET /Group/{id}/$export (FHIR Bulk Data 2.0) with _type, _since and _outputFormat"},
			}
		}
		resources = append(resources, entry)
	}
	cs := object{
		"name":         "NaftikoSandbox",
		"title":        "naftiko FHIR R4 sandbox",
		"status":       "active",
		"experimental": true,
		"date":         fhirDate(asOf),
		"publisher":    "naftiko",
		"description":  "In-process FHIR R4 server with deterministic synthetic member, claims, provider directory and formulary data, used as the default upstream of naftiko run --sandbox.",
		"kind":         "instance",
		"software":     object{"name": "naftiko sandbox"},
		"implementation": object{
			"description": "naftiko sandbox FHIR server",
			"url":         base,
		},
		"fhirVersion": "4.0.1",
		"format":      list{"json"},
		"rest": list{object{
			"mode": "server",
			"documentation": "Read-only. Searches page with _count (default 50, at most 1000) and _offset, and support _include " +
				"for the reference parameters listed in searchInclude. String parameters support :exact and :contains, " +
				"reference parameters a :Type modifier, every parameter :missing.",
			"security": object{
				"cors":        false,
				"description": "Member data requires Authorization: Bearer <token>; the token belongs to member Patient/" + s.member + ". Provider directory, formulary and /metadata are public.",
			},
			"resource": resources,
			"operation": list{object{
				"name":          "userinfo",
				"definition":    opUserinfo,
				"documentation": "GET /$userinfo returns the Patient resource of the member the bearer token belongs to.",
			}},
		}},
	}
	return appendResource(nil, "CapabilityStatement", "naftiko-sandbox", asOf, cs)
}
