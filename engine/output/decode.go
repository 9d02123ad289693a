package output

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strings"

	"gopkg.in/yaml.v3"
)

// Decode reads an upstream body in its raw format (json, xml, csv, tsv,
// psv, yaml) into generic JSON values.
func Decode(r io.Reader, format string) (any, error) {
	switch strings.ToLower(format) {
	case "", "json":
		dec := json.NewDecoder(r)
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("upstream body is not valid JSON: %w", err)
		}
		return v, nil
	case "xml":
		return decodeXML(r)
	case "csv":
		return decodeDelimited(r, ',')
	case "tsv":
		return decodeDelimited(r, '\t')
	case "psv":
		return decodeDelimited(r, '|')
	case "yaml", "yml":
		var v any
		if err := yaml.NewDecoder(r).Decode(&v); err != nil {
			return nil, fmt.Errorf("upstream body is not valid YAML: %w", err)
		}
		return normalizeYAML(v), nil
	}
	return nil, fmt.Errorf("unsupported outputRawFormat %q", format)
}

func normalizeYAML(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = normalizeYAML(e)
		}
		return t
	case map[any]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[fmt.Sprint(k)] = normalizeYAML(e)
		}
		return out
	case []any:
		for i, e := range t {
			t[i] = normalizeYAML(e)
		}
		return t
	case int:
		return float64(t)
	case int64:
		return float64(t)
	case uint64:
		return float64(t)
	}
	return v
}

// decodeDelimited reads a header row and returns one object per line, keyed
// by the header, every value a string.
func decodeDelimited(r io.Reader, sep rune) (any, error) {
	cr := csv.NewReader(r)
	cr.Comma = sep
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	rows, err := cr.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("upstream body is not valid delimited text: %w", err)
	}
	out := []any{}
	if len(rows) == 0 {
		return out, nil
	}
	header := rows[0]
	for _, row := range rows[1:] {
		obj := make(map[string]any, len(header))
		for i, h := range header {
			if i < len(row) {
				obj[h] = row[i]
			} else {
				obj[h] = ""
			}
		}
		out = append(out, obj)
	}
	return out, nil
}

// decodeXML maps an XML document to JSON values: the root element's
// attributes and children become fields, repeated children become arrays,
// and an element with only text becomes a string.
func decodeXML(r io.Reader) (any, error) {
	dec := xml.NewDecoder(r)
	dec.Strict = false
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("upstream body is not valid XML: %w", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			return xmlElement(dec, se)
		}
	}
}

func xmlElement(dec *xml.Decoder, start xml.StartElement) (any, error) {
	fields := map[string]any{}
	var order []string
	add := func(k string, v any) {
		if prev, ok := fields[k]; ok {
			if arr, isArr := prev.([]any); isArr {
				fields[k] = append(arr, v)
			} else {
				fields[k] = []any{prev, v}
			}
			return
		}
		fields[k] = v
		order = append(order, k)
	}
	for _, a := range start.Attr {
		add(a.Name.Local, a.Value)
	}
	var text bytes.Buffer
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("upstream body is not valid XML: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			child, err := xmlElement(dec, t)
			if err != nil {
				return nil, err
			}
			add(t.Name.Local, child)
		case xml.CharData:
			text.Write(t)
		case xml.EndElement:
			s := strings.TrimSpace(text.String())
			if len(fields) == 0 {
				return s, nil
			}
			if s != "" {
				add("", s)
			}
			return fields, nil
		}
	}
}
