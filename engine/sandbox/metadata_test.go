package sandbox

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
)

func TestCapabilityStatement(t *testing.T) {
	e := newEnv(t)
	resp, body := e.do(http.MethodGet, "/metadata", "")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/fhir+json" {
		t.Fatalf("GET /metadata: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var cs struct {
		ResourceType, Status, Kind, FhirVersion string
		Format                                  []string
		Implementation                          struct{ URL string }
		Rest                                    []struct {
			Mode     string
			Resource []struct {
				Type        string
				Interaction []struct{ Code string }
				SearchParam []struct{ Name, Type string }
				Operation   []struct{ Name, Definition string }
			}
			Operation []struct{ Name string }
		}
	}
	if err := json.Unmarshal(body, &cs); err != nil {
		t.Fatal(err)
	}
	if cs.ResourceType != "CapabilityStatement" || cs.Status != "active" || cs.Kind != "instance" ||
		cs.FhirVersion != "4.0.1" || !slices.Contains(cs.Format, "json") || cs.Implementation.URL != e.ts.URL {
		t.Errorf("CapabilityStatement header wrong: %+v", cs)
	}
	listed := map[string]bool{}
	for _, r := range cs.Rest[0].Resource {
		listed[r.Type] = true
		rt := e.s.store.typeMap[r.Type]
		if rt == nil {
			t.Errorf("lists unserved type %s", r.Type)
			continue
		}
		if len(r.SearchParam) != len(rt.params) {
			t.Errorf("%s: %d search params listed, %d served", r.Type, len(r.SearchParam), len(rt.params))
		}
		// Every listed parameter is accepted by the server.
		for _, p := range r.SearchParam {
			value := map[string]string{"date": "2020", "token": "x", "string": "x", "reference": rt.param(p.Name).targets0() + "/x"}[p.Type]
			path := "/" + r.Type + "?" + p.Name + "=" + value
			if resp, body := e.do(http.MethodGet, path, e.s.Token()); resp.StatusCode != http.StatusOK {
				t.Errorf("listed parameter rejected: %s: %d %s", path, resp.StatusCode, body)
			}
		}
		// Every type is readable and searchable.
		if resp, _ := e.do(http.MethodGet, "/"+r.Type+"?_count=1", e.s.Token()); resp.StatusCode != http.StatusOK {
			t.Errorf("search on %s failed", r.Type)
		}
	}
	for _, rt := range e.s.store.types {
		if !listed[rt.name] {
			t.Errorf("served type %s is not listed", rt.name)
		}
	}
	if len(cs.Rest[0].Operation) == 0 || cs.Rest[0].Operation[0].Name != "userinfo" {
		t.Errorf("system operation userinfo not listed")
	}
}
