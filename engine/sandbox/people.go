package sandbox

import (
	"fmt"
	"strings"
)

// This file holds the demographic raw material: names, streets and US
// metropolitan areas with real ZIP codes, area codes and coordinates.

var (
	femaleNames = []string{"Olivia", "Emma", "Ava", "Sophia", "Isabella", "Mia", "Charlotte", "Amelia", "Harper", "Evelyn",
		"Abigail", "Emily", "Elizabeth", "Sofia", "Madison", "Avery", "Ella", "Scarlett", "Grace", "Chloe",
		"Linda", "Patricia", "Barbara", "Susan", "Maria", "Denise", "Angela", "Rosa", "Keiko", "Priya"}
	maleNames = []string{"Liam", "Noah", "William", "James", "Oliver", "Benjamin", "Elijah", "Lucas", "Mason", "Logan",
		"Alexander", "Ethan", "Jacob", "Michael", "Daniel", "Henry", "Jackson", "Sebastian", "Aiden", "Matthew",
		"Robert", "David", "Richard", "Joseph", "Thomas", "Carlos", "Andre", "Wei", "Rahul", "Kwame"}
	familyNames = []string{"Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
		"Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
		"Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson",
		"Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores",
		"Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts",
		"Okafor", "Patel", "Kim", "Chen", "O'Brien", "Kowalski", "Haddad", "Yamamoto", "Novak", "Silva"}
	streets = []string{"Main Street", "Oak Avenue", "Maple Drive", "Elm Street", "Washington Street", "Park Avenue",
		"Cedar Lane", "Pine Street", "Lake Road", "Hillcrest Drive", "Church Street", "Highland Avenue",
		"Franklin Street", "Chestnut Street", "Willow Way", "Sunset Drive", "Jefferson Avenue", "River Road",
		"Spring Street", "Meadow Lane"}
	employers = []string{"Northwind Logistics", "Contoso Manufacturing", "Fabrikam Engineering", "Tailspin Aviation",
		"Woodgrove Financial", "Litware Software", "Adventure Works Outdoor", "Proseware Learning"}
)

// metro is a US metropolitan area where members live and providers practise.
type metro struct {
	city, state, areaCode string
	zips                  []string
	lat, lon              float64
}

var metros = []metro{
	{"Hartford", "CT", "860", []string{"06103", "06105", "06106", "06114"}, 41.7658, -72.6734},
	{"Boston", "MA", "617", []string{"02108", "02115", "02118", "02130"}, 42.3601, -71.0589},
	{"New York", "NY", "212", []string{"10001", "10016", "10025", "10128"}, 40.7128, -74.0060},
	{"Philadelphia", "PA", "215", []string{"19103", "19104", "19146", "19147"}, 39.9526, -75.1652},
	{"Nashville", "TN", "615", []string{"37203", "37205", "37212", "37215"}, 36.1627, -86.7816},
	{"Atlanta", "GA", "404", []string{"30303", "30308", "30309", "30318"}, 33.7490, -84.3880},
	{"Dallas", "TX", "214", []string{"75201", "75204", "75214", "75219"}, 32.7767, -96.7970},
	{"Denver", "CO", "303", []string{"80202", "80205", "80218", "80220"}, 39.7392, -104.9903},
	{"Phoenix", "AZ", "602", []string{"85004", "85006", "85016", "85018"}, 33.4484, -112.0740},
	{"Chicago", "IL", "312", []string{"60601", "60614", "60657", "60610"}, 41.8781, -87.6298},
}

// address is a US postal address.
type address struct {
	line       string
	metro      metro
	postalCode string
}

// fhir returns the address as a FHIR Address.
func (a address) fhir(use string) object {
	return object{
		"use":        use,
		"type":       "both",
		"line":       []string{a.line},
		"city":       a.metro.city,
		"state":      a.metro.state,
		"postalCode": a.postalCode,
		"country":    "US",
		"text":       fmt.Sprintf("%s, %s, %s %s", a.line, a.metro.city, a.metro.state, a.postalCode),
	}
}

// randomAddress returns a street address in the metro.
func randomAddress(g *rng, m metro) address {
	line := fmt.Sprintf("%d %s", g.between(10, 9899), pick(g, streets))
	if g.chance(0.2) {
		line += fmt.Sprintf(" Apt %d", g.between(1, 42))
	}
	return address{line: line, metro: m, postalCode: pick(g, m.zips)}
}

// phone returns a number in the 555-01xx block, which is reserved for
// fictional use in every US area code.
func phone(g *rng, m metro) string {
	return fmt.Sprintf("(%s) 555-01%02d", m.areaCode, g.intn(100))
}

// emailLocal makes the local part of an e-mail address from a name.
func emailLocal(given, family string) string {
	s := strings.ToLower(given + "." + family)
	return strings.NewReplacer("'", "", " ", "").Replace(s)
}

// npi returns a syntactically valid National Provider Identifier: nine
// digits starting with 1 plus a Luhn check digit computed over the
// "80840" health-industry prefix, as the NPI standard specifies.
func npi(g *rng) string {
	base := "1" + g.digits(8)
	sum := 24 // the contribution of the 80840 prefix
	for i := len(base) - 1; i >= 0; i-- {
		d := int(base[i] - '0')
		if (len(base)-1-i)%2 == 0 { // double every second digit from the right
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return base + string(rune('0'+(10-sum%10)%10))
}
