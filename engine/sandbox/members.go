package sandbox

import (
	"fmt"
	"time"
)

// memberCount is the number of members (Patient resources) in the sandbox.
const memberCount = 30

// member is everything the generator decides about a person before writing
// their record.
type member struct {
	id     string
	seq    int
	gender string
	given  []string
	family string
	birth  time.Time
	addr   address
	phone  string
	email  string
	// marital is a v3-MaritalStatus code.
	marital  code
	language code

	site *site
	pcp  *clinician

	// Coverage: the subscriber is the member themself or, for dependents,
	// the family member holding the policy.
	subscriber   *member
	relationship code
	dependent    int // 1 for the subscriber, 2.. for dependents
	subscriberNo string
	plan         planDef
	employer     string
	groupNumber  string

	// Clinical profile.
	historyStart time.Time // first day of coverage and of the record
	chronic      []conditionDef
	allergies    []allergyDef
	followUpDays int // interval between chronic-care follow-ups
	labsEvery    int // order labs at every n-th follow-up
	checkupMonth time.Month
}

func (m *member) name() string { return m.given[0] + " " + m.family }

func (m *member) memberNumber() string { return fmt.Sprintf("%s%02d", m.subscriberNo, m.dependent) }

// ageAt returns the member's age in whole years at t.
func (m *member) ageAt(t time.Time) int {
	age := t.Year() - m.birth.Year()
	if t.Month() < m.birth.Month() || t.Month() == m.birth.Month() && t.Day() < m.birth.Day() {
		age-- // birthday not reached yet that year
	}
	return age
}

var (
	relSelf   = tho("subscriber-relationship", "self", "Self")
	relSpouse = tho("subscriber-relationship", "spouse", "Spouse")
	relChild  = tho("subscriber-relationship", "child", "Child")

	maritalStatuses = []code{
		tho("v3-MaritalStatus", "M", "Married"),
		tho("v3-MaritalStatus", "S", "Never Married"),
		tho("v3-MaritalStatus", "D", "Divorced"),
		tho("v3-MaritalStatus", "W", "Widowed"),
	}
	langEnglish = code{sysBCP47, "en-US", "English (United States)"}
	langSpanish = code{sysBCP47, "es-US", "Spanish (United States)"}
)

// memberID returns the id of the member with the given sequence number.
func memberID(seq int) string {
	switch seq {
	case 0:
		return ExampleMemberID
	case 1:
		return LargeMemberID
	}
	return fmt.Sprintf("member-%02d", seq+1)
}

// planMembers decides who the members are. Every sixth member starts a
// household: some members are the spouse or child of the member before them
// and are covered as dependents on that member's policy.
func planMembers(g *rng, dir *directory) []*member {
	members := make([]*member, 0, memberCount)
	for seq := range memberCount {
		m := &member{id: memberID(seq), seq: seq, dependent: 1, relationship: relSelf}
		var head *member
		switch {
		case seq >= 2 && seq%6 == 3:
			head = members[seq-1]
			m.relationship, m.dependent = relSpouse, 2
		case seq >= 2 && seq%6 == 4:
			head = members[seq-2]
			m.relationship, m.dependent = relChild, 3
		}
		switch {
		case seq == 0:
			planExample(g, m, dir)
		case seq == 1:
			planLarge(g, m, dir)
		case head != nil:
			planDependent(g, m, head)
		default:
			planSubscriber(g, m, dir, seq%6 == 2)
		}
		planClinical(g, m)
		members = append(members, m)
	}
	return members
}

// setPerson draws a name and a birth date giving the age at the data set's "today".
func setPerson(g *rng, m *member, gender string, age int) {
	m.gender = gender
	names := maleNames
	if gender == "female" {
		names = femaleNames
	}
	m.given = []string{pick(g, names)}
	if g.chance(0.4) {
		m.given = append(m.given, pick(g, names))
	}
	birthYear := asOf.Year() - age
	m.birth = day(birthYear, time.Month(g.between(1, 12)), g.between(1, 28))
	if m.birth.AddDate(age, 0, 0).After(asOf) { // this year's birthday is still to come
		m.birth = m.birth.AddDate(-1, 0, 0)
	}
	m.language = langEnglish
	if g.chance(0.12) {
		m.language = langSpanish
	}
}

// setCoverage makes the member a subscriber on an age-appropriate plan.
func setCoverage(g *rng, m *member, age int) {
	m.subscriber = m
	m.subscriberNo = "U" + g.digits(8)
	switch {
	case age >= 65:
		m.plan = plans[3]
		m.employer, m.groupNumber = "Medicare Advantage", "MAPD-"+g.digits(4)
	case g.chance(0.15):
		m.plan = plans[2]
		m.employer, m.groupNumber = "Individual and Family", "IFP-"+g.digits(4)
	default:
		m.plan = plans[g.intn(2)]
		m.employer, m.groupNumber = pick(g, employers), g.digits(7)
	}
}

// setHome places the member in a metro, with a local primary care provider.
func setHome(g *rng, m *member, s *site) {
	m.site = s
	m.addr = randomAddress(g, s.metro)
	m.phone = phone(g, s.metro)
	m.pcp = pick(g, s.primaryCare)
}

// planSubscriber makes an adult holding their own policy; hasFamily makes
// them old enough to have the spouse and child that follow them.
func planSubscriber(g *rng, m *member, dir *directory, hasFamily bool) {
	gender := "female"
	if g.chance(0.5) {
		gender = "male"
	}
	age := g.between(24, 82)
	if hasFamily {
		age = g.between(32, 55) // old enough to have a school-age child
	}
	setPerson(g, m, gender, age)
	m.family = pick(g, familyNames)
	m.marital = pick(g, maritalStatuses)
	if hasFamily {
		m.marital = maritalStatuses[0]
	}
	setHome(g, m, pick(g, dir.sites))
	setCoverage(g, m, age)
	m.email = emailLocal(m.given[0], m.family) + fmt.Sprintf("%d@example.com", g.between(1, 99))
}

// planDependent makes the spouse or child of head, living with them and
// covered on their policy.
func planDependent(g *rng, m *member, head *member) {
	headAge := head.ageAt(asOf)
	if m.relationship == relChild {
		gender := "female"
		if g.chance(0.5) {
			gender = "male"
		}
		setPerson(g, m, gender, g.between(4, min(17, headAge-22)))
		m.marital = maritalStatuses[1]
	} else {
		gender := "female"
		if head.gender == "female" {
			gender = "male"
		}
		setPerson(g, m, gender, max(22, headAge+g.between(-5, 5)))
		m.marital = maritalStatuses[0]
		m.email = emailLocal(m.given[0], head.family) + fmt.Sprintf("%d@example.com", g.between(1, 99))
	}
	m.family = head.family
	m.site, m.addr, m.phone = head.site, head.addr, head.phone
	m.pcp = head.pcp
	if m.relationship == relChild {
		m.pcp = head.site.pediatrician
	}
	m.subscriber = head
	m.subscriberNo = head.subscriberNo
	m.plan, m.employer, m.groupNumber = head.plan, head.employer, head.groupNumber
}

// planExample makes the member behind the token: a 58-year-old in Hartford
// managing hypertension, type 2 diabetes and high cholesterol, with a
// penicillin allergy: a small record that touches every resource type.
func planExample(g *rng, m *member, dir *directory) {
	setPerson(g, m, "female", 58)
	m.given = []string{"Maria", "Elena"}
	m.family = "Alvarez"
	m.marital = maritalStatuses[0]
	setHome(g, m, dir.sites[0])
	setCoverage(g, m, 58)
	m.plan, m.employer, m.groupNumber = plans[0], employers[0], "3339012"
	m.email = "maria.alvarez@example.com"
}

// planLarge makes the member with a very long and dense record: 12 years of
// monthly chronic-care visits, each with vitals and labs.
func planLarge(g *rng, m *member, dir *directory) {
	setPerson(g, m, "male", 71)
	m.given = []string{"Walter", "James"}
	m.family = "Brennan"
	m.marital = maritalStatuses[3]
	setHome(g, m, dir.sites[4])
	setCoverage(g, m, 71)
	m.email = "walter.brennan@example.com"
}

// planClinical chooses conditions, allergies and the shape of the record.
func planClinical(g *rng, m *member) {
	age := m.ageAt(asOf)
	m.checkupMonth = time.Month(g.between(1, 12))
	switch m.id {
	case ExampleMemberID:
		m.historyStart = day(asOf.Year()-3, time.January, 1)
		m.chronic = conditionsByKey("hypertension", "diabetes", "hyperlipidemia")
		m.allergies = []allergyDef{allergies[0]}
		m.followUpDays, m.labsEvery = 180, 1
		m.checkupMonth = time.October
		return
	case LargeMemberID:
		m.historyStart = day(asOf.Year()-12, time.January, 1)
		m.chronic = conditionsByKey("diabetes", "hypertension", "ckd3", "hyperlipidemia", "osteoarthritis")
		m.allergies = []allergyDef{allergies[4]}
		m.followUpDays, m.labsEvery = 28, 1
		return
	}
	years := g.between(2, 5)
	m.historyStart = day(asOf.Year()-years, time.Month(g.between(1, 12)), 1)
	if earliest := m.birth.AddDate(0, 3, 0); m.historyStart.Before(earliest) {
		m.historyStart = earliest
	}
	// Each chronic condition the member is old enough for has a chance,
	// growing with age.
	p := 0.08 + float64(age)/250
	for _, c := range chronicConditions {
		if age >= c.minAge && g.chance(p) && len(m.chronic) < 4 {
			m.chronic = append(m.chronic, c)
		}
	}
	if age < 18 && g.chance(0.3) {
		m.chronic = append(m.chronic, conditionByKey["asthma"])
	}
	for len(m.allergies) < 2 && g.chance(0.35) {
		a := pick(g, allergies)
		if !containsAllergy(m.allergies, a) {
			m.allergies = append(m.allergies, a)
		}
	}
	m.followUpDays, m.labsEvery = g.between(200, 330), 1
}

func conditionsByKey(keys ...string) []conditionDef {
	out := make([]conditionDef, len(keys))
	for i, k := range keys {
		out[i] = conditionByKey[k]
	}
	return out
}

func containsAllergy(as []allergyDef, a allergyDef) bool {
	for _, x := range as {
		if x.snomed == a.snomed {
			return true
		}
	}
	return false
}

// addPatient writes the member's Patient resource.
func addPatient(st sink, g *rng, m *member) {
	telecom := list{object{"system": "phone", "value": m.phone, "use": "mobile"}}
	if m.email != "" {
		telecom = append(telecom, object{"system": "email", "value": m.email, "use": "home"})
	}
	st.add("Patient", m.id, asOf.AddDate(0, 0, -g.between(1, 90)), object{
		"identifier": list{object{
			"use":    "usual",
			"type":   concept(tho("v2-0203", "MB", "Member Number")),
			"system": sysSandbox + "member-id",
			"value":  m.memberNumber(),
		}},
		"active":               true,
		"name":                 list{object{"use": "official", "family": m.family, "given": m.given, "text": m.name()}},
		"telecom":              telecom,
		"gender":               m.gender,
		"birthDate":            fhirDate(m.birth),
		"address":              list{m.addr.fhir("home")},
		"maritalStatus":        concept(m.marital),
		"communication":        list{object{"language": concept(m.language), "preferred": true}},
		"generalPractitioner":  list{refDisplay("Practitioner", m.pcp.id, m.pcp.display)},
		"managingOrganization": refDisplay("Organization", payerID, payerName),
	})
}

// coverageID is the id of the member's Coverage.
func coverageID(m *member) string { return m.id + "-coverage" }

// addCoverage writes the member's Coverage resource.
func addCoverage(st sink, m *member) {
	st.add("Coverage", coverageID(m), m.historyStart.AddDate(0, 0, -14), object{
		"identifier": list{object{
			"use":    "official",
			"type":   concept(tho("v2-0203", "MB", "Member Number")),
			"system": sysSandbox + "member-id",
			"value":  m.memberNumber(),
		}},
		"status":       "active",
		"type":         concept(tho("v3-ActCode", "HIP", "health insurance plan policy")),
		"subscriber":   refDisplay("Patient", m.subscriber.id, m.subscriber.name()),
		"subscriberId": m.subscriberNo,
		"beneficiary":  refDisplay("Patient", m.id, m.name()),
		"dependent":    fmt.Sprintf("%02d", m.dependent),
		"relationship": concept(m.relationship),
		"period":       object{"start": fhirDate(m.historyStart)},
		"payor":        list{refDisplay("Organization", payerID, payerName)},
		"class": list{
			object{"type": concept(tho("coverage-class", "group", "Group")), "value": m.groupNumber, "name": m.employer},
			object{"type": concept(tho("coverage-class", "plan", "Plan")), "value": m.plan.id, "name": m.plan.name},
		},
		"network": m.plan.network,
	})
}

// addGroups writes the Groups used for bulk export.
func addGroups(st *store, members []*member, diagnosed map[string][]string) {
	group := func(id, name string, ms []*member) {
		entries := make(list, len(ms))
		for i, m := range ms {
			entries[i] = object{"entity": refDisplay("Patient", m.id, m.name())}
		}
		st.add("Group", id, asOf.AddDate(0, 0, -1), object{
			"identifier":     list{object{"system": sysSandbox + "group-id", "value": id}},
			"active":         true,
			"type":           "person",
			"actual":         true,
			"name":           name,
			"quantity":       len(ms),
			"managingEntity": refDisplay("Organization", payerID, payerName),
			"member":         entries,
		})
	}
	group("all", "All sandbox members", members)
	group("panel-1", "Attribution panel 1 (first ten members)", members[:10])
	var diabetic []*member
	for _, m := range members {
		for _, key := range diagnosed[m.id] {
			if key == "diabetes" {
				diabetic = append(diabetic, m)
			}
		}
	}
	group("diabetes", "Diabetes care management cohort", diabetic)
}
