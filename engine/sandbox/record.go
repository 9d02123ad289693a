package sandbox

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"time"
)

// recordBuilder writes one member's clinical record and claims: a timeline
// of visits (annual checkups, chronic-care follow-ups, acute and emergency
// visits) and everything documented and billed at each of them.
type recordBuilder struct {
	st       sink
	g        *rng
	m        *member
	counters map[string]int

	// The member's physiology, drifting slowly from visit to visit.
	adultHeight, bmi, systolic, diastolic, heartRate float64
	labs                                             map[string]float64 // typical value by LOINC

	// diagnoseAt is the checkup index at which each chronic condition is
	// first recorded (0 for conditions the member had before enrolment).
	diagnoseAt map[string]int
	// conditions maps diagnosed condition keys to their Condition ids.
	conditions map[string]string
	diagnosed  []string // condition keys in order of diagnosis
	// prescriptions maps RxNorm codes to the latest MedicationRequest id.
	prescriptions map[string]string
	lastVaccine   map[string]time.Time
	lastProcedure map[string]time.Time
	checkups      []time.Time

	// Resources of one record repeat the same small values (the subject,
	// the clinicians, category and code concepts). They are built once and
	// shared, which is safe because bodies are only read after creation.
	subject  object
	refCache map[string]object
	concepts map[code]object
}

// visit is one planned encounter.
type visit struct {
	def        visitDef
	start, end time.Time
	clinician  *clinician
	acute      *conditionDef
	checkupNo  int // index among checkups, for checkups
	withLabs   bool
	followUpNo int
}

func newRecordBuilder(st sink, g *rng, m *member) *recordBuilder {
	b := &recordBuilder{
		st: st, g: g, m: m,
		counters:      map[string]int{},
		labs:          map[string]float64{},
		diagnoseAt:    map[string]int{},
		conditions:    map[string]string{},
		prescriptions: map[string]string{},
		lastVaccine:   map[string]time.Time{},
		lastProcedure: map[string]time.Time{},
		subject:       refDisplay("Patient", m.id, m.name()),
		refCache:      map[string]object{},
		concepts:      map[code]object{},
	}
	b.initPhysiology()
	return b
}

// newID returns the next id of a kind within the member's record, e.g.
// "example-obs-12".
func (b *recordBuilder) newID(kind string) string {
	b.counters[kind]++
	return fmt.Sprintf("%s-%s-%d", b.m.id, kind, b.counters[kind])
}

// has reports whether the member has the chronic condition.
func (b *recordBuilder) has(key string) bool {
	return slices.ContainsFunc(b.m.chronic, func(c conditionDef) bool { return c.key == key })
}

// initPhysiology draws the member's typical vital signs and lab values,
// shifted by their chronic conditions.
func (b *recordBuilder) initPhysiology() {
	g, m := b.g, b.m
	if m.gender == "male" {
		b.adultHeight = g.around(177, 9)
	} else {
		b.adultHeight = g.around(163, 8)
	}
	b.bmi = g.around(26, 4)
	if b.has("obesity") {
		b.bmi = g.around(35, 3)
	}
	if m.ageAt(asOf) < 18 {
		b.bmi = g.around(18, 2)
	}
	b.systolic, b.diastolic = g.around(118, 8), g.around(76, 6)
	if b.has("hypertension") {
		b.systolic, b.diastolic = g.around(142, 6), g.around(90, 4)
	}
	b.heartRate = g.around(72, 10)
	for _, p := range panels {
		for _, l := range p.labs {
			b.labs[l.loinc.code] = l.typical * g.around(1, 0.08)
		}
	}
	if m.gender == "female" {
		b.labs["718-7"] -= 1.3 // hemoglobin runs lower
		b.labs["2160-0"] -= 0.15
	}
	for _, c := range m.chronic {
		for _, loinc := range slices.Sorted(maps.Keys(c.labBaseline)) { // sorted: map order would break determinism
			b.labs[loinc] = c.labBaseline[loinc] * g.around(1, 0.05)
		}
	}
}

// heightAt returns the member's height at t, growing through childhood.
func (b *recordBuilder) heightAt(t time.Time) float64 {
	years := t.Sub(b.m.birth).Hours() / 24 / 365.25
	if years >= 18 {
		return b.adultHeight
	}
	return math.Min(b.adultHeight, 78+6.0*years)
}

// build plans the member's timeline and writes every visit.
func (b *recordBuilder) build() {
	visits := b.plan()
	for _, v := range visits {
		b.writeVisit(v)
	}
}

// plan lays out the visits of the record in chronological order.
func (b *recordBuilder) plan() []visit {
	g, m := b.g, b.m
	end := asOf.AddDate(0, 0, -3)
	var visits []visit

	for y := m.historyStart.Year(); y <= end.Year(); y++ {
		t := day(y, m.checkupMonth, g.between(2, 27))
		if t.Before(m.historyStart.AddDate(0, 0, 14)) || t.After(end) {
			continue
		}
		visits = append(visits, b.newVisit(checkupVisit(m.ageAt(t)), t, m.pcp))
		visits[len(visits)-1].checkupNo = len(b.checkups)
		b.checkups = append(b.checkups, t)
	}
	if len(b.checkups) == 0 {
		panic("sandbox: member " + m.id + " has no checkup in their history")
	}
	// Most chronic conditions predate enrolment; the rest are diagnosed at a
	// later checkup.
	for _, c := range m.chronic {
		if m.id != ExampleMemberID && len(b.checkups) > 1 && g.chance(0.3) {
			b.diagnoseAt[c.key] = g.between(1, len(b.checkups)-1)
		} else {
			b.diagnoseAt[c.key] = 0
		}
	}

	if len(m.chronic) > 0 {
		n := 0
		for t := b.checkups[0].AddDate(0, 0, m.followUpDays); t.Before(end); {
			v := b.followUp(t, n)
			if v != nil {
				visits = append(visits, *v)
				n++
			}
			jitter := int(float64(m.followUpDays) * 0.15)
			t = t.AddDate(0, 0, m.followUpDays+g.between(-jitter, jitter))
		}
	}

	for y := m.historyStart.Year(); y <= end.Year(); y++ {
		for range g.between(0, 1) {
			t := day(y, time.Month(g.between(1, 12)), g.between(1, 28))
			if t.Before(m.historyStart) || t.After(end) {
				continue
			}
			acute := pick(g, acuteConditions)
			def, who := visitSymptom, m.pcp
			if acute.key == "sprain" && g.chance(0.6) || g.chance(0.08) {
				def, who = visitEmergency, m.site.emergency
			}
			v := b.newVisit(def, t, who)
			v.acute = &acute
			visits = append(visits, v)
		}
	}
	slices.SortStableFunc(visits, func(a, b visit) int { return a.start.Compare(b.start) })
	return visits
}

// followUp plans a chronic-care visit on day t, or nil when no condition
// has been diagnosed yet.
func (b *recordBuilder) followUp(t time.Time, n int) *visit {
	g, m := b.g, b.m
	var focus []conditionDef
	for _, c := range m.chronic {
		if !b.checkups[b.diagnoseAt[c.key]].After(t) {
			focus = append(focus, c)
		}
	}
	if len(focus) == 0 {
		return nil
	}
	def, who := visitFollowUp, m.pcp
	if spec, ok := specialistFor[pick(g, focus).key]; ok && g.chance(0.4) {
		who = m.site.specialists[spec.key]
	}
	if g.chance(0.12) {
		def = visitTelehealth
	}
	v := b.newVisit(def, t, who)
	v.followUpNo = n
	v.withLabs = def.key == "follow-up" && n%m.labsEvery == 0
	return &v
}

// newVisit places a visit of the given kind on a day, during office hours
// (or at any hour for the emergency department).
func (b *recordBuilder) newVisit(def visitDef, date time.Time, who *clinician) visit {
	g := b.g
	start := date.Add(time.Duration(g.between(13, 20))*time.Hour + time.Duration(15*g.intn(4))*time.Minute)
	var length time.Duration
	switch def.key {
	case "emergency":
		start = date.Add(time.Duration(g.intn(24*60)) * time.Minute)
		length = time.Duration(g.between(120, 360)) * time.Minute
	case "checkup":
		length = time.Duration(g.between(30, 50)) * time.Minute
	default:
		length = time.Duration(g.between(15, 30)) * time.Minute
	}
	return visit{def: def, start: start, end: start.Add(length), clinician: who}
}

// after returns a time shortly after t, for issued and lastUpdated stamps,
// never later than the data set's "today".
func (b *recordBuilder) after(t time.Time, maxMinutes int) time.Time {
	u := t.Add(time.Duration(b.g.between(1, maxMinutes)) * time.Minute)
	if u.After(asOf) {
		return asOf
	}
	return u
}

// visitContext carries what the resources of one visit reference.
type visitContext struct {
	v        visit
	encID    string
	location *facility
	lines    []claimLine
	dx       []code // ICD-10-CM diagnoses billed, principal first
}

// patientRef returns the (shared) reference to the member.
func (b *recordBuilder) patientRef() object { return b.subject }

// clinicianRef returns the (shared) reference to a practitioner.
func (b *recordBuilder) clinicianRef(c *clinician) object {
	r, ok := b.refCache[c.id]
	if !ok {
		r = refDisplay("Practitioner", c.id, c.display)
		b.refCache[c.id] = r
	}
	return r
}

// concept returns the (shared) CodeableConcept of a single code.
func (b *recordBuilder) concept(c code) object {
	cc, ok := b.concepts[c]
	if !ok {
		cc = concept(c)
		b.concepts[c] = cc
	}
	return cc
}

// writeVisit writes the encounter and everything documented and billed at it.
func (b *recordBuilder) writeVisit(v visit) {
	m := b.m
	ctx := &visitContext{v: v, encID: b.newID("enc"), location: v.clinician.facility}
	ctx.lines = append(ctx.lines, claimLine{service: v.def.cpt, price: v.def.price, copay: b.visitCopay(v)})

	// Decide which conditions this visit is about, allocating ids for new
	// ones so the Encounter can reference them.
	type newCondition struct {
		def conditionDef
		id  string
	}
	var fresh []newCondition
	var addressed []string // Condition ids
	switch v.def.key {
	case "checkup":
		if v.checkupNo == 0 || m.ageAt(v.start) >= 18 {
			ctx.dx = append(ctx.dx, dxAdultExam)
			if m.ageAt(v.start) < 18 {
				ctx.dx[0] = dxChildExam
			}
		}
		for _, c := range m.chronic {
			if b.diagnoseAt[c.key] == v.checkupNo {
				fresh = append(fresh, newCondition{c, b.newID("cond")})
			}
		}
	case "symptom", "emergency":
		fresh = append(fresh, newCondition{*v.acute, b.newID("cond")})
	}
	if v.acute == nil { // checkups and follow-ups review every chronic condition
		for _, key := range b.diagnosed {
			if conditionByKey[key].chronic {
				addressed = append(addressed, b.conditions[key])
				ctx.dx = append(ctx.dx, conditionByKey[key].icd)
			}
		}
	}
	for _, f := range fresh {
		addressed = append(addressed, f.id)
		ctx.dx = append(ctx.dx, f.def.icd)
	}
	if len(ctx.dx) == 0 {
		ctx.dx = append(ctx.dx, dxAdultExam)
	}

	b.addEncounter(ctx, addressed, v.acute)
	for _, f := range fresh {
		b.addCondition(ctx, f.def, f.id)
	}

	switch v.def.key {
	case "checkup":
		b.writeCheckup(ctx)
	case "follow-up":
		b.addVitals(ctx, false, false)
		if v.withLabs {
			var keys []string
			for _, c := range m.chronic {
				if b.conditions[c.key] != "" {
					for _, p := range c.panels {
						if !slices.Contains(keys, p) {
							keys = append(keys, p)
						}
					}
				}
			}
			for _, k := range keys {
				b.addPanel(ctx, panelByKey[k])
			}
		}
	case "telehealth":
		// Conversation only: nothing measured.
	case "symptom", "emergency":
		b.addVitals(ctx, true, v.acute.key != "sprain" && v.acute.key != "backpain")
		if v.acute.procedure != "" {
			b.addProcedure(ctx, procedureByKey[v.acute.procedure], b.conditions[v.acute.key])
		}
		for _, rx := range v.acute.meds {
			b.prescribe(ctx, medicationByCode[rx], v.acute.key, v.end.AddDate(0, 0, 14).After(asOf))
		}
	}
	b.addVisitClaim(ctx)
}

// writeCheckup documents a preventive visit: vitals, screening labs,
// allergies and new diagnoses with their treatment, prescription renewals,
// immunizations and screening procedures.
func (b *recordBuilder) writeCheckup(ctx *visitContext) {
	m, v := b.m, ctx.v
	age := m.ageAt(v.start)
	last := v.checkupNo == len(b.checkups)-1

	b.addVitals(ctx, true, false)
	if v.checkupNo == 0 {
		for _, a := range m.allergies {
			b.addAllergy(ctx, a)
		}
	}
	if age >= 18 {
		keys := []string{"cbc", "bmp", "lipid"}
		for _, c := range m.chronic {
			if b.conditions[c.key] != "" {
				for _, p := range c.panels {
					if !slices.Contains(keys, p) {
						keys = append(keys, p)
					}
				}
			}
		}
		for _, k := range keys {
			b.addPanel(ctx, panelByKey[k])
		}
	}

	// Treatment of chronic conditions, renewed yearly; the renewal at the
	// most recent checkup is the active prescription.
	for _, key := range b.diagnosed {
		c := conditionByKey[key]
		if !c.chronic || len(c.meds) == 0 {
			continue
		}
		meds := c.meds[:1]
		if len(c.meds) > 1 && v.checkupNo-b.diagnoseAt[key] >= 2 {
			meds = c.meds[:2] // a second agent after two years
		}
		for _, rx := range meds {
			b.prescribe(ctx, medicationByCode[rx], key, last)
		}
		if proc := c.procedure; proc != "" && (b.diagnoseAt[key] == v.checkupNo || key == "diabetes") {
			b.addProcedure(ctx, procedureByKey[proc], b.conditions[key])
		}
	}
	if v.checkupNo == 0 {
		for _, a := range m.allergies {
			if a.med != "" {
				b.prescribe(ctx, medicationByCode[a.med], "", true)
			}
		}
	}

	b.immunize(ctx, age)

	if age >= 12 {
		b.addProcedure(ctx, procedureByKey["depression-screening"], "")
	}
	if len(b.prescriptions) > 0 {
		b.addProcedure(ctx, procedureByKey["med-reconciliation"], "")
	}
	if m.gender == "female" && age >= 40 && b.due("mammography", 700, v.start) {
		b.addProcedure(ctx, procedureByKey["mammography"], "")
	}
	if age >= 45 && b.lastProcedure["colonoscopy"].IsZero() && b.g.chance(0.3) {
		b.addProcedure(ctx, procedureByKey["colonoscopy"], "")
	}
}

// due reports whether a procedure was never done, or not within days before t.
func (b *recordBuilder) due(key string, days int, t time.Time) bool {
	last := b.lastProcedure[key]
	return last.IsZero() || last.AddDate(0, 0, days).Before(t)
}

// immunize gives the vaccines due at a checkup: seasonal flu, and the
// age-appropriate one-time vaccines the member has not had yet.
func (b *recordBuilder) immunize(ctx *visitContext, age int) {
	t := ctx.v.start
	give := func(key string) {
		b.addImmunization(ctx, vaccineByKey[key])
		b.lastVaccine[key] = t
	}
	ok := func(key string) bool {
		vac := vaccineByKey[key]
		return age >= vac.minAge && age <= vac.maxAge && b.lastVaccine[key].IsZero()
	}
	if m := t.Month(); (m >= time.September || m <= time.March) && b.g.chance(0.8) {
		give("flu")
	}
	if t.After(day(2021, time.March, 1)) && ok("covid") && b.g.chance(0.7) {
		give("covid")
	}
	if ok("tdap") && b.g.chance(0.25) {
		give("tdap")
	}
	if ok("zoster") && b.g.chance(0.4) {
		give("zoster")
	}
	if ok("ppsv23") && b.g.chance(0.5) {
		give("ppsv23")
	}
	if ok("hpv") && b.g.chance(0.4) {
		give("hpv")
	}
}
