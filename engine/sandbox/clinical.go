package sandbox

import (
	"fmt"
	"time"
)

// The resources documented at a visit: the Encounter itself, Conditions,
// AllergyIntolerances, Immunizations, Procedures and MedicationRequests.

// addEncounter writes the visit's Encounter, listing the conditions it
// addressed as diagnoses.
func (b *recordBuilder) addEncounter(ctx *visitContext, addressed []string, acute *conditionDef) {
	v := ctx.v
	diagnoses := make(list, 0, len(addressed))
	for i, id := range addressed {
		diagnoses = append(diagnoses, object{"condition": ref("Condition", id), "rank": i + 1})
	}
	body := object{
		"status":  "finished",
		"class":   v.def.class.coding(),
		"type":    list{concept(v.def.type_, v.def.cpt)},
		"subject": b.patientRef(),
		"participant": list{object{
			"type":       list{b.concept(tho("v3-ParticipationType", "PPRF", "primary performer"))},
			"period":     period(v.start, v.end),
			"individual": b.clinicianRef(v.clinician),
		}},
		"period":          period(v.start, v.end),
		"serviceProvider": refDisplay("Organization", ctx.location.orgID, ctx.location.name),
	}
	if len(diagnoses) > 0 {
		body["diagnosis"] = diagnoses
	}
	if acute != nil {
		body["reasonCode"] = list{b.concept(acute.snomed)}
	}
	if v.def.key != "telehealth" {
		body["location"] = list{object{
			"location": refDisplay("Location", ctx.location.locationID, ctx.location.name),
			"status":   "completed",
		}}
	}
	if v.def.key == "emergency" {
		body["hospitalization"] = object{
			"admitSource":          b.concept(tho("admit-source", "emd", "From accident/emergency department")),
			"dischargeDisposition": b.concept(tho("discharge-disposition", "home", "Home")),
		}
		body["priority"] = b.concept(tho("v3-ActPriority", "EM", "emergency"))
	}
	b.st.add("Encounter", ctx.encID, b.after(v.end, 240), body)
}

// addCondition writes a diagnosis: a problem-list entry for chronic
// conditions (with an onset before enrolment when pre-existing), an
// encounter diagnosis that resolves within weeks for acute ones.
func (b *recordBuilder) addCondition(ctx *visitContext, c conditionDef, id string) {
	v := ctx.v
	onset := v.start.AddDate(0, 0, -b.g.between(2, 10))
	category := tho("condition-category", "encounter-diagnosis", "Encounter Diagnosis")
	status := tho("condition-clinical", "active", "Active")
	body := object{}
	if c.chronic {
		category = tho("condition-category", "problem-list-item", "Problem List Item")
		if b.diagnoseAt[c.key] == 0 {
			onset = b.m.historyStart.AddDate(-b.g.between(1, 6), -b.g.between(0, 11), 0)
			if onset.Before(b.m.birth) {
				onset = b.m.birth.AddDate(2, 0, 0)
			}
		}
	} else {
		abated := v.start.AddDate(0, 0, b.g.between(7, 21))
		if !abated.After(asOf) {
			status = tho("condition-clinical", "resolved", "Resolved")
			body["abatementDateTime"] = fhirDate(abated)
		}
	}
	body["clinicalStatus"] = b.concept(status)
	body["verificationStatus"] = b.concept(tho("condition-ver-status", "confirmed", "Confirmed"))
	body["category"] = list{b.concept(category)}
	body["code"] = concept(c.snomed, c.icd)
	body["subject"] = b.patientRef()
	body["encounter"] = ref("Encounter", ctx.encID)
	body["onsetDateTime"] = fhirDate(onset)
	body["recordedDate"] = fhirDateTime(v.start)
	body["recorder"] = b.clinicianRef(v.clinician)
	b.st.add("Condition", id, b.after(v.end, 600), body)
	b.conditions[c.key] = id
	b.diagnosed = append(b.diagnosed, c.key)
}

// addAllergy records an allergy at the member's first checkup.
func (b *recordBuilder) addAllergy(ctx *visitContext, a allergyDef) {
	v := ctx.v
	onset := b.m.birth.AddDate(b.g.between(1, max(1, b.m.ageAt(v.start)-1)), 0, 0)
	b.st.add("AllergyIntolerance", b.newID("allergy"), b.after(v.end, 600), object{
		"clinicalStatus":     b.concept(tho("allergyintolerance-clinical", "active", "Active")),
		"verificationStatus": b.concept(tho("allergyintolerance-verification", "confirmed", "Confirmed")),
		"type":               "allergy",
		"category":           []string{a.category},
		"criticality":        a.criticality,
		"code":               b.concept(a.snomed),
		"patient":            b.patientRef(),
		"encounter":          ref("Encounter", ctx.encID),
		"onsetDateTime":      fhirDate(onset),
		"recordedDate":       fhirDateTime(v.start),
		"recorder":           b.clinicianRef(v.clinician),
		"reaction": list{object{
			"manifestation": list{b.concept(a.reaction)},
			"severity":      a.severity,
		}},
	})
}

// addImmunization records a vaccine given at the visit and bills it.
func (b *recordBuilder) addImmunization(ctx *visitContext, vac vaccineDef) {
	v := ctx.v
	given := v.start.Add(time.Duration(b.g.between(10, 25)) * time.Minute)
	site := tho("v3-ActSite", "LA", "left arm")
	if b.g.chance(0.3) {
		site = tho("v3-ActSite", "RA", "right arm")
	}
	b.st.add("Immunization", b.newID("imm"), b.after(v.end, 600), object{
		"status":             "completed",
		"vaccineCode":        b.concept(vac.cvx),
		"patient":            b.patientRef(),
		"encounter":          ref("Encounter", ctx.encID),
		"occurrenceDateTime": fhirDateTime(given),
		"recorded":           fhirDateTime(given),
		"primarySource":      true,
		"location":           refDisplay("Location", ctx.location.locationID, ctx.location.name),
		"lotNumber":          fmt.Sprintf("%c%c%s", 'A'+rune(b.g.intn(26)), 'A'+rune(b.g.intn(26)), b.g.digits(4)),
		"site":               b.concept(site),
		"route":              b.concept(tho("v3-RouteOfAdministration", "IM", "Injection, intramuscular")),
		"doseQuantity":       quantity(0.5, "mL", "mL"),
		"performer": list{object{
			"function": b.concept(tho("v2-0443", "AP", "Administering Provider")),
			"actor":    b.clinicianRef(v.clinician),
		}},
	})
	ctx.lines = append(ctx.lines,
		claimLine{service: vac.cpt, price: vac.price},
		claimLine{service: cptVaccineAdmin, price: 25})
}

// addProcedure records a procedure performed at the visit, for the
// Condition with id reason if any, and bills it when it has a CPT code.
func (b *recordBuilder) addProcedure(ctx *visitContext, p procedureDef, reason string) {
	v := ctx.v
	when := v.start.Add(time.Duration(b.g.between(5, 20)) * time.Minute)
	codes := []code{p.snomed}
	if p.cpt.code != "" {
		codes = append(codes, p.cpt)
	}
	body := object{
		"status":            "completed",
		"code":              concept(codes...),
		"subject":           b.patientRef(),
		"encounter":         ref("Encounter", ctx.encID),
		"performedDateTime": fhirDateTime(when),
		"performer":         list{object{"actor": b.clinicianRef(v.clinician)}},
		"location":          refDisplay("Location", ctx.location.locationID, ctx.location.name),
	}
	if reason != "" {
		body["reasonReference"] = list{ref("Condition", reason)}
	}
	b.st.add("Procedure", b.newID("proc"), b.after(v.end, 600), body)
	b.lastProcedure[p.key] = v.start
	if p.cpt.code != "" {
		ctx.lines = append(ctx.lines, claimLine{service: p.cpt, price: p.price})
	}
}

// prescribe writes a MedicationRequest for the condition with the given key
// ("" for none), linked to the previous prescription of the same drug, and
// the pharmacy claim for its first fill.
func (b *recordBuilder) prescribe(ctx *visitContext, med medicationDef, conditionKey string, active bool) {
	v := ctx.v
	id := b.newID("medreq")
	status := "completed"
	if active {
		status = "active"
	}
	supply := 30.0
	qty := med.perDay * supply
	if qty == 0 {
		qty = 1 // one inhaler, pen or auto-injector
	}
	repeats := 0
	if conditionByKey[conditionKey].chronic {
		repeats = 11
	}
	dosage := object{"sequence": 1, "text": med.sig, "route": b.concept(med.route)}
	if med.asNeeded {
		dosage["asNeededBoolean"] = true
	}
	body := object{
		"status":                    status,
		"intent":                    "order",
		"category":                  list{b.concept(tho("medicationrequest-category", "community", "Community"))},
		"medicationCodeableConcept": b.concept(code{sysRxNorm, med.rxnorm, med.display}),
		"subject":                   b.patientRef(),
		"encounter":                 ref("Encounter", ctx.encID),
		"authoredOn":                fhirDateTime(v.end),
		"requester":                 b.clinicianRef(v.clinician),
		"dosageInstruction":         list{dosage},
		"dispenseRequest": object{
			"validityPeriod":         object{"start": fhirDate(v.end), "end": fhirDate(v.end.AddDate(1, 0, 0))},
			"numberOfRepeatsAllowed": repeats,
			"quantity":               object{"value": qty, "unit": med.form.display, "system": med.form.system, "code": med.form.code},
			"expectedSupplyDuration": object{"value": supply, "unit": "days", "system": sysUCUM, "code": "d"},
		},
	}
	if reason := b.conditions[conditionKey]; reason != "" {
		body["reasonReference"] = list{ref("Condition", reason)}
	}
	if prior := b.prescriptions[med.rxnorm]; prior != "" {
		body["priorPrescription"] = ref("MedicationRequest", prior)
	}
	b.st.add("MedicationRequest", id, b.after(v.end, 60), body)
	b.prescriptions[med.rxnorm] = id
	b.addPharmacyClaim(id, med, v, qty)
}
