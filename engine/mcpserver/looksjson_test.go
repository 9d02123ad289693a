package mcpserver

import "testing"

func TestLooksJSON(t *testing.T) {
	for body, want := range map[string]bool{
		`{"a":1}`: true, ` [1,2] `: true, `"x"`: true, `12`: true, `null`: true,
		`<html>maintenance</html>`: false, `{"cut":`: false, `[1,2`: false, ``: false, `maintenance`: false,
	} {
		if got := looksJSON([]byte(body)); got != want {
			t.Errorf("looksJSON(%q) = %v, want %v", body, got, want)
		}
	}
}
