package sandbox

import (
	"fmt"
	"math"
	"time"
)

// claimLine is one billed service of a visit.
type claimLine struct {
	service code // CPT
	price   float64
	copay   float64
}

// Adjudication categories (terminology.hl7.org CodeSystem/adjudication).
var (
	adjSubmitted = tho("adjudication", "submitted", "Submitted Amount")
	adjEligible  = tho("adjudication", "eligible", "Eligible Amount")
	adjCopay     = tho("adjudication", "copay", "CoPay")
	adjBenefit   = tho("adjudication", "benefit", "Benefit Amount")
)

// allowedRate is the share of billed charges the plan allows (the
// negotiated rate).
func (b *recordBuilder) allowedRate() float64 {
	if b.m.plan.medicare {
		return 0.55
	}
	return 0.62
}

// visitCopay is the member's share for the visit itself; preventive care
// is free.
func (b *recordBuilder) visitCopay(v visit) float64 {
	switch v.def.key {
	case "checkup":
		return 0
	case "emergency":
		return 150
	case "telehealth":
		return math.Min(10, b.m.plan.pcpCopay)
	}
	if v.clinician.specialty.category == "specialist" {
		return b.m.plan.pcpCopay * 2
	}
	return b.m.plan.pcpCopay
}

// adjudication splits a billed amount into allowed, copay and paid amounts.
func (b *recordBuilder) adjudication(price, rate, copay float64) (allowed, paid float64, adj list) {
	allowed = roundTo(price*rate, 2)
	copay = math.Min(copay, allowed)
	paid = roundTo(allowed-copay, 2)
	adj = list{
		object{"category": b.concept(adjSubmitted), "amount": money(price)},
		object{"category": b.concept(adjEligible), "amount": money(allowed)},
		object{"category": b.concept(adjCopay), "amount": money(copay)},
		object{"category": b.concept(adjBenefit), "amount": money(paid)},
	}
	return allowed, paid, adj
}

// claimDates returns when a claim for services ending at end was created
// (adjudicated) and paid: one to four weeks later, but not after "today".
func (b *recordBuilder) claimDates(end time.Time) time.Time {
	created := end.AddDate(0, 0, b.g.between(7, 28)).Add(time.Duration(b.g.intn(600)) * time.Minute)
	if created.After(asOf) {
		created = asOf
	}
	return created
}

// claimIdentifier returns a claim number for a claim of the given date.
func (b *recordBuilder) claimIdentifier(t time.Time) list {
	return list{object{
		"use":    "official",
		"system": sysSandbox + "claim-id",
		"value":  fmt.Sprintf("%d%s", t.Year(), b.g.digits(9)),
	}}
}

// totals are an ExplanationOfBenefit's totals by adjudication category.
func (b *recordBuilder) totals(submitted, allowed, copay, paid float64) list {
	return list{
		object{"category": b.concept(adjSubmitted), "amount": money(submitted)},
		object{"category": b.concept(adjEligible), "amount": money(allowed)},
		object{"category": b.concept(adjCopay), "amount": money(copay)},
		object{"category": b.concept(adjBenefit), "amount": money(paid)},
	}
}

// addVisitClaim writes the ExplanationOfBenefit for a visit: a professional
// claim from the clinician, or an institutional claim from the hospital for
// emergency visits.
func (b *recordBuilder) addVisitClaim(ctx *visitContext) {
	v := ctx.v
	created := b.claimDates(v.end)
	claimType := tho("claim-type", "professional", "Professional")
	provider := b.clinicianRef(v.clinician)
	if v.def.key == "emergency" {
		claimType = tho("claim-type", "institutional", "Institutional")
		provider = refDisplay("Organization", ctx.location.orgID, ctx.location.name)
	}

	diagnoses := make(list, len(ctx.dx))
	dxSeq := make([]int, len(ctx.dx))
	for i, dx := range ctx.dx {
		d := object{"sequence": i + 1, "diagnosisCodeableConcept": b.concept(dx)}
		if i == 0 {
			d["type"] = list{b.concept(tho("ex-diagnosistype", "principal", "Principal Diagnosis"))}
		}
		diagnoses[i] = d
		dxSeq[i] = i + 1
	}

	var submitted, allowedSum, copaySum, paidSum float64
	items := make(list, 0, len(ctx.lines))
	for i, line := range ctx.lines {
		allowed, paid, adj := b.adjudication(line.price, b.allowedRate(), line.copay)
		submitted += line.price
		allowedSum += allowed
		copaySum += allowed - paid
		paidSum += paid
		seq := dxSeq
		if i > 0 {
			seq = dxSeq[:1]
		}
		item := object{
			"sequence":          i + 1,
			"careTeamSequence":  []int{1},
			"diagnosisSequence": seq,
			"productOrService":  b.concept(line.service),
			"servicedDate":      fhirDate(v.start),
			"quantity":          object{"value": 1},
			"net":               money(line.price),
			"encounter":         list{ref("Encounter", ctx.encID)},
			"adjudication":      adj,
		}
		if v.def.key != "telehealth" {
			item["locationReference"] = refDisplay("Location", ctx.location.locationID, ctx.location.name)
		}
		items = append(items, item)
	}

	body := object{
		"identifier":     b.claimIdentifier(v.start),
		"status":         "active",
		"type":           b.concept(claimType),
		"use":            "claim",
		"patient":        b.patientRef(),
		"billablePeriod": period(v.start, v.end),
		"created":        fhirDateTime(created),
		"insurer":        refDisplay("Organization", payerID, payerName),
		"provider":       provider,
		"outcome":        "complete",
		"careTeam": list{object{
			"sequence": 1,
			"provider": b.clinicianRef(v.clinician),
			"role":     b.concept(tho("claimcareteamrole", "primary", "Primary provider")),
		}},
		"diagnosis": diagnoses,
		"insurance": list{object{"focal": true, "coverage": ref("Coverage", coverageID(b.m))}},
		"item":      items,
		"total":     b.totals(submitted, allowedSum, copaySum, paidSum),
		"payment": object{
			"type":   b.concept(tho("ex-paymenttype", "complete", "Complete")),
			"date":   fhirDate(created),
			"amount": money(paidSum),
		},
	}
	if v.def.key != "telehealth" {
		body["facility"] = refDisplay("Location", ctx.location.locationID, ctx.location.name)
	}
	b.st.add("ExplanationOfBenefit", b.newID("eob"), created, body)
}

// addPharmacyClaim writes the ExplanationOfBenefit for the first fill of a
// prescription at the member's local pharmacy.
func (b *recordBuilder) addPharmacyClaim(medReqID string, med medicationDef, v visit, qty float64) {
	filled := v.end.Add(time.Duration(b.g.between(30, 2880)) * time.Minute)
	if filled.After(asOf) {
		filled = asOf
	}
	created := filled.Add(time.Duration(b.g.between(1, 30)) * time.Minute)
	if created.After(asOf) {
		created = asOf
	}
	copay := tierCopay[med.tier]
	if med.tier == "specialty" {
		copay = med.fillPrice * 0.85 * 0.25
	}
	allowed, paid, adj := b.adjudication(med.fillPrice, 0.85, copay)
	loc := b.m.site.pharmacyLocID
	pharmacy := "Neighborhood Rx Pharmacy - " + b.m.site.metro.city
	b.st.add("ExplanationOfBenefit", b.newID("eob"), created, object{
		"identifier":     b.claimIdentifier(filled),
		"status":         "active",
		"type":           b.concept(tho("claim-type", "pharmacy", "Pharmacy")),
		"use":            "claim",
		"patient":        b.patientRef(),
		"billablePeriod": period(filled, filled),
		"created":        fhirDateTime(created),
		"insurer":        refDisplay("Organization", payerID, payerName),
		"provider":       refDisplay("Organization", pharmacyID, "Neighborhood Rx Pharmacy"),
		"facility":       refDisplay("Location", loc, pharmacy),
		"prescription":   ref("MedicationRequest", medReqID),
		"outcome":        "complete",
		"insurance":      list{object{"focal": true, "coverage": ref("Coverage", coverageID(b.m))}},
		"item": list{object{
			"sequence":          1,
			"productOrService":  b.concept(code{sysRxNorm, med.rxnorm, med.display}),
			"servicedDate":      fhirDate(filled),
			"locationReference": refDisplay("Location", loc, pharmacy),
			"quantity":          object{"value": qty},
			"net":               money(med.fillPrice),
			"adjudication":      adj,
		}},
		"total": b.totals(med.fillPrice, allowed, allowed-paid, paid),
		"payment": object{
			"type":   b.concept(tho("ex-paymenttype", "complete", "Complete")),
			"date":   fhirDate(created),
			"amount": money(paid),
		},
	})
}
