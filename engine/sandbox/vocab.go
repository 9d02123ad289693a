package sandbox

// This file holds the clinical vocabulary the generator draws from: real
// SNOMED CT, ICD-10-CM, LOINC, UCUM, RxNorm, CVX, CPT and NUCC codes, with
// plausible reference ranges and prices. It is data, not logic.

// conditionDef is a diagnosis the generator can give a member.
type conditionDef struct {
	key     string
	snomed  code
	icd     code
	chronic bool
	minAge  int
	// meds are RxNorm codes (keys of medicationByCode) prescribed for it.
	meds []string
	// panels are lab panels (keys of panelByKey) ordered at follow-ups.
	panels []string
	// labBaseline overrides the member's typical value of a lab (by LOINC).
	labBaseline map[string]float64
	// procedure is performed at the diagnosing visit, if any (key of procedureByKey).
	procedure string
}

var chronicConditions = []conditionDef{
	{key: "hypertension", chronic: true, minAge: 30,
		snomed: code{sysSNOMED, "59621000", "Essential hypertension (disorder)"},
		icd:    code{sysICD10, "I10", "Essential (primary) hypertension"},
		meds:   []string{"314076", "197361", "310798"}, panels: []string{"bmp"}, procedure: "ecg"},
	{key: "diabetes", chronic: true, minAge: 30,
		snomed: code{sysSNOMED, "44054006", "Diabetes mellitus type 2 (disorder)"},
		icd:    code{sysICD10, "E11.9", "Type 2 diabetes mellitus without complications"},
		meds:   []string{"860975"}, panels: []string{"a1c", "bmp"}, procedure: "eye-exam",
		labBaseline: map[string]float64{"4548-4": 7.6, "2345-7": 156}},
	{key: "prediabetes", chronic: true, minAge: 25,
		snomed:      code{sysSNOMED, "714628002", "Prediabetes (finding)"},
		icd:         code{sysICD10, "R73.03", "Prediabetes"},
		panels:      []string{"a1c"},
		labBaseline: map[string]float64{"4548-4": 6.0, "2345-7": 112}},
	{key: "hyperlipidemia", chronic: true, minAge: 30,
		snomed:      code{sysSNOMED, "55822004", "Hyperlipidemia (disorder)"},
		icd:         code{sysICD10, "E78.5", "Hyperlipidemia, unspecified"},
		meds:        []string{"312961", "259255"},
		panels:      []string{"lipid"},
		labBaseline: map[string]float64{"2093-3": 238, "13457-7": 158, "2571-8": 190}},
	{key: "asthma", chronic: true, minAge: 4,
		snomed: code{sysSNOMED, "195967001", "Asthma (disorder)"},
		icd:    code{sysICD10, "J45.909", "Unspecified asthma, uncomplicated"},
		meds:   []string{"745679", "895994"}, procedure: "spirometry"},
	{key: "depression", chronic: true, minAge: 18,
		snomed: code{sysSNOMED, "370143000", "Major depressive disorder (disorder)"},
		icd:    code{sysICD10, "F32.9", "Major depressive disorder, single episode, unspecified"}},
	{key: "hypothyroidism", chronic: true, minAge: 25,
		snomed:      code{sysSNOMED, "40930008", "Hypothyroidism (disorder)"},
		icd:         code{sysICD10, "E03.9", "Hypothyroidism, unspecified"},
		meds:        []string{"966222"},
		panels:      []string{"tsh"},
		labBaseline: map[string]float64{"3016-3": 5.8}},
	{key: "gerd", chronic: true, minAge: 25,
		snomed: code{sysSNOMED, "235595009", "Gastroesophageal reflux disease (disorder)"},
		icd:    code{sysICD10, "K21.9", "Gastro-esophageal reflux disease without esophagitis"}},
	{key: "osteoarthritis", chronic: true, minAge: 50,
		snomed: code{sysSNOMED, "239873007", "Osteoarthritis of knee (disorder)"},
		icd:    code{sysICD10, "M17.9", "Osteoarthritis of knee, unspecified"},
		meds:   []string{"849574"}},
	{key: "obesity", chronic: true, minAge: 18,
		snomed: code{sysSNOMED, "414916001", "Obesity (disorder)"},
		icd:    code{sysICD10, "E66.9", "Obesity, unspecified"}},
	{key: "ckd3", chronic: true, minAge: 55,
		snomed:      code{sysSNOMED, "433144002", "Chronic kidney disease stage 3 (disorder)"},
		icd:         code{sysICD10, "N18.30", "Chronic kidney disease, stage 3 unspecified"},
		panels:      []string{"bmp"},
		labBaseline: map[string]float64{"2160-0": 1.7, "62238-1": 44}},
}

var acuteConditions = []conditionDef{
	{key: "bronchitis",
		snomed: code{sysSNOMED, "10509002", "Acute bronchitis (disorder)"},
		icd:    code{sysICD10, "J20.9", "Acute bronchitis, unspecified"},
		meds:   []string{"313782"}, procedure: "chest-xray"},
	{key: "sinusitis",
		snomed: code{sysSNOMED, "15805002", "Acute sinusitis (disorder)"},
		icd:    code{sysICD10, "J01.90", "Acute sinusitis, unspecified"},
		meds:   []string{"308182"}},
	{key: "strep",
		snomed: code{sysSNOMED, "43878008", "Streptococcal sore throat (disorder)"},
		icd:    code{sysICD10, "J02.0", "Streptococcal pharyngitis"},
		meds:   []string{"834061"}},
	{key: "backpain",
		snomed: code{sysSNOMED, "279039007", "Low back pain (finding)"},
		icd:    code{sysICD10, "M54.50", "Low back pain, unspecified"},
		meds:   []string{"310965"}},
	{key: "sprain",
		snomed: code{sysSNOMED, "44465007", "Sprain of ankle (disorder)"},
		icd:    code{sysICD10, "S93.401A", "Sprain of unspecified ligament of right ankle, initial encounter"},
		meds:   []string{"310965"}, procedure: "ankle-xray"},
}

// medicationDef is a drug on the formulary.
type medicationDef struct {
	rxnorm, display, generic string
	form                     code // v3-orderableDrugForm
	route                    code
	sig                      string
	perDay                   float64 // units per day, for the dispensed quantity
	asNeeded                 bool
	tier                     string  // Da Vinci formulary drug tier
	fillPrice                float64 // billed per 30-day fill
	priorAuth                bool
}

var (
	formTablet     = tho("v3-orderableDrugForm", "TAB", "Tablet")
	formCapsule    = tho("v3-orderableDrugForm", "CAP", "Capsule")
	formInhaler    = tho("v3-orderableDrugForm", "MDINHL", "Metered Dose Inhaler")
	formInjection  = tho("v3-orderableDrugForm", "INJSOL", "Injectable Solution")
	formSuspension = tho("v3-orderableDrugForm", "INJSUSP", "Injectable Suspension")

	routeOral         = code{sysSNOMED, "26643006", "Oral route"}
	routeSubcutaneous = code{sysSNOMED, "34206005", "Subcutaneous route"}
	routeIntramuscle  = code{sysSNOMED, "78421000", "Intramuscular route"}
	routeRespiratory  = code{sysSNOMED, "447694001", "Respiratory tract route (qualifier value)"}
)

var medications = []medicationDef{
	{"314076", "lisinopril 10 MG Oral Tablet", "lisinopril", formTablet, routeOral, "Take 1 tablet by mouth once daily", 1, false, "generic", 9.5, false},
	{"197361", "amlodipine 5 MG Oral Tablet", "amlodipine", formTablet, routeOral, "Take 1 tablet by mouth once daily", 1, false, "generic", 8.75, false},
	{"310798", "hydrochlorothiazide 25 MG Oral Tablet", "hydrochlorothiazide", formTablet, routeOral, "Take 1 tablet by mouth every morning", 1, false, "generic", 7.2, false},
	{"860975", "24 HR metformin hydrochloride 500 MG Extended Release Oral Tablet", "metformin", formTablet, routeOral, "Take 1 tablet by mouth twice daily with meals", 2, false, "generic", 12.4, false},
	{"312961", "simvastatin 20 MG Oral Tablet", "simvastatin", formTablet, routeOral, "Take 1 tablet by mouth every evening", 1, false, "generic", 10.1, false},
	{"259255", "atorvastatin 80 MG Oral Tablet", "atorvastatin", formTablet, routeOral, "Take 1 tablet by mouth once daily", 1, false, "generic", 14.3, false},
	{"745679", "200 ACTUAT albuterol 0.09 MG/ACTUAT Metered Dose Inhaler", "albuterol", formInhaler, routeRespiratory, "Inhale 2 puffs every 4 to 6 hours as needed for wheezing", 0, true, "preferred-brand", 48.9, false},
	{"895994", "120 ACTUAT fluticasone propionate 0.044 MG/ACTUAT Metered Dose Inhaler", "fluticasone", formInhaler, routeRespiratory, "Inhale 2 puffs twice daily", 0, false, "preferred-brand", 182.3, false},
	{"966222", "levothyroxine sodium 0.05 MG Oral Tablet", "levothyroxine", formTablet, routeOral, "Take 1 tablet by mouth every morning on an empty stomach", 1, false, "generic", 11.6, false},
	{"849574", "naproxen sodium 220 MG Oral Tablet", "naproxen", formTablet, routeOral, "Take 1 tablet by mouth every 12 hours as needed for pain", 2, true, "generic", 6.4, false},
	{"310965", "ibuprofen 200 MG Oral Tablet", "ibuprofen", formTablet, routeOral, "Take 2 tablets by mouth every 6 hours as needed for pain", 4, true, "generic", 5.2, false},
	{"313782", "acetaminophen 325 MG Oral Tablet", "acetaminophen", formTablet, routeOral, "Take 2 tablets by mouth every 6 hours as needed for fever or pain", 4, true, "generic", 4.8, false},
	{"308182", "amoxicillin 250 MG Oral Capsule", "amoxicillin", formCapsule, routeOral, "Take 2 capsules by mouth every 8 hours for 10 days", 6, false, "generic", 13.9, false},
	{"834061", "penicillin V potassium 250 MG Oral Tablet", "penicillin V", formTablet, routeOral, "Take 2 tablets by mouth twice daily for 10 days", 4, false, "generic", 11.2, false},
	{"1049630", "diphenhydramine hydrochloride 25 MG Oral Tablet", "diphenhydramine", formTablet, routeOral, "Take 1 tablet by mouth every 6 hours as needed for itching", 4, true, "generic", 4.1, false},
	{"1870230", "NDA020800 0.3 ML epinephrine 1 MG/ML Auto-Injector", "epinephrine", formInjection, routeIntramuscle, "Inject 0.3 mL into the outer thigh once as needed for anaphylaxis", 0, true, "non-preferred-brand", 612.5, false},
	{"897122", "3 ML liraglutide 6 MG/ML Pen Injector", "liraglutide", formInjection, routeSubcutaneous, "Inject 1.2 mg under the skin once daily", 0, false, "specialty", 1018.4, true},
	{"1373463", "canagliflozin 100 MG Oral Tablet", "canagliflozin", formTablet, routeOral, "Take 1 tablet by mouth once daily before breakfast", 1, false, "non-preferred-brand", 563.2, true},
	{"106892", "insulin isophane human 70 UNT/ML / insulin regular human 30 UNT/ML Injectable Suspension", "insulin isophane / insulin regular", formSuspension, routeSubcutaneous, "Inject 20 units under the skin twice daily before meals", 0, false, "preferred-brand", 148.9, false},
	{"309362", "clopidogrel 75 MG Oral Tablet", "clopidogrel", formTablet, routeOral, "Take 1 tablet by mouth once daily", 1, false, "generic", 9.9, false},
	{"200031", "carvedilol 6.25 MG Oral Tablet", "carvedilol", formTablet, routeOral, "Take 1 tablet by mouth twice daily with food", 2, false, "generic", 8.3, false},
	{"312617", "predniSONE 5 MG Oral Tablet", "prednisone", formTablet, routeOral, "Take 1 tablet by mouth once daily for 5 days", 1, false, "generic", 5.6, false},
}

// vitalDef is a vital sign observation code.
type vitalDef struct {
	loinc     code
	unit      string
	ucum      string
	decimals  int
	altLoinc  *code // an additional, more specific coding
	component bool  // reported as a component of the blood pressure panel
}

var (
	vitalBPPanel   = code{sysLOINC, "85354-9", "Blood pressure panel with all children optional"}
	vitalSystolic  = vitalDef{loinc: code{sysLOINC, "8480-6", "Systolic blood pressure"}, unit: "mmHg", ucum: "mm[Hg]", component: true}
	vitalDiastolic = vitalDef{loinc: code{sysLOINC, "8462-4", "Diastolic blood pressure"}, unit: "mmHg", ucum: "mm[Hg]", component: true}
	vitalHeartRate = vitalDef{loinc: code{sysLOINC, "8867-4", "Heart rate"}, unit: "beats/minute", ucum: "/min"}
	vitalRespRate  = vitalDef{loinc: code{sysLOINC, "9279-1", "Respiratory rate"}, unit: "breaths/minute", ucum: "/min"}
	vitalTemp      = vitalDef{loinc: code{sysLOINC, "8310-5", "Body temperature"}, unit: "Cel", ucum: "Cel", decimals: 1}
	vitalWeight    = vitalDef{loinc: code{sysLOINC, "29463-7", "Body weight"}, unit: "kg", ucum: "kg", decimals: 1}
	vitalHeight    = vitalDef{loinc: code{sysLOINC, "8302-2", "Body height"}, unit: "cm", ucum: "cm", decimals: 1}
	vitalBMI       = vitalDef{loinc: code{sysLOINC, "39156-5", "Body mass index (BMI) [Ratio]"}, unit: "kg/m2", ucum: "kg/m2", decimals: 1}
	vitalSpO2      = vitalDef{loinc: code{sysLOINC, "2708-6", "Oxygen saturation in Arterial blood"}, unit: "%", ucum: "%",
		altLoinc: &code{sysLOINC, "59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry"}}
)

// labDef is a laboratory test with its reference range.
type labDef struct {
	loinc    code
	unit     string
	ucum     string
	low      float64 // lower limit of normal; 0 when there is none
	high     float64 // upper limit of normal; 0 when there is none
	typical  float64 // value of a healthy member
	spread   float64 // visit-to-visit variation
	decimals int
}

// panelDef is a set of labs ordered and billed together.
type panelDef struct {
	key   string
	cpt   code
	price float64
	labs  []labDef
}

var panels = []panelDef{
	{key: "lipid", cpt: code{sysCPT, "80061", "Lipid panel"}, price: 58, labs: []labDef{
		{code{sysLOINC, "2093-3", "Cholesterol [Mass/volume] in Serum or Plasma"}, "mg/dL", "mg/dL", 0, 200, 182, 18, 0},
		{code{sysLOINC, "2571-8", "Triglyceride [Mass/volume] in Serum or Plasma"}, "mg/dL", "mg/dL", 0, 150, 118, 25, 0},
		{code{sysLOINC, "2085-9", "Cholesterol in HDL [Mass/volume] in Serum or Plasma"}, "mg/dL", "mg/dL", 40, 0, 54, 8, 0},
		{code{sysLOINC, "13457-7", "Cholesterol in LDL [Mass/volume] in Serum or Plasma by calculation"}, "mg/dL", "mg/dL", 0, 100, 96, 14, 0},
	}},
	{key: "bmp", cpt: code{sysCPT, "80048", "Basic metabolic panel"}, price: 42, labs: []labDef{
		{code{sysLOINC, "2345-7", "Glucose [Mass/volume] in Serum or Plasma"}, "mg/dL", "mg/dL", 70, 99, 88, 9, 0},
		{code{sysLOINC, "2160-0", "Creatinine [Mass/volume] in Serum or Plasma"}, "mg/dL", "mg/dL", 0.6, 1.3, 0.92, 0.12, 2},
		{code{sysLOINC, "2951-2", "Sodium [Moles/volume] in Serum or Plasma"}, "mmol/L", "mmol/L", 136, 145, 140, 2.5, 0},
		{code{sysLOINC, "2823-3", "Potassium [Moles/volume] in Serum or Plasma"}, "mmol/L", "mmol/L", 3.5, 5.1, 4.2, 0.35, 1},
		{code{sysLOINC, "62238-1", "Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum, Plasma or Blood by Creatinine-based formula (CKD-EPI)"}, "mL/min/1.73m2", "mL/min/{1.73_m2}", 60, 0, 92, 8, 0},
	}},
	{key: "cbc", cpt: code{sysCPT, "85025", "Complete blood count (CBC) with automated differential"}, price: 36, labs: []labDef{
		{code{sysLOINC, "718-7", "Hemoglobin [Mass/volume] in Blood"}, "g/dL", "g/dL", 12, 17.5, 14.1, 0.9, 1},
		{code{sysLOINC, "6690-2", "Leukocytes [#/volume] in Blood by Automated count"}, "10*3/uL", "10*3/uL", 4.5, 11, 6.8, 1.4, 1},
		{code{sysLOINC, "777-3", "Platelets [#/volume] in Blood by Automated count"}, "10*3/uL", "10*3/uL", 150, 400, 252, 40, 0},
	}},
	{key: "a1c", cpt: code{sysCPT, "83036", "Hemoglobin A1c"}, price: 44, labs: []labDef{
		{code{sysLOINC, "4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood"}, "%", "%", 4, 5.6, 5.3, 0.25, 1},
	}},
	{key: "tsh", cpt: code{sysCPT, "84443", "Thyroid stimulating hormone (TSH)"}, price: 52, labs: []labDef{
		{code{sysLOINC, "3016-3", "Thyrotropin [Units/volume] in Serum or Plasma"}, "mIU/L", "m[IU]/L", 0.4, 4, 1.9, 0.5, 2},
	}},
}

// vaccineDef is an immunization with its CVX code and billing codes.
type vaccineDef struct {
	key    string
	cvx    code
	cpt    code // vaccine product code
	price  float64
	minAge int
	maxAge int
}

var vaccines = []vaccineDef{
	{"flu", code{sysCVX, "140", "Influenza, seasonal, injectable, preservative free"}, code{sysCPT, "90686", "Influenza virus vaccine, quadrivalent, preservative free, 0.5 mL, intramuscular"}, 32, 3, 120},
	{"covid", code{sysCVX, "208", "SARS-COV-2 (COVID-19) vaccine, mRNA, spike protein, LNP, preservative free, 30 mcg/0.3mL dose"}, code{sysCPT, "91300", "SARS-CoV-2 (COVID-19) vaccine, mRNA-LNP, 30 mcg/0.3 mL dosage"}, 0, 12, 120},
	{"tdap", code{sysCVX, "115", "Tdap"}, code{sysCPT, "90715", "Tetanus, diphtheria toxoids and acellular pertussis vaccine (Tdap), 7 years or older, intramuscular"}, 48, 11, 120},
	{"zoster", code{sysCVX, "187", "zoster vaccine recombinant"}, code{sysCPT, "90750", "Zoster (shingles) vaccine, recombinant, adjuvanted, intramuscular"}, 190, 50, 120},
	{"ppsv23", code{sysCVX, "33", "pneumococcal polysaccharide vaccine, 23 valent"}, code{sysCPT, "90732", "Pneumococcal polysaccharide vaccine, 23-valent (PPSV23)"}, 118, 65, 120},
	{"hpv", code{sysCVX, "62", "HPV, quadrivalent"}, code{sysCPT, "90649", "Human Papillomavirus vaccine, quadrivalent (4vHPV), 3 dose schedule, intramuscular"}, 240, 9, 26},
}

// cptVaccineAdmin is billed once per vaccine given.
var cptVaccineAdmin = code{sysCPT, "90471", "Immunization administration, one vaccine"}

// procedureDef is a procedure with its SNOMED CT and CPT codes. A procedure
// without a CPT code is documented but not billed separately.
type procedureDef struct {
	key    string
	snomed code
	cpt    code
	price  float64
}

var procedures = []procedureDef{
	{"depression-screening", code{sysSNOMED, "171207006", "Depression screening (procedure)"}, code{sysCPT, "96127", "Brief emotional/behavioral assessment"}, 24},
	{"med-reconciliation", code{sysSNOMED, "430193006", "Medication reconciliation (procedure)"}, code{}, 0},
	{"colonoscopy", code{sysSNOMED, "73761001", "Colonoscopy (procedure)"}, code{sysCPT, "45378", "Colonoscopy, flexible; diagnostic"}, 1150},
	{"mammography", code{sysSNOMED, "71651007", "Mammography (procedure)"}, code{sysCPT, "77067", "Screening mammography, bilateral"}, 245},
	{"ecg", code{sysSNOMED, "29303009", "Electrocardiographic procedure (procedure)"}, code{sysCPT, "93000", "Electrocardiogram, routine ECG with at least 12 leads; with interpretation and report"}, 68},
	{"chest-xray", code{sysSNOMED, "399208008", "Plain chest X-ray (procedure)"}, code{sysCPT, "71046", "Radiologic examination, chest; 2 views"}, 96},
	{"ankle-xray", code{sysSNOMED, "19490002", "Plain X-ray of ankle (procedure)"}, code{sysCPT, "73610", "Radiologic examination, ankle; complete, minimum of 3 views"}, 88},
	{"spirometry", code{sysSNOMED, "127783003", "Spirometry (procedure)"}, code{sysCPT, "94010", "Spirometry, including graphic record, total and timed vital capacity"}, 74},
	{"eye-exam", code{sysSNOMED, "36228007", "Ophthalmic examination and evaluation (procedure)"}, code{sysCPT, "92250", "Fundus photography with interpretation and report"}, 110},
}

// allergyDef is an allergy with its usual reaction.
type allergyDef struct {
	snomed      code
	category    string // food, medication, environment
	criticality string
	reaction    code
	severity    string
	// med is an RxNorm code prescribed for it (e.g. an epinephrine auto-injector).
	med string
}

var allergies = []allergyDef{
	{code{sysSNOMED, "91936005", "Allergy to penicillin (finding)"}, "medication", "high", code{sysSNOMED, "271807003", "Eruption of skin (disorder)"}, "moderate", ""},
	{code{sysSNOMED, "91935009", "Allergy to peanuts (finding)"}, "food", "high", code{sysSNOMED, "39579001", "Anaphylaxis (disorder)"}, "severe", "1870230"},
	{code{sysSNOMED, "300913006", "Shellfish allergy (finding)"}, "food", "high", code{sysSNOMED, "247472004", "Wheal (finding)"}, "moderate", "1870230"},
	{code{sysSNOMED, "417532002", "Allergy to fish (finding)"}, "food", "low", code{sysSNOMED, "247472004", "Wheal (finding)"}, "mild", ""},
	{code{sysSNOMED, "418689008", "Allergy to grass pollen (finding)"}, "environment", "low", code{sysSNOMED, "76067001", "Sneezing (finding)"}, "mild", "1049630"},
	{code{sysSNOMED, "232347008", "Dander (animal) allergy (finding)"}, "environment", "low", code{sysSNOMED, "76067001", "Sneezing (finding)"}, "mild", ""},
	{code{sysSNOMED, "300916003", "Latex allergy (finding)"}, "environment", "high", code{sysSNOMED, "247472004", "Wheal (finding)"}, "moderate", ""},
	{code{sysSNOMED, "232350006", "House dust mite allergy (finding)"}, "environment", "low", code{sysSNOMED, "49727002", "Cough (finding)"}, "mild", ""},
}

// visitDef is a kind of encounter with its codes and price.
type visitDef struct {
	key   string
	class code
	type_ code // SNOMED CT encounter type
	cpt   code
	price float64
}

var (
	classAmbulatory = tho("v3-ActCode", "AMB", "ambulatory")
	classEmergency  = tho("v3-ActCode", "EMER", "emergency")
	classVirtual    = tho("v3-ActCode", "VR", "virtual")

	visitFollowUp   = visitDef{"follow-up", classAmbulatory, code{sysSNOMED, "390906007", "Follow-up encounter (procedure)"}, code{sysCPT, "99214", "Office or other outpatient visit, established patient, moderate complexity"}, 182}
	visitSymptom    = visitDef{"symptom", classAmbulatory, code{sysSNOMED, "185345009", "Encounter for symptom (procedure)"}, code{sysCPT, "99213", "Office or other outpatient visit, established patient, low complexity"}, 128}
	visitEmergency  = visitDef{"emergency", classEmergency, code{sysSNOMED, "50849002", "Emergency room admission (procedure)"}, code{sysCPT, "99284", "Emergency department visit, moderate complexity"}, 690}
	visitTelehealth = visitDef{"telehealth", classVirtual, code{sysSNOMED, "448337001", "Telemedicine consultation with patient (procedure)"}, code{sysCPT, "99213", "Office or other outpatient visit, established patient, low complexity"}, 98}
)

// checkupVisit returns the preventive visit for a member's age.
func checkupVisit(age int) visitDef {
	v := visitDef{key: "checkup", class: classAmbulatory, type_: code{sysSNOMED, "185349003", "Encounter for check up (procedure)"}}
	switch {
	case age < 12:
		v.type_ = code{sysSNOMED, "410620009", "Well child visit (procedure)"}
		v.cpt, v.price = code{sysCPT, "99393", "Periodic preventive medicine, established patient, age 5-11 years"}, 210
	case age < 18:
		v.type_ = code{sysSNOMED, "410620009", "Well child visit (procedure)"}
		v.cpt, v.price = code{sysCPT, "99394", "Periodic preventive medicine, established patient, age 12-17 years"}, 225
	case age < 40:
		v.cpt, v.price = code{sysCPT, "99395", "Periodic preventive medicine, established patient, age 18-39 years"}, 240
	case age < 65:
		v.cpt, v.price = code{sysCPT, "99396", "Periodic preventive medicine, established patient, age 40-64 years"}, 265
	default:
		v.cpt, v.price = code{sysCPT, "99397", "Periodic preventive medicine, established patient, age 65 years and older"}, 290
	}
	return v
}

var (
	dxAdultExam = code{sysICD10, "Z00.00", "Encounter for general adult medical examination without abnormal findings"}
	dxChildExam = code{sysICD10, "Z00.129", "Encounter for routine child health examination without abnormal findings"}
)

// specialtyDef is a NUCC provider taxonomy specialty.
type specialtyDef struct {
	key      string
	nucc     code
	nurse    bool // nurse practitioner rather than physician
	category string
}

var (
	specFamily      = specialtyDef{"family", code{sysNUCC, "207Q00000X", "Family Medicine"}, false, "primary"}
	specInternal    = specialtyDef{"internal", code{sysNUCC, "207R00000X", "Internal Medicine"}, false, "primary"}
	specPediatrics  = specialtyDef{"pediatrics", code{sysNUCC, "208000000X", "Pediatrics"}, false, "primary"}
	specNP          = specialtyDef{"np", code{sysNUCC, "363LF0000X", "Nurse Practitioner, Family"}, true, "primary"}
	specEmergency   = specialtyDef{"emergency", code{sysNUCC, "207P00000X", "Emergency Medicine"}, false, "emergency"}
	specCardiology  = specialtyDef{"cardiology", code{sysNUCC, "207RC0000X", "Cardiovascular Disease"}, false, "specialist"}
	specEndocrine   = specialtyDef{"endocrinology", code{sysNUCC, "207RE0101X", "Endocrinology, Diabetes & Metabolism"}, false, "specialist"}
	specPulmonary   = specialtyDef{"pulmonology", code{sysNUCC, "207RP1001X", "Pulmonary Disease"}, false, "specialist"}
	specNephrology  = specialtyDef{"nephrology", code{sysNUCC, "207RN0300X", "Nephrology"}, false, "specialist"}
	specPsychiatry  = specialtyDef{"psychiatry", code{sysNUCC, "2084P0800X", "Psychiatry"}, false, "specialist"}
	specOrthopedics = specialtyDef{"orthopedics", code{sysNUCC, "207X00000X", "Orthopaedic Surgery"}, false, "specialist"}
	specGastro      = specialtyDef{"gastroenterology", code{sysNUCC, "207RG0100X", "Gastroenterology"}, false, "specialist"}
)

// specialistFor maps conditions to the specialty that co-manages them.
var specialistFor = map[string]specialtyDef{
	"hypertension":   specCardiology,
	"hyperlipidemia": specCardiology,
	"diabetes":       specEndocrine,
	"hypothyroidism": specEndocrine,
	"asthma":         specPulmonary,
	"ckd3":           specNephrology,
	"depression":     specPsychiatry,
	"osteoarthritis": specOrthopedics,
	"gerd":           specGastro,
}

// lookup tables built from the slices above.
var (
	medicationByCode = indexBy(medications, func(m medicationDef) string { return m.rxnorm })
	panelByKey       = indexBy(panels, func(p panelDef) string { return p.key })
	procedureByKey   = indexBy(procedures, func(p procedureDef) string { return p.key })
	vaccineByKey     = indexBy(vaccines, func(v vaccineDef) string { return v.key })
	conditionByKey   = indexBy(append(append([]conditionDef{}, chronicConditions...), acuteConditions...),
		func(c conditionDef) string { return c.key })
)

func indexBy[T any](xs []T, key func(T) string) map[string]T {
	m := make(map[string]T, len(xs))
	for _, x := range xs {
		m[key(x)] = x
	}
	return m
}
