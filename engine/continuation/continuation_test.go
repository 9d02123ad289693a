package continuation

import (
	"errors"
	"strings"
	"testing"
	"time"
)

type page struct {
	URL    string `json:"u"`
	Offset int    `json:"o"`
}

func TestMintAndOpen(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	key := RandomKey()
	s, err := NewSealer(key, clock)
	if err != nil {
		t.Fatal(err)
	}
	bind := Binding{Purpose: "mcp-page", Subject: "everything", Principal: "oauth2:alice", Context: Digest(map[string]any{"patientId": "example"})}
	tok, err := s.Mint(bind, time.Minute, page{URL: "https://fhir.internal/Patient/example/$everything?page=2", Offset: 40})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(tok, "fhir.internal") || strings.ContainsAny(tok, "+/=") {
		t.Errorf("token is not opaque and URL-safe: %s", tok)
	}
	var got page
	if err := s.Open(tok, bind, &got); err != nil || got.Offset != 40 || !strings.HasPrefix(got.URL, "https://fhir.internal/") {
		t.Fatalf("open: %+v %v", got, err)
	}
	// Another replica with the same key opens it.
	other, _ := NewSealer(key, clock)
	if err := other.Open(tok, bind, &got); err != nil {
		t.Errorf("same key, other replica: %v", err)
	}
	for name, c := range map[string]struct {
		s    *Sealer
		tok  string
		bind Binding
		want error
	}{
		"another key":       {mustSealer(t, RandomKey(), clock), tok, bind, ErrTampered},
		"a byte changed":    {s, flip(tok), bind, ErrTampered},
		"garbage":           {s, "not-a-token", bind, ErrMalformed},
		"another tool":      {s, tok, Binding{Purpose: "mcp-page", Subject: "other", Principal: bind.Principal, Context: bind.Context}, ErrForeign},
		"another principal": {s, tok, Binding{Purpose: "mcp-page", Subject: "everything", Principal: "oauth2:mallory", Context: bind.Context}, ErrForeign},
		"other arguments":   {s, tok, Binding{Purpose: "mcp-page", Subject: "everything", Principal: bind.Principal, Context: Digest(map[string]any{"patientId": "victim"})}, ErrForeign},
		"another purpose":   {s, tok, Binding{Purpose: "follow", Subject: "everything", Principal: bind.Principal, Context: bind.Context}, ErrTampered},
	} {
		if err := c.s.Open(c.tok, c.bind, nil); !errors.Is(err, c.want) || !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
	now = now.Add(2 * time.Minute)
	if err := s.Open(tok, bind, nil); !errors.Is(err, ErrExpired) {
		t.Errorf("expired: %v", err)
	}
}

func mustSealer(t *testing.T, key []byte, clock func() time.Time) *Sealer {
	s, err := NewSealer(key, clock)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func flip(tok string) string {
	b := []byte(tok)
	i := len(b) / 2
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

func TestParseKey(t *testing.T) {
	hexKey := strings.Repeat("ab", 32)
	for in, ok := range map[string]bool{
		hexKey: true,
		"q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=":     true,
		"a passphrase long enough to be stretched, surely": true,
		"short": false,
	} {
		k, err := ParseKey(in)
		if (err == nil) != ok || (ok && len(k) != KeySize) {
			t.Errorf("ParseKey(%q): %d bytes, %v", in, len(k), err)
		}
	}
	a, _ := ParseKey(hexKey)
	b, _ := ParseKey(strings.ToUpper(hexKey))
	if string(a) != string(b) {
		t.Error("hex case changed the key")
	}
}

func TestTags(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	s, _ := NewSealer(RandomKey(), func() time.Time { return now })
	bind := Binding{Purpose: "follow", Subject: "provider-access-patient", Principal: "oauth2:alice"}
	exp := now.Add(time.Hour)
	tag := s.Tag(bind, exp, "/Patient/example/$everything?_offset=100")
	if len(tag) != 22 {
		t.Errorf("tag %q", tag)
	}
	if err := s.CheckTag(bind, exp, "/Patient/example/$everything?_offset=100", tag); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		bind Binding
		exp  time.Time
		data string
		want error
	}{
		"other path":      {bind, exp, "/Patient/victim/$everything?_offset=100", ErrTampered},
		"other query":     {bind, exp, "/Patient/example/$everything?_offset=100&x=1", ErrTampered},
		"other caller":    {Binding{Purpose: "follow", Subject: bind.Subject, Principal: "oauth2:mallory"}, exp, "/Patient/example/$everything?_offset=100", ErrTampered},
		"other namespace": {Binding{Purpose: "follow", Subject: "other", Principal: bind.Principal}, exp, "/Patient/example/$everything?_offset=100", ErrTampered},
		"later expiry":    {bind, exp.Add(time.Hour), "/Patient/example/$everything?_offset=100", ErrTampered},
	} {
		if err := s.CheckTag(c.bind, c.exp, c.data, tag); !errors.Is(err, c.want) {
			t.Errorf("%s: %v", name, err)
		}
	}
	now = now.Add(2 * time.Hour)
	if err := s.CheckTag(bind, exp, "/Patient/example/$everything?_offset=100", tag); !errors.Is(err, ErrExpired) {
		t.Errorf("expired: %v", err)
	}
}

func BenchmarkTag(b *testing.B) {
	s, _ := NewSealer(RandomKey(), nil)
	bind := Binding{Purpose: "follow", Subject: "provider-access-patient"}
	exp := time.Now().Add(time.Hour)
	for b.Loop() {
		s.Tag(bind, exp, "/Observation/obs-1234567890")
	}
}

// BenchmarkTagger is the cost of one more link's tag in an answer.
func BenchmarkTagger(b *testing.B) {
	s, _ := NewSealer(RandomKey(), nil)
	tg := s.Tagger(Binding{Purpose: "follow", Subject: "provider-access-patient"}, time.Now().Add(time.Hour))
	for b.Loop() {
		tg.Tag("/Observation/obs-1234567890")
	}
}
