package template_test

import (
	"fmt"

	"github.com/naftiko/naftiko/engine/template"
)

// A template is compiled once: start-up variables folded in, the other
// placeholders numbered, so a request finds each value by position and
// every value is escaped for where it lands.
func ExampleTemplate_ExpandSlots() {
	vars := map[string]string{"VERSION": "v2"}
	t := template.Compile("/{{VERSION}}/patients/{id}/records", true).
		Bind(func(name string) (string, bool) { v, ok := vars[name]; return v, ok }).
		Slots(func(name string) int {
			if name == "id" {
				return 0
			}
			return -1
		})
	values := []string{"../admin"}
	path, _ := t.ExpandSlots(func(i int) (string, bool) { return values[i], true }, template.PathSegment)
	fmt.Println(path)
	// Output: /v2/patients/..%2Fadmin/records
}
