package paging

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// bundle is a FHIR-like searchset of n entries of varied kinds.
func bundle(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"resourceType":"Bundle","type":"searchset","total":` + fmt.Sprint(n) + `,"link":[{"relation":"self","url":"https://up/x"},{"relation":"next","url":"https://up/x?page=2"}],"entry":[`)
	kinds := []string{"Observation", "Observation", "Condition", "Encounter"}
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"fullUrl":"https://up/%d","resource":{"resourceType":%q,"id":"r%d","note":%q}}`, i, kinds[i%4], i, strings.Repeat("n", i%50))
	}
	b.WriteString(`],"meta":{"lastUpdated":"2026-01-01T00:00:00Z"}}`)
	return b.Bytes()
}

// Walking the pages of a document yields every item exactly once, each page
// within the budget and valid JSON of the document's shape.
func TestWalkYieldsEveryItemOnce(t *testing.T) {
	doc := bundle(500)
	const budget = 8 << 10
	seen := map[string]int{}
	from := Position{}
	pages := 0
	for {
		p, err := Cut(iotest.HalfReader(bytes.NewReader(doc)), budget, from, nil)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(p.JSON) > budget {
			t.Fatalf("page %d is %d bytes, over the %d budget", pages, len(p.JSON), budget)
		}
		var v struct {
			ResourceType string            `json:"resourceType"`
			Total        int               `json:"total"`
			Entry        []json.RawMessage `json:"entry"`
			Meta         map[string]any    `json:"meta"`
		}
		if err := json.Unmarshal(p.JSON, &v); err != nil || v.ResourceType != "Bundle" || v.Total != 500 || v.Meta == nil {
			t.Fatalf("page %d is not the document's shape: %v %.200s", pages, err, p.JSON)
		}
		for _, e := range v.Entry {
			var x struct {
				Resource struct{ ID string } `json:"resource"`
			}
			json.Unmarshal(e, &x)
			seen[x.Resource.ID]++
		}
		if p.Kinds["Observation"] != 250 || p.Kinds["Condition"] != 125 || p.Total == nil || *p.Total != 500 {
			t.Fatalf("overview %v total %v", p.Kinds, p.Total)
		}
		if p.NextLink != "https://up/x?page=2" {
			t.Fatalf("next link %q", p.NextLink)
		}
		if !p.More {
			break
		}
		if !(p.Next.Array > from.Array || p.Next.Item > from.Item) {
			t.Fatalf("no progress: %+v after %+v", p.Next, from)
		}
		from = p.Next
	}
	if len(seen) != 500 {
		t.Fatalf("%d distinct entries, want 500", len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("%s shown %d times", id, n)
		}
	}
	if pages < 5 {
		t.Errorf("only %d pages", pages)
	}
}

func TestArrayDocumentAndNarrowing(t *testing.T) {
	doc := []byte(`[{"resourceType":"Observation","code":"a"},{"resourceType":"Condition","code":"b"},{"resourceType":"Observation","code":"c"}]`)
	onlyObs := func(item json.RawMessage) ([]json.RawMessage, error) {
		if bytes.Contains(item, []byte(`"Observation"`)) {
			return []json.RawMessage{item}, nil
		}
		return nil, nil
	}
	p, err := Cut(bytes.NewReader(doc), 1<<20, Position{}, onlyObs)
	if err != nil {
		t.Fatal(err)
	}
	var got []map[string]string
	if err := json.Unmarshal(p.JSON, &got); err != nil || len(got) != 2 || got[1]["code"] != "c" || p.More {
		t.Fatalf("narrowed: %s %v more=%v", p.JSON, err, p.More)
	}
	if p.Kinds["Condition"] != 1 || p.Arrays[0].Total != 3 {
		t.Errorf("counts are of the whole document: %v %+v", p.Kinds, p.Arrays)
	}
	if _, err := Cut(strings.NewReader(`"just a string"`), 100, Position{}, nil); err != ErrNotPageable {
		t.Errorf("scalar document: %v", err)
	}
}

// One item larger than the budget is still shown, alone, so a walk moves.
func TestOversizedItemAlone(t *testing.T) {
	doc := `{"entry":[{"big":"` + strings.Repeat("x", 5000) + `"},{"small":1}]}`
	p, err := Cut(strings.NewReader(doc), 1000, Position{}, nil)
	if err != nil || !p.More || p.Next != (Position{Array: 0, Item: 1}) || !bytes.Contains(p.JSON, []byte("xxxx")) {
		t.Fatalf("page %+v %v", p, err)
	}
}

func BenchmarkCut1MB(b *testing.B) {
	doc := bundle(6000)
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Cut(bytes.NewReader(doc), 48<<10, Position{Array: 1, Item: 3000}, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func TestSelect(t *testing.T) {
	sel, err := Select(`select(.resource.resourceType == "Observation") | .resource.id`)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Cut(bytes.NewReader(bundle(8)), 1<<20, Position{}, sel.Narrow(context.Background()))
	if err != nil {
		t.Fatal(err)
	}
	var v struct{ Entry []string }
	if err := json.Unmarshal(p.JSON, &v); err != nil || strings.Join(v.Entry, ",") != "r0,r1,r4,r5" {
		t.Fatalf("narrowed %s %v", p.JSON, err)
	}
	if _, err := Select("select("); err == nil {
		t.Error("a broken expression compiled")
	}
	env, _ := Select(`env | length`)
	p, _ = Cut(strings.NewReader(`[1]`), 100, Position{}, env.Narrow(context.Background()))
	if string(p.JSON) != "[0]" {
		t.Errorf("the environment is visible to jq: %s", p.JSON)
	}
	spin, _ := Select(`repeat(.)`)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := Cut(strings.NewReader(`[1]`), 100, Position{}, spin.Narrow(ctx)); err == nil {
		t.Error("a program that never ends was not stopped")
	}
}
