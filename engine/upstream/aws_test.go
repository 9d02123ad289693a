package upstream

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/naftiko/naftiko/engine/fault"
	"github.com/naftiko/naftiko/engine/redact"
	"github.com/naftiko/naftiko/spec"
)

// The credentials of the tests: AWS's documentation example key pair.
const (
	awsTestKeyID   = "AKIDEXAMPLE"
	awsTestSecret  = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	awsTestToken   = "IQoJb3JpZ2luX2VjEXAMPLE-session-token//+="
	awsTestRegion  = "eu-west-3"
	awsTestService = "execute-api"
	awsDateFormat  = "20060102T150405Z"
)

// awsVerifier checks a received request's SigV4 signature as an AWS
// endpoint does, from the request alone: the credential scope, the signed
// headers, the body's hash, then the signature, computed twice: by a
// minimal implementation of the algorithm written here from AWS's
// documentation (checked against AWS's published example below) and by the
// SDK's signer over a request rebuilt from what arrived. Both must give the
// Authorization header received.
type awsVerifier struct {
	keyID, secret, token, region, service string
}

func (v awsVerifier) verify(r *http.Request, body []byte) error {
	authz := r.Header.Get("Authorization")
	rest, ok := strings.CutPrefix(authz, "AWS4-HMAC-SHA256 ")
	if !ok {
		return fmt.Errorf("Authorization %q is not AWS4-HMAC-SHA256", authz)
	}
	parts := map[string]string{}
	for _, p := range strings.Split(rest, ", ") {
		k, val, _ := strings.Cut(p, "=")
		parts[k] = val
	}
	amzDate := r.Header.Get("X-Amz-Date")
	at, err := time.Parse(awsDateFormat, amzDate)
	if err != nil {
		return fmt.Errorf("X-Amz-Date %q: %v", amzDate, err)
	}
	if skew := time.Since(at); skew > 15*time.Minute || skew < -15*time.Minute {
		return fmt.Errorf("X-Amz-Date %s is %s away from now", amzDate, skew)
	}
	scope := at.Format("20060102") + "/" + v.region + "/" + v.service + "/aws4_request"
	if want := v.keyID + "/" + scope; parts["Credential"] != want {
		return fmt.Errorf("Credential %q, want %q", parts["Credential"], want)
	}
	signed := strings.Split(parts["SignedHeaders"], ";")
	if !sort.StringsAreSorted(signed) {
		return fmt.Errorf("SignedHeaders %q not sorted", parts["SignedHeaders"])
	}
	required := []string{"host", "x-amz-content-sha256", "x-amz-date"}
	if v.token != "" {
		required = append(required, "x-amz-security-token")
		if got := r.Header.Get("X-Amz-Security-Token"); got != v.token {
			return fmt.Errorf("X-Amz-Security-Token %q, want the session token", got)
		}
	}
	for _, h := range required {
		if !contains(signed, h) {
			return fmt.Errorf("%s is not signed (SignedHeaders %s)", h, parts["SignedHeaders"])
		}
	}
	sum := sha256.Sum256(body)
	payloadHash := hex.EncodeToString(sum[:])
	if got := r.Header.Get("X-Amz-Content-Sha256"); got != payloadHash {
		return fmt.Errorf("X-Amz-Content-Sha256 %q, but the body received hashes to %s", got, payloadHash)
	}

	// 1. The algorithm, written out.
	headerValue := func(name string) string {
		switch name {
		case "host":
			return r.Host
		case "content-length":
			return strconv.FormatInt(r.ContentLength, 10)
		}
		vals := r.Header.Values(name)
		for i, s := range vals {
			vals[i] = strings.Join(strings.Fields(s), " ")
		}
		return strings.Join(vals, ",")
	}
	canonical, err := awsCanonicalRequest(r.Method, r.URL.EscapedPath(), r.URL.RawQuery, signed, headerValue, payloadHash, v.service == "s3")
	if err != nil {
		return err
	}
	if sig := awsSignature(v.secret, v.region, v.service, amzDate, canonical); parts["Signature"] != sig {
		return fmt.Errorf("signature %s does not verify (want %s) for the canonical request\n%s", parts["Signature"], sig, canonical)
	}

	// 2. The SDK's signer over the request as received.
	again, err := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return err
	}
	again.Header = http.Header{}
	for _, h := range signed {
		if h != "host" && h != "content-length" && h != "x-amz-date" && h != "x-amz-security-token" {
			again.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
		}
	}
	creds := aws.Credentials{AccessKeyID: v.keyID, SecretAccessKey: v.secret, SessionToken: v.token}
	s3 := v.service == "s3"
	err = v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = s3 }).
		SignHTTP(context.Background(), creds, again, payloadHash, v.service, v.region, at)
	if err != nil {
		return err
	}
	if got := again.Header.Get("Authorization"); got != authz {
		return fmt.Errorf("the SDK signer computes\n  %s\nfor the request received, which carries\n  %s", got, authz)
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// awsEscape is SigV4's UriEncode: every byte but A-Z a-z 0-9 - . _ ~ as
// %XY (upper case); '/' kept when slash.
func awsEscape(s string, slash bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '.', c == '_', c == '~':
			b.WriteByte(c)
		case c == '/' && slash:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// awsCanonicalRequest builds the canonical request from the request line
// as it arrived: the escaped path encoded once more (except for S3), the
// query's names and values decoded, encoded and sorted.
func awsCanonicalRequest(method, escapedPath, rawQuery string, signed []string, header func(string) string, payloadHash string, s3 bool) (string, error) {
	path := escapedPath
	if path == "" {
		path = "/"
	}
	if !s3 {
		path = awsEscape(path, true)
	}
	var pairs []string
	if rawQuery != "" {
		for _, kv := range strings.Split(rawQuery, "&") {
			k, val, _ := strings.Cut(kv, "=")
			dk, err1 := url.QueryUnescape(k)
			dv, err2 := url.QueryUnescape(val)
			if err1 != nil || err2 != nil {
				return "", fmt.Errorf("query %q does not decode", rawQuery)
			}
			pairs = append(pairs, awsEscape(dk, false)+"="+awsEscape(dv, false))
		}
	}
	sort.Strings(pairs)
	var b strings.Builder
	b.WriteString(method + "\n" + path + "\n" + strings.Join(pairs, "&") + "\n")
	for _, h := range signed {
		b.WriteString(h + ":" + strings.TrimSpace(header(h)) + "\n")
	}
	b.WriteString("\n" + strings.Join(signed, ";") + "\n" + payloadHash)
	return b.String(), nil
}

func awsSignature(secret, region, service, amzDate, canonical string) string {
	mac := func(key []byte, data string) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(data))
		return h.Sum(nil)
	}
	hashed := sha256.Sum256([]byte(canonical))
	toSign := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + amzDate[:8] + "/" + region + "/" + service + "/aws4_request\n" + hex.EncodeToString(hashed[:])
	key := mac([]byte("AWS4"+secret), amzDate[:8])
	key = mac(key, region)
	key = mac(key, service)
	key = mac(key, "aws4_request")
	return hex.EncodeToString(mac(key, toSign))
}

// The verifier's own implementation, and the SDK, give AWS's published
// example signature (IAM ListUsers, 2015-08-30): the verifier is right.
func TestAWSVerifierMatchesAWSExample(t *testing.T) {
	const want = "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
	hdr := map[string]string{"content-type": "application/x-www-form-urlencoded; charset=utf-8",
		"host": "iam.amazonaws.com", "x-amz-date": "20150830T123600Z"}
	canonical, err := awsCanonicalRequest("GET", "/", "Action=ListUsers&Version=2010-05-08",
		[]string{"content-type", "host", "x-amz-date"}, func(h string) string { return hdr[h] }, emptyPayloadHash, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := awsSignature(awsTestSecret, "us-east-1", "iam", "20150830T123600Z", canonical); got != want {
		t.Errorf("hand-written SigV4: %s, want %s", got, want)
	}
	req, _ := http.NewRequest("GET", "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08", nil)
	req.Header.Set("Content-Type", hdr["content-type"])
	at, _ := time.Parse(awsDateFormat, "20150830T123600Z")
	err = v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: awsTestKeyID, SecretAccessKey: awsTestSecret},
		req, emptyPayloadHash, "iam", "us-east-1", at)
	if err != nil {
		t.Fatal(err)
	}
	if got := req.Header.Get("Authorization"); !strings.HasSuffix(got, "Signature="+want) {
		t.Errorf("SDK signer: %s", got)
	}
}

// awsUpstream is an httptest upstream that verifies every request's
// signature: 403 with the reason when it does not verify, else 200.
type awsUpstream struct {
	*httptest.Server
	v awsVerifier

	mu      sync.Mutex
	got     []*http.Request
	bodies  []string
	refused []string // "" for a request that verified
	answers []int    // statuses to give before verifying (503: ask for a retry)
}

func newAWSUpstream(t *testing.T, v awsVerifier, answers ...int) *awsUpstream {
	u := &awsUpstream{v: v, answers: answers}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		err := u.v.verify(r, body)
		u.mu.Lock()
		u.got = append(u.got, r.Clone(context.Background()))
		u.bodies = append(u.bodies, string(body))
		reason := ""
		if err != nil {
			reason = err.Error()
		}
		u.refused = append(u.refused, reason)
		status := 0
		if len(u.answers) > 0 {
			status, u.answers = u.answers[0], u.answers[1:]
		}
		u.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case err != nil:
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprintf(w, `{"message":%q}`, "The request signature we calculated does not match the signature you provided.")
		case status != 0:
			w.WriteHeader(status)
			io.WriteString(w, `{}`)
		default:
			io.WriteString(w, `{"ok":true}`)
		}
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *awsUpstream) seen() ([]*http.Request, []string, []string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]*http.Request(nil), u.got...), append([]string(nil), u.bodies...), append([]string(nil), u.refused...)
}

const awsDoc = `naftiko: 1.0.0-alpha2
capability:
  consumes:
  - type: http
    namespace: gw
    baseUri: https://example.invalid/prod
    inputParameters:
    - {name: X-Api-Version, in: header, value: "2024-01-01"}
    authentication: {type: aws-sig-v4, accessKeyId: '{{AWS_ACCESS_KEY_ID}}', secretKey: '{{AWS_SECRET_ACCESS_KEY}}',
      sessionToken: '{{AWS_SESSION_TOKEN}}', region: '{{AWS_REGION}}', service: %s}
    resources:
    - name: items
      path: /stages/{stage}/items
      operations:
      - name: %s
        method: %s
        inputParameters:
        - {name: stage, in: path}
        - {name: q, in: query}
        - {name: tag, in: query}%s
`

var awsEnv = map[string]string{
	"AWS_ACCESS_KEY_ID":     awsTestKeyID,
	"AWS_SECRET_ACCESS_KEY": awsTestSecret,
	"AWS_SESSION_TOKEN":     awsTestToken,
	"AWS_REGION":            awsTestRegion,
}

func awsStatic(name string) (string, bool) {
	v, ok := awsEnv[name]
	return v, ok
}

// awsOp compiles the one operation of awsDoc against base. body adds a
// JSON body parameter.
func awsOp(t *testing.T, method, service string, body bool, base string, opts ClientOptions) (*Operation, *Client) {
	t.Helper()
	extra := ""
	if body {
		extra = "\n        - {name: name, in: body}"
	}
	doc, diags := spec.Parse("aws.yaml", []byte(fmt.Sprintf(awsDoc, service, "op", method, extra)))
	if doc == nil || diags.HasErrors() {
		t.Fatalf("parse: %v", diags)
	}
	cs := &doc.Capability.Consumes[0]
	opts.BaseURL = base + "/prod"
	if opts.Timeout == 0 {
		opts.Timeout = 5 * time.Second
	}
	cl, err := NewClient(cs, opts, awsStatic)
	if err != nil {
		t.Fatal(err)
	}
	return compileFirst(t, cl, cs, awsStatic, nil), cl
}

func awsCall(t *testing.T, op *Operation, in Inputs) (int, string) {
	t.Helper()
	resp, err := op.Do(context.Background(), op.ArgsOf(in))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var awsVerify = awsVerifier{awsTestKeyID, awsTestSecret, awsTestToken, awsTestRegion, awsTestService}

// No header sent upstream carries the secret key, in any spelling.
func checkNoSecretSent(t *testing.T, reqs []*http.Request) {
	t.Helper()
	forms := []string{awsTestSecret, url.QueryEscape(awsTestSecret), url.PathEscape(awsTestSecret)}
	for _, r := range reqs {
		for k, vs := range r.Header {
			for _, v := range vs {
				for _, f := range forms {
					if strings.Contains(v, f) {
						t.Errorf("header %s carries the secret key: %q", k, v)
					}
				}
			}
		}
		if strings.Contains(r.URL.RawQuery, url.QueryEscape(awsTestSecret)) {
			t.Errorf("the query carries the secret key: %s", r.URL.RawQuery)
		}
	}
}

// GETs with escaped path values and query parameters, and a POST with a
// body, each verify; the session token goes as X-Amz-Security-Token; the
// trace header the observer injects is signed; the secret is never sent.
func TestAWSSigV4SignsEveryRequest(t *testing.T) {
	up := newAWSUpstream(t, awsVerify)
	w := &watcher{}
	get, _ := awsOp(t, "GET", awsTestService, false, up.URL, ClientOptions{Observer: w})
	post, _ := awsOp(t, "POST", awsTestService, true, up.URL, ClientOptions{Observer: w})
	cases := []struct {
		op *Operation
		in Inputs
	}{
		{get, Inputs{"stage": "v1", "q": "patient/123 & more", "tag": "a+b"}},
		{get, Inputs{"stage": "a b:c@d", "q": "ü"}},
		{get, Inputs{"stage": "v1"}},
		{post, Inputs{"stage": "v1", "q": "x", "name": "Zoë"}},
	}
	for i, c := range cases {
		if status, body := awsCall(t, c.op, c.in); status != 200 {
			_, _, refused := up.seen()
			t.Errorf("call %d: %d %s: %s", i, status, body, refused[len(refused)-1])
		}
	}
	reqs, bodies, _ := up.seen()
	if len(reqs) != len(cases) {
		t.Fatalf("%d requests, want %d", len(reqs), len(cases))
	}
	if bodies[3] != `{"name":"Zoë"}` {
		t.Errorf("POST body %q", bodies[3])
	}
	for i, r := range reqs {
		if got := r.Header.Get("X-Amz-Security-Token"); got != awsTestToken {
			t.Errorf("request %d: X-Amz-Security-Token %q", i, got)
		}
		authz := r.Header.Get("Authorization")
		for _, h := range []string{"x-attempt", "x-api-version", "x-amz-security-token"} {
			if !strings.Contains(authz, h) {
				t.Errorf("request %d: %s not among the signed headers: %s", i, h, authz)
			}
		}
	}
	if reqs[1].URL.EscapedPath() != "/prod/stages/a%20b:c@d/items" {
		t.Errorf("escaped path %s", reqs[1].URL.EscapedPath())
	}
	checkNoSecretSent(t, reqs)
}

// S3 signs the path as sent, not escaped twice: a value that escapes
// verifies only with the S3 rule.
func TestAWSSigV4S3Path(t *testing.T) {
	s3 := awsVerify
	s3.service = "s3"
	up := newAWSUpstream(t, s3)
	op, _ := awsOp(t, "GET", "s3", false, up.URL, ClientOptions{})
	if status, body := awsCall(t, op, Inputs{"stage": "my file.txt"}); status != 200 {
		_, _, refused := up.seen()
		t.Fatalf("%d %s: %s", status, body, refused)
	}
}

// tamper changes each request after it was signed, as a proxy on the way
// could.
type tamper struct {
	rt     http.RoundTripper
	change func(*http.Request)
}

func (t tamper) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	t.change(r)
	return t.rt.RoundTrip(r)
}

// A request changed after signing (path, query, a signed header, the
// body) does not verify: the upstream answers 403.
func TestAWSSigV4TamperedRequestDoesNotVerify(t *testing.T) {
	cases := map[string]func(*http.Request){
		"untouched":     func(*http.Request) {},
		"path":          func(r *http.Request) { r.URL.Path, r.URL.RawPath = "/prod/stages/v2/items", "" },
		"query value":   func(r *http.Request) { r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "q=one", "q=two", 1) },
		"query added":   func(r *http.Request) { r.URL.RawQuery += "&admin=true" },
		"signed header": func(r *http.Request) { r.Header.Set("X-Api-Version", "2099-01-01") },
		"body":          func(r *http.Request) { r.Body = io.NopCloser(strings.NewReader(`{"name":"Eve"}`)) },
		"date": func(r *http.Request) {
			r.Header.Set("X-Amz-Date", time.Now().UTC().Add(time.Minute).Format(awsDateFormat))
		},
		"session token":   func(r *http.Request) { r.Header.Set("X-Amz-Security-Token", "stolen") },
		"unsigned header": func(r *http.Request) { r.Header.Set("User-Agent", "curl") }, // not signed: still verifies
	}
	for name, change := range cases {
		t.Run(name, func(t *testing.T) {
			up := newAWSUpstream(t, awsVerify)
			op, _ := awsOp(t, "POST", awsTestService, true, up.URL, ClientOptions{Transport: tamper{NewTransport(), change}})
			status, body := awsCall(t, op, Inputs{"stage": "v1", "q": "one", "name": "Ann"})
			_, _, refused := up.seen()
			want := http.StatusForbidden
			if name == "untouched" || name == "unsigned header" {
				want = http.StatusOK
			}
			if status != want {
				t.Errorf("%d %s, want %d (%v)", status, body, want, refused)
			}
		})
	}
}

// A retried attempt is built and signed again, with its own X-Amz-Date:
// the clock moves a minute per signature here, and both attempts verify.
func TestAWSSigV4RetrySignsEachAttempt(t *testing.T) {
	up := newAWSUpstream(t, awsVerify, http.StatusServiceUnavailable)
	w := &watcher{}
	op, cl := awsOp(t, "GET", awsTestService, false, up.URL, ClientOptions{Observer: w})
	signer := cl.auth.(*awsSigV4)
	var mu sync.Mutex
	clock := time.Now().Add(-5 * time.Minute)
	signer.now = func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		clock = clock.Add(time.Minute)
		return clock
	}
	if status, body := awsCall(t, op, Inputs{"stage": "v1", "q": "x"}); status != 200 {
		t.Fatalf("%d %s", status, body)
	}
	reqs, _, refused := up.seen()
	if len(reqs) != 2 {
		t.Fatalf("%d attempts, want 2", len(reqs))
	}
	for i, reason := range refused {
		if reason != "" {
			t.Errorf("attempt %d does not verify: %s", i+1, reason)
		}
	}
	d1, d2 := reqs[0].Header.Get("X-Amz-Date"), reqs[1].Header.Get("X-Amz-Date")
	if d1 == d2 || d1 == "" {
		t.Errorf("X-Amz-Date %q then %q: the retry must be signed anew", d1, d2)
	}
	if a1, a2 := reqs[0].Header.Get("X-Attempt"), reqs[1].Header.Get("X-Attempt"); a1 == a2 {
		t.Errorf("both attempts carry X-Attempt %s", a1)
	}
	if _, retries, _, _ := w.seen(); retries != 1 {
		t.Errorf("%d retries", retries)
	}
}

// unsized hides a reader's length, as a caller's streamed body has none.
type unsized struct{ io.Reader }

// Forwarded requests (a caller's body of unknown length, the caller's
// trusted headers) and followed links are signed too.
func TestAWSSigV4ForwardAndFollow(t *testing.T) {
	up := newAWSUpstream(t, awsVerify)
	_, cl := awsOp(t, "GET", awsTestService, false, up.URL, ClientOptions{})
	header := http.Header{"Content-Type": {"application/json"}, "X-Request-Id": {"r-1"}}
	payload := `{"resourceType":"Parameters","parameter":[{"name":"x","valueString":"y z"}]}`
	resp, err := cl.Forward(context.Background(), http.MethodPost, "stages/v1/a%20b/%24export", "_type=Patient,Observation&_since=2024-01-01T00:00:00Z", header, unsized{strings.NewReader(payload)})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("forward: %d", resp.StatusCode)
	}
	if header.Get("Authorization") != "" || header.Get("X-Amz-Date") != "" {
		t.Error("signing wrote into the caller's header map")
	}
	resp, err = cl.Follow(context.Background(), http.MethodGet, up.URL+"/prod/stages/v1/items?page=2&cursor=a%2Fb%3D%3D", http.Header{"Accept": {"application/json"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("follow: %d", resp.StatusCode)
	}
	reqs, bodies, refused := up.seen()
	if len(reqs) != 2 {
		t.Fatalf("%d requests", len(reqs))
	}
	for i, reason := range refused {
		if reason != "" {
			t.Errorf("request %d does not verify: %s", i, reason)
		}
	}
	if bodies[0] != payload || reqs[0].ContentLength != int64(len(payload)) {
		t.Errorf("forwarded body %q (Content-Length %d)", bodies[0], reqs[0].ContentLength)
	}
	if !strings.Contains(reqs[0].Header.Get("Authorization"), "x-request-id") {
		t.Errorf("the forwarded header is not signed: %s", reqs[0].Header.Get("Authorization"))
	}
	checkNoSecretSent(t, reqs)
}

// A forwarded body larger than the gateway signs is refused as the
// caller's, and nothing reaches the upstream.
func TestAWSSigV4BodyTooLarge(t *testing.T) {
	up := newAWSUpstream(t, awsVerify)
	_, cl := awsOp(t, "GET", awsTestService, false, up.URL, ClientOptions{})
	big := unsized{io.LimitReader(neverEnding('x'), maxSignedBody+1)}
	_, err := cl.Forward(context.Background(), http.MethodPut, "stages/v1/blob", "", http.Header{}, big)
	if !fault.Of(err, fault.TooLarge) {
		t.Errorf("err = %v, want TooLarge", err)
	}
	if reqs, _, _ := up.seen(); len(reqs) != 0 {
		t.Errorf("%d requests reached the upstream", len(reqs))
	}
}

type neverEnding byte

func (b neverEnding) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(b)
	}
	return len(p), nil
}

// The secret key and the session token are secrets of the client, masked
// wherever the capability's secrets are; the key id, region and service
// are not.
func TestAWSSigV4Secrets(t *testing.T) {
	secrets := redact.New()
	awsOp(t, "GET", awsTestService, false, "http://127.0.0.1:1", ClientOptions{Secrets: secrets})
	text := "secret=" + awsTestSecret + " token=" + awsTestToken + " id=" + awsTestKeyID + " " + awsTestRegion + " " + awsTestService
	got := secrets.String(text)
	if strings.Contains(got, awsTestSecret) || strings.Contains(got, awsTestToken) {
		t.Errorf("not masked: %s", got)
	}
	for _, keep := range []string{awsTestKeyID, awsTestRegion, awsTestService} {
		if !strings.Contains(got, keep) {
			t.Errorf("%s masked: %s", keep, got)
		}
	}
}

// Missing fields and values stop the client at start-up, naming the field
// and what to set.
func TestAWSSigV4StartupErrors(t *testing.T) {
	cases := []struct {
		auth string
		env  map[string]string
		want []string
	}{
		{`{type: aws-sig-v4, accessKeyId: '{{AWS_ACCESS_KEY_ID}}', secretKey: '{{AWS_SECRET_ACCESS_KEY}}', service: s3}`, awsEnv,
			[]string{"`region`", "AWS_REGION"}},
		{`{type: aws-sig-v4, accessKeyId: '{{AWS_ACCESS_KEY_ID}}', secretKey: '{{AWS_SECRET_ACCESS_KEY}}', region: '{{AWS_REGION}}', service: s3}`,
			map[string]string{"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "x-secret"},
			[]string{"`region`", "set the environment variable AWS_REGION"}},
		{`{type: aws-sig-v4, accessKeyId: '{{AWS_ACCESS_KEY_ID}}', secretKey: '{{MY_AWS_SECRET}}', region: eu-west-1, service: s3}`, awsEnv,
			[]string{"`secretKey`", "set the environment variable MY_AWS_SECRET"}},
		{`{type: aws-sig-v4, secretKey: '{{AWS_SECRET_ACCESS_KEY}}', region: eu-west-1, service: s3}`, awsEnv,
			[]string{"`accessKeyId`", "AWS_ACCESS_KEY_ID"}},
		{`{type: aws-sig-v4, accessKeyId: '{{AWS_ACCESS_KEY_ID}}', secretKey: '{{AWS_SECRET_ACCESS_KEY}}', region: eu-west-1}`, awsEnv,
			[]string{"`service`", "execute-api"}},
		{`{type: aws-sig-v4, accessKeyId: '{{AWS_ACCESS_KEY_ID}}', secretKey: '{{AWS_SECRET_ACCESS_KEY}}', region: ' ', service: s3}`, awsEnv,
			[]string{"`region`"}},
	}
	for i, c := range cases {
		doc, diags := spec.Parse("aws.yaml", []byte(`naftiko: 1.0.0-alpha2
capability:
  consumes:
  - type: http
    namespace: gw
    baseUri: https://example.invalid
    authentication: `+c.auth+`
    resources:
    - {name: r, path: /r, operations: [{name: op, method: GET}]}
`))
		if doc == nil || diags.HasErrors() {
			t.Fatalf("case %d: parse: %v", i, diags)
		}
		_, err := NewClient(&doc.Capability.Consumes[0], ClientOptions{}, func(n string) (string, bool) {
			v, ok := c.env[n]
			return v, ok
		})
		if err == nil {
			t.Errorf("case %d: no error", i)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("case %d: %q does not say %q", i, err, w)
			}
		}
		if strings.Contains(err.Error(), awsTestSecret) {
			t.Errorf("case %d: the error quotes the secret", i)
		}
	}
}
