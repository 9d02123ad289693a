package sandbox

import (
	"fmt"
	"strings"
	"time"
)

// The provider directory and drug formulary: the payer, a pharmacy chain,
// and in every metro a primary-care group and a regional medical center
// with their locations, services, practitioners and roles; plus the payer's
// insurance plans and formulary drugs. Members are then attached to it.

const (
	payerID    = "cigna"
	payerName  = "Cigna Healthcare"
	pharmacyID = "neighborhood-rx"
)

// facility is a provider organization with its single location.
type facility struct {
	orgID, locationID, name string
	addr                    address
	phone                   string
}

// clinician is a practitioner with the role they practise in.
type clinician struct {
	id, roleID string
	display    string // e.g. "Dr. Maria Lopez"
	specialty  specialtyDef
	facility   *facility
}

// site is the care available in one metro.
type site struct {
	metro         metro
	slug          string
	clinic        *facility
	hospital      *facility
	pharmacyLocID string
	primaryCare   []*clinician // adult primary care
	pediatrician  *clinician
	emergency     *clinician
	specialists   map[string]*clinician // by specialty key
}

// planDef is one of the payer's products.
type planDef struct {
	id, name, alias, productType, network string
	medicare                              bool
	deductible, oopMax, pcpCopay          float64
}

var plans = []planDef{
	{"open-access-plus", "Cigna Open Access Plus", "OAP", "PPO", "Open Access Plus", false, 1500, 6000, 25},
	{"localplus", "Cigna LocalPlus", "LocalPlus", "EPO", "LocalPlus", false, 2000, 7000, 20},
	{"connect", "Cigna Connect Silver", "Connect", "EPO", "Connect", false, 4500, 9100, 35},
	{"preferred-medicare", "Cigna Preferred Medicare (HMO)", "Preferred Medicare", "HMO", "Medicare Advantage", true, 0, 3900, 0},
}

// directory is the generated directory, used to attach members to care.
type directory struct {
	sites []*site
}

func slug(s string) string { return strings.ToLower(strings.ReplaceAll(s, " ", "-")) }

var weekdays = []string{"mon", "tue", "wed", "thu", "fri"}

// buildDirectory adds all shared resources to the store.
func buildDirectory(st *store, g *rng) *directory {
	updated := func() time.Time {
		return asOf.AddDate(0, 0, -g.between(1, 120)).Add(-time.Duration(g.intn(86400)) * time.Second)
	}

	hq := address{line: "900 Cottage Grove Road", metro: metro{city: "Bloomfield", state: "CT", areaCode: "860"}, postalCode: "06002"}
	st.add("Organization", payerID, updated(), object{
		"active":  true,
		"type":    list{concept(tho("organization-type", "pay", "Payer")), concept(tho("organization-type", "ins", "Insurance Company"))},
		"name":    payerName,
		"alias":   []string{"Cigna"},
		"telecom": list{object{"system": "phone", "value": "(860) 555-0100", "use": "work"}},
		"address": list{hq.fhir("work")},
	})
	st.add("Organization", pharmacyID, updated(), object{
		"identifier": list{object{"system": sysNPI, "value": npi(g)}},
		"active":     true,
		"type":       list{concept(tho("organization-type", "prov", "Healthcare Provider"))},
		"name":       "Neighborhood Rx Pharmacy",
		"telecom":    list{object{"system": "phone", "value": "(800) 555-0142", "use": "work"}},
	})

	dir := &directory{}
	for _, m := range metros {
		s := &site{metro: m, slug: slug(m.city), specialists: map[string]*clinician{}}
		s.clinic = addFacility(st, g, updated(), s, "clinic", m.city+" Family Health Partners",
			tho("v3-RoleCode", "FMC", "Family Medicine Clinic"), false)
		s.hospital = addFacility(st, g, updated(), s, "hospital", m.city+" Regional Medical Center",
			tho("v3-RoleCode", "HOSP", "Hospital"), true)
		s.pharmacyLocID = "loc-" + s.slug + "-pharmacy"
		pharmacyAddr := randomAddress(g, m)
		st.add("Location", s.pharmacyLocID, updated(), object{
			"status":               "active",
			"name":                 "Neighborhood Rx Pharmacy - " + m.city,
			"mode":                 "instance",
			"type":                 list{concept(tho("v3-RoleCode", "PHARM", "Pharmacy"))},
			"telecom":              list{object{"system": "phone", "value": phone(g, m), "use": "work"}},
			"address":              pharmacyAddr.fhir("work"),
			"position":             position(g, m),
			"managingOrganization": refDisplay("Organization", pharmacyID, "Neighborhood Rx Pharmacy"),
			"hoursOfOperation":     list{object{"daysOfWeek": []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}, "openingTime": "08:00:00", "closingTime": "22:00:00"}},
		})

		primary := "svc-" + s.slug + "-primary-care"
		emergency := "svc-" + s.slug + "-emergency"
		specialty := "svc-" + s.slug + "-specialty"
		for _, spec := range []specialtyDef{specFamily, specInternal, specNP, specPediatrics} {
			c := addClinician(st, g, updated(), s, spec, s.clinic, primary)
			if spec.key == "pediatrics" {
				s.pediatrician = c
			} else {
				s.primaryCare = append(s.primaryCare, c)
			}
		}
		s.emergency = addClinician(st, g, updated(), s, specEmergency, s.hospital, emergency)
		var specialtyCodes list
		for _, spec := range []specialtyDef{specCardiology, specEndocrine, specPulmonary, specNephrology, specPsychiatry, specOrthopedics, specGastro} {
			s.specialists[spec.key] = addClinician(st, g, updated(), s, spec, s.hospital, specialty)
			specialtyCodes = append(specialtyCodes, concept(spec.nucc))
		}

		addService(st, updated(), primary, "Primary care - "+s.clinic.name, s.clinic,
			tho("service-category", "17", "General Practice"), "Primary care and preventive visits",
			list{concept(specFamily.nucc), concept(specInternal.nucc), concept(specPediatrics.nucc)}, weekdayHours("08:00:00", "17:00:00"))
		addService(st, updated(), emergency, "Emergency department - "+s.hospital.name, s.hospital,
			tho("service-category", "16", "Emergency Department"), "24/7 emergency care",
			list{concept(specEmergency.nucc)}, list{object{"allDay": true, "daysOfWeek": []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}}})
		addService(st, updated(), specialty, "Specialty clinics - "+s.hospital.name, s.hospital,
			tho("service-category", "27", "Specialist Medical"), "Outpatient specialty consultations by referral or self-referral",
			specialtyCodes, weekdayHours("07:30:00", "18:00:00"))
		dir.sites = append(dir.sites, s)
	}

	for _, p := range plans {
		addPlan(st, updated(), p)
	}
	for _, med := range medications {
		addFormularyDrug(st, updated(), med)
	}
	return dir
}

// position returns coordinates near the metro's centre.
func position(g *rng, m metro) object {
	return object{
		"latitude":  roundTo(m.lat+g.around(0, 0.04), 5),
		"longitude": roundTo(m.lon+g.around(0, 0.04), 5),
	}
}

func weekdayHours(open, close string) list {
	return list{object{"daysOfWeek": weekdays, "availableStartTime": open, "availableEndTime": close}}
}

// addFacility writes a provider Organization and its Location.
func addFacility(st *store, g *rng, updated time.Time, s *site, kind, name string, locType code, allDay bool) *facility {
	f := &facility{
		orgID:      "org-" + s.slug + "-" + kind,
		locationID: "loc-" + s.slug + "-" + kind,
		name:       name,
		addr:       randomAddress(g, s.metro),
		phone:      phone(g, s.metro),
	}
	st.add("Organization", f.orgID, updated, object{
		"identifier": list{object{"system": sysNPI, "value": npi(g)}},
		"active":     true,
		"type":       list{concept(tho("organization-type", "prov", "Healthcare Provider"))},
		"name":       name,
		"telecom":    list{object{"system": "phone", "value": f.phone, "use": "work"}},
		"address":    list{f.addr.fhir("work")},
	})
	hours := object{"daysOfWeek": weekdays, "openingTime": "08:00:00", "closingTime": "17:00:00"}
	if allDay {
		hours = object{"daysOfWeek": []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}, "allDay": true}
	}
	st.add("Location", f.locationID, updated, object{
		"status":               "active",
		"name":                 name,
		"mode":                 "instance",
		"type":                 list{concept(locType)},
		"telecom":              list{object{"system": "phone", "value": f.phone, "use": "work"}},
		"address":              f.addr.fhir("work"),
		"position":             position(g, s.metro),
		"managingOrganization": refDisplay("Organization", f.orgID, name),
		"hoursOfOperation":     list{hours},
	})
	return f
}

// addClinician writes a Practitioner and the PractitionerRole in which they
// practise at a facility.
func addClinician(st *store, g *rng, updated time.Time, s *site, spec specialtyDef, f *facility, serviceID string) *clinician {
	gender, given := "female", pick(g, femaleNames)
	if g.chance(0.5) {
		gender, given = "male", pick(g, maleNames)
	}
	family := pick(g, familyNames)
	c := &clinician{
		id:        "prac-" + s.slug + "-" + spec.key,
		roleID:    "role-" + s.slug + "-" + spec.key,
		specialty: spec,
		facility:  f,
	}
	name := object{"use": "official", "family": family, "given": []string{given}}
	qualification := tho("v2-0360", "MD", "Doctor of Medicine")
	roleCode := tho("practitioner-role", "doctor", "Doctor")
	if spec.nurse {
		c.display = fmt.Sprintf("%s %s, NP", given, family)
		name["suffix"] = []string{"NP"}
		qualification = tho("v2-0360", "NP", "Nurse Practitioner")
		roleCode = tho("practitioner-role", "nurse", "Nurse")
	} else {
		c.display = fmt.Sprintf("Dr. %s %s", given, family)
		name["prefix"] = []string{"Dr."}
		name["suffix"] = []string{"MD"}
	}
	name["text"] = c.display
	email := fmt.Sprintf("%s@%s.example.org", emailLocal(given, family), s.slug)
	st.add("Practitioner", c.id, updated, object{
		"identifier": list{object{"system": sysNPI, "value": npi(g)}},
		"active":     true,
		"name":       list{name},
		"telecom": list{
			object{"system": "phone", "value": f.phone, "use": "work"},
			object{"system": "email", "value": email, "use": "work"},
		},
		"address":       list{f.addr.fhir("work")},
		"gender":        gender,
		"qualification": list{object{"code": concept(qualification)}},
	})
	st.add("PractitionerRole", c.roleID, updated, object{
		"active":            true,
		"practitioner":      refDisplay("Practitioner", c.id, c.display),
		"organization":      refDisplay("Organization", f.orgID, f.name),
		"code":              list{concept(roleCode)},
		"specialty":         list{concept(spec.nucc)},
		"location":          list{refDisplay("Location", f.locationID, f.name)},
		"healthcareService": list{ref("HealthcareService", serviceID)},
		"telecom":           list{object{"system": "phone", "value": f.phone, "use": "work"}},
		"availableTime":     weekdayHours("08:00:00", "17:00:00"),
	})
	return c
}

// addService writes a HealthcareService offered at a facility.
func addService(st *store, updated time.Time, id, name string, f *facility, category code, comment string, specialties list, hours list) {
	st.add("HealthcareService", id, updated, object{
		"active":              true,
		"providedBy":          refDisplay("Organization", f.orgID, f.name),
		"category":            list{concept(category)},
		"type":                list{textConcept(strings.SplitN(name, " - ", 2)[0])},
		"specialty":           specialties,
		"location":            list{refDisplay("Location", f.locationID, f.name)},
		"name":                name,
		"comment":             comment,
		"telecom":             list{object{"system": "phone", "value": f.phone, "use": "work"}},
		"appointmentRequired": category.code != "16",
		"availableTime":       hours,
	})
}

// usdMoney is a Quantity in US dollars, for InsurancePlan cost values.
func usdQuantity(v float64) object {
	return object{"value": v, "unit": "USD", "system": "urn:iso:std:iso:4217", "code": "USD"}
}

// addPlan writes an InsurancePlan with its benefits and cost sharing.
func addPlan(st *store, updated time.Time, p planDef) {
	year := asOf.Year()
	costs := list{
		object{"type": textConcept("Individual deductible"), "cost": money(p.deductible)},
		object{"type": textConcept("Family deductible"), "cost": money(p.deductible * 2)},
		object{"type": textConcept("Individual out-of-pocket maximum"), "cost": money(p.oopMax)},
	}
	benefit := func(category string, copay float64) object {
		return object{
			"category": textConcept(category),
			"benefit": list{object{
				"type": textConcept("Copay"),
				"cost": list{object{"type": textConcept("Copay"), "value": usdQuantity(copay)}},
			}},
		}
	}
	st.add("InsurancePlan", p.id, updated, object{
		"identifier":     list{object{"system": sysSandbox + "plan-id", "value": strings.ToUpper(p.id) + fmt.Sprintf("-%d", year)}},
		"status":         "active",
		"type":           list{concept(tho("insurance-plan-type", "medical", "Medical")), concept(tho("insurance-plan-type", "Drug", "Drug"))},
		"name":           p.name,
		"alias":          []string{p.alias},
		"period":         object{"start": fmt.Sprintf("%d-01-01", year), "end": fmt.Sprintf("%d-12-31", year)},
		"ownedBy":        refDisplay("Organization", payerID, payerName),
		"administeredBy": refDisplay("Organization", payerID, payerName),
		"coverage": list{
			object{"type": textConcept("Medical"), "benefit": list{
				object{"type": textConcept("Preventive care")},
				object{"type": textConcept("Primary care visit")},
				object{"type": textConcept("Specialist visit")},
				object{"type": textConcept("Emergency room")},
			}},
			object{"type": textConcept("Pharmacy"), "benefit": list{object{"type": textConcept("Prescription drugs")}}},
		},
		"plan": list{object{
			"type":        textConcept(p.productType),
			"generalCost": costs,
			"specificCost": list{
				benefit("Primary care visit", p.pcpCopay),
				benefit("Specialist visit", p.pcpCopay*2),
				benefit("Emergency room", 150),
				benefit("Generic drugs (30-day supply)", 10),
			},
		}},
	})
}

// Da Vinci US Drug Formulary extensions.
const (
	usdfBase       = "http://hl7.org/fhir/us/davinci-drug-formulary/"
	extDrugTier    = usdfBase + "StructureDefinition/usdf-DrugTierID-extension"
	extPriorAuth   = usdfBase + "StructureDefinition/usdf-PriorAuthorization-extension"
	extStepTherapy = usdfBase + "StructureDefinition/usdf-StepTherapyLimit-extension"
	extQtyLimit    = usdfBase + "StructureDefinition/usdf-QuantityLimit-extension"
	csDrugTier     = usdfBase + "CodeSystem/usdf-DrugTierCS"
)

var tierDisplay = map[string]string{
	"generic":             "Generic",
	"preferred-brand":     "Preferred Brand",
	"non-preferred-brand": "Non-Preferred Brand",
	"specialty":           "Specialty",
}

// tierCopay is what a member pays for a 30-day fill at each tier; specialty
// drugs are charged 25% coinsurance instead.
var tierCopay = map[string]float64{"generic": 10, "preferred-brand": 35, "non-preferred-brand": 70}

// addFormularyDrug writes the MedicationKnowledge entry of a formulary drug.
func addFormularyDrug(st *store, updated time.Time, med medicationDef) {
	memberCost := money(tierCopay[med.tier])
	costType := "Copay per 30-day supply"
	if med.tier == "specialty" {
		memberCost = money(med.fillPrice * 0.25)
		costType = "Coinsurance (25%) per 30-day supply"
	}
	st.add("MedicationKnowledge", "rx-"+med.rxnorm, updated, object{
		"extension": list{
			object{"url": extDrugTier, "valueCodeableConcept": concept(code{csDrugTier, med.tier, tierDisplay[med.tier]})},
			object{"url": extPriorAuth, "valueBoolean": med.priorAuth},
			object{"url": extStepTherapy, "valueBoolean": med.tier == "non-preferred-brand"},
			object{"url": extQtyLimit, "valueBoolean": med.tier == "specialty"},
		},
		"code":          concept(code{sysRxNorm, med.rxnorm, med.display}),
		"status":        "active",
		"doseForm":      concept(med.form),
		"synonym":       []string{med.generic},
		"intendedRoute": list{concept(med.route)},
		"cost": list{
			object{"type": textConcept(costType), "source": payerName + " formulary", "cost": memberCost},
			object{"type": textConcept("Plan allowed amount per 30-day supply"), "source": payerName + " formulary", "cost": money(med.fillPrice)},
		},
	})
}
