package sandbox

import (
	"fmt"
	"math"
	"time"
)

// Vital-sign and laboratory Observations.

// observation returns the elements every Observation of a visit shares.
func (b *recordBuilder) observation(ctx *visitContext, category code, c object, effective, issued time.Time, performer object) object {
	return object{
		"status":            "final",
		"category":          list{b.concept(category)},
		"code":              c,
		"subject":           b.patientRef(),
		"encounter":         ref("Encounter", ctx.encID),
		"effectiveDateTime": fhirDateTime(effective),
		"issued":            fhirDateTime(issued),
		"performer":         list{performer},
	}
}

var (
	catVitalSigns = tho("observation-category", "vital-signs", "Vital Signs")
	catLaboratory = tho("observation-category", "laboratory", "Laboratory")
)

// addVitals records vital signs; full adds temperature, respiratory rate,
// height and oxygen saturation to the basic blood pressure, pulse and weight.
func (b *recordBuilder) addVitals(ctx *visitContext, full, fever bool) {
	g, v := b.g, ctx.v
	t := v.start.Add(time.Duration(g.between(3, 10)) * time.Minute)
	issued := t.Add(time.Duration(g.between(1, 5)) * time.Minute)
	performer := b.clinicianRef(v.clinician)
	add := func(body object) {
		b.st.add("Observation", b.newID("obs"), b.after(issued, 30), body)
	}
	value := func(def vitalDef, x float64) {
		codes := []code{def.loinc}
		if def.altLoinc != nil {
			codes = append(codes, *def.altLoinc)
		}
		body := b.observation(ctx, catVitalSigns, concept(codes...), t, issued, performer)
		body["valueQuantity"] = quantity(roundTo(x, def.decimals), def.unit, def.ucum)
		add(body)
	}

	child := b.m.ageAt(v.start) < 18
	systolic, diastolic := g.around(b.systolic, 8), g.around(b.diastolic, 6)
	if child {
		systolic, diastolic = g.around(104, 6), g.around(64, 5)
	}
	bp := b.observation(ctx, catVitalSigns, b.concept(vitalBPPanel), t, issued, performer)
	bp["component"] = list{
		object{"code": b.concept(vitalSystolic.loinc), "valueQuantity": quantity(math.Round(systolic), vitalSystolic.unit, vitalSystolic.ucum)},
		object{"code": b.concept(vitalDiastolic.loinc), "valueQuantity": quantity(math.Round(diastolic), vitalDiastolic.unit, vitalDiastolic.ucum)},
	}
	add(bp)
	hr := g.around(b.heartRate, 8)
	if fever {
		hr += 14
	}
	value(vitalHeartRate, math.Round(hr))

	b.bmi = math.Max(15, b.bmi+g.around(0, 0.3)) // slow drift
	height := b.heightAt(v.start)
	weight := b.bmi * (height / 100) * (height / 100)
	value(vitalWeight, weight)
	if full {
		value(vitalHeight, height)
		temp := g.around(36.8, 0.3)
		if fever {
			temp = g.around(38.5, 0.5)
		}
		value(vitalTemp, temp)
		rr := g.around(15, 3)
		if child {
			rr = g.around(20, 3)
		}
		value(vitalRespRate, math.Round(rr))
		value(vitalSpO2, math.Round(math.Min(100, g.around(97.5, 1.6))))
	}
	value(vitalBMI, weight/((height/100)*(height/100)))
}

// addPanel records the results of a lab panel, collected at the visit and
// resulted a few hours later by the hospital laboratory.
func (b *recordBuilder) addPanel(ctx *visitContext, p panelDef) {
	g, v := b.g, ctx.v
	collected := v.start.Add(time.Duration(g.between(15, 40)) * time.Minute)
	issued := collected.Add(time.Duration(g.between(120, 600)) * time.Minute)
	lab := b.m.site.hospital
	performer := refDisplay("Organization", lab.orgID, lab.name)
	values := map[string]float64{}
	for _, l := range p.labs {
		values[l.loinc.code] = math.Max(0.1, g.around(b.labs[l.loinc.code], l.spread))
	}
	if p.key == "lipid" { // Friedewald: LDL = total - HDL - triglycerides/5
		values["13457-7"] = math.Max(30, values["2093-3"]-values["2085-9"]-values["2571-8"]/5)
	}
	for _, l := range p.labs {
		x := roundTo(values[l.loinc.code], l.decimals)
		body := b.observation(ctx, catLaboratory, b.concept(l.loinc), collected, issued, performer)
		body["valueQuantity"] = quantity(x, l.unit, l.ucum)
		rr := object{}
		var text string
		switch {
		case l.low > 0 && l.high > 0:
			rr["low"], rr["high"] = quantity(l.low, l.unit, l.ucum), quantity(l.high, l.unit, l.ucum)
			text = fmt.Sprintf("%g-%g %s", l.low, l.high, l.unit)
		case l.low > 0:
			rr["low"] = quantity(l.low, l.unit, l.ucum)
			text = fmt.Sprintf(">=%g %s", l.low, l.unit)
		default:
			rr["high"] = quantity(l.high, l.unit, l.ucum)
			text = fmt.Sprintf("<%g %s", l.high, l.unit)
		}
		rr["text"] = text
		body["referenceRange"] = list{rr}
		interp := tho("v3-ObservationInterpretation", "N", "Normal")
		switch {
		case l.high > 0 && x > l.high:
			interp = tho("v3-ObservationInterpretation", "H", "High")
		case l.low > 0 && x < l.low:
			interp = tho("v3-ObservationInterpretation", "L", "Low")
		}
		body["interpretation"] = list{b.concept(interp)}
		b.st.add("Observation", b.newID("obs"), b.after(issued, 60), body)
	}
	ctx.lines = append(ctx.lines, claimLine{service: p.cpt, price: p.price})
}
