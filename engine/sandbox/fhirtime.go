package sandbox

import (
	"fmt"
	"strings"
	"time"
)

// dateRange is the half-open interval [lo, hi) of time denoted by a FHIR
// date, dateTime, instant or Period. FHIR compares dates as ranges: "2024"
// covers the whole year, "2024-03-01T10:00:00Z" a single second.
type dateRange struct{ lo, hi time.Time }

// endOfTime stands in for the open end of a Period without an end.
var endOfTime = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)

// dateTimeLayouts are the dateTime forms accepted in resources and searches,
// most precise first. A dateTime without a zone is read as UTC.
var dateTimeLayouts = []struct {
	layout    string
	precision time.Duration
}{
	{"2006-01-02T15:04:05.999999999Z07:00", time.Nanosecond},
	{"2006-01-02T15:04:05Z07:00", time.Second},
	{"2006-01-02T15:04Z07:00", time.Minute},
	{"2006-01-02T15:04:05.999999999", time.Nanosecond},
	{"2006-01-02T15:04:05", time.Second},
	{"2006-01-02T15:04", time.Minute},
}

// parseDateRange parses a FHIR date, dateTime or instant.
func parseDateRange(s string) (dateRange, error) {
	switch len(s) {
	case 4:
		t, err := time.Parse("2006", s)
		if err != nil {
			return dateRange{}, fmt.Errorf("invalid date %q: %w", s, err)
		}
		return dateRange{t, t.AddDate(1, 0, 0)}, nil
	case 7:
		t, err := time.Parse("2006-01", s)
		if err != nil {
			return dateRange{}, fmt.Errorf("invalid date %q: %w", s, err)
		}
		return dateRange{t, t.AddDate(0, 1, 0)}, nil
	case 10:
		t, err := time.Parse("2006-01-02", s)
		if err != nil {
			return dateRange{}, fmt.Errorf("invalid date %q: %w", s, err)
		}
		return dateRange{t, t.AddDate(0, 0, 1)}, nil
	}
	if !strings.Contains(s, "T") {
		return dateRange{}, fmt.Errorf("invalid date %q: expected YYYY, YYYY-MM, YYYY-MM-DD or a dateTime", s)
	}
	for _, l := range dateTimeLayouts {
		if t, err := time.Parse(l.layout, s); err == nil {
			precision := l.precision
			if precision == time.Nanosecond && !strings.Contains(s, ".") {
				precision = time.Second
			}
			return dateRange{t.UTC(), t.UTC().Add(precision)}, nil
		}
	}
	return dateRange{}, fmt.Errorf("invalid dateTime %q: expected e.g. 2024-03-01T10:00:00Z", s)
}

// parseInstant parses a point in time given as a FHIR instant, dateTime or
// date; a partial date stands for its start. It is used for _since.
func parseInstant(s string) (time.Time, error) {
	r, err := parseDateRange(fixPlus(s))
	if err != nil {
		return time.Time{}, err
	}
	return r.lo, nil
}

// fixPlus undoes the most common query-string mistake with dates: a "+"
// of a time-zone offset sent unescaped arrives as a space.
func fixPlus(s string) string { return strings.ReplaceAll(s, " ", "+") }
