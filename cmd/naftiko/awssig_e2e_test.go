package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/naftiko/naftiko/spec/spectest"
)

// AWS Signature Version 4 through the binary: a capability whose consumes
// block signs with `aws-sig-v4`, served on REST, against an upstream that
// checks every signature as AWS does and answers 403 when one does not
// verify.

const (
	awsE2EKeyID   = "AKIDEXAMPLE"
	awsE2ESecret  = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	awsE2EToken   = "FwoGZXIvYXdzEXAMPLE-session-token"
	awsE2ERegion  = "eu-central-1"
	awsE2EService = "apigateway"
)

const awsCapability = `naftiko: 1.0.0-alpha2
info:
  label: API Gateway inventory
  description: Lists the account's API Gateway REST APIs and exports their OpenAPI documents.
binds:
- namespace: aws-env
  description: AWS credentials with API Gateway read permissions.
  keys: {AWS_ACCESS_KEY_ID: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN: AWS_SESSION_TOKEN, AWS_REGION: AWS_REGION}
capability:
  consumes:
  - namespace: apigateway
    type: http
    baseUri: https://apigateway.{{AWS_REGION}}.amazonaws.com
    authentication: {type: aws-sig-v4, accessKeyId: '{{AWS_ACCESS_KEY_ID}}', secretKey: '{{AWS_SECRET_ACCESS_KEY}}',
      sessionToken: '{{AWS_SESSION_TOKEN}}', region: '{{AWS_REGION}}', service: apigateway}
    resources:
    - name: rest-apis
      path: /restapis
      operations:
      - name: list-rest-apis
        method: GET
        inputParameters:
        - {name: limit, in: query}
    - name: rest-api-export
      path: /restapis/{{rest_api_id}}/stages/{{stage_name}}/exports/oas30
      operations:
      - name: export-rest-api
        method: GET
        inputParameters:
        - {name: rest_api_id, in: path}
        - {name: stage_name, in: path}
        - {name: extensions, in: query}
    - name: tags
      path: /tags/{{resource_arn}}
      operations:
      - name: tag-resource
        method: PUT
        inputParameters:
        - {name: resource_arn, in: path}
        - {name: tags, in: body}
  exposes:
  - type: rest
    namespace: inventory-rest
    port: 8080
    resources:
    - path: /gateway-specs
      operations:
      - method: GET
        call: apigateway.list-rest-apis
        with:
          limit: inventory-rest.limit
    - path: /gateway-specs/{id}/{stage}
      operations:
      - method: GET
        call: apigateway.export-rest-api
        with:
          rest_api_id: inventory-rest.id
          stage_name: inventory-rest.stage
          extensions: inventory-rest.extensions
    - path: /tags/{arn}
      operations:
      - method: PUT
        call: apigateway.tag-resource
        inputParameters:
        - {name: tags, in: body, type: object, description: The tags to set.}
        with:
          resource_arn: inventory-rest.arn
          tags: inventory-rest.tags
`

// awsFake is an API Gateway stand-in: every request's signature is checked
// by recomputing it with the SDK's signer from the request received (the
// same credentials, the X-Amz-Date it carries, the SHA-256 of the body it
// carries); one that does not verify gets AWS's 403.
type awsFake struct {
	*httptest.Server
	mu       sync.Mutex
	verified []string // request line of each request that verified
	refused  []string // why each other one did not
	headers  []http.Header
}

func newAWSFake(t *testing.T) *awsFake {
	f := &awsFake{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		err := awsVerifyRequest(r, body)
		f.mu.Lock()
		f.headers = append(f.headers, r.Header.Clone())
		if err != nil {
			f.refused = append(f.refused, err.Error())
		} else {
			f.verified = append(f.verified, r.Method+" "+r.URL.RequestURI()+" "+string(body))
		}
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			w.Header().Set("X-Amzn-Errortype", "InvalidSignatureException")
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, `{"message":"The request signature we calculated does not match the signature you provided."}`)
			return
		}
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/restapis":
			io.WriteString(w, `{"item":[{"id":"a1b2c3","name":"orders"},{"id":"d4e5f6","name":"billing"}]}`)
		case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/exports/oas30"):
			io.WriteString(w, `{"openapi":"3.0.1","info":{"title":"orders"}}`)
		case r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/tags/"):
			io.WriteString(w, `{"tags":{"team":"payments"}}`)
		default:
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"message":"no such resource"}`)
		}
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *awsFake) seen() (verified, refused []string, headers []http.Header) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.verified...), append([]string(nil), f.refused...), append([]http.Header(nil), f.headers...)
}

func awsVerifyRequest(r *http.Request, body []byte) error {
	authz := r.Header.Get("Authorization")
	if !strings.HasPrefix(authz, "AWS4-HMAC-SHA256 ") {
		return fmt.Errorf("not signed: Authorization %q", authz)
	}
	at, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return fmt.Errorf("X-Amz-Date: %v", err)
	}
	if skew := time.Since(at); skew > 15*time.Minute || skew < -15*time.Minute {
		return fmt.Errorf("X-Amz-Date is %s off", skew)
	}
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	if got := r.Header.Get("X-Amz-Content-Sha256"); got != hash {
		return fmt.Errorf("X-Amz-Content-Sha256 %q is not the body's hash %s", got, hash)
	}
	if got := r.Header.Get("X-Amz-Security-Token"); got != awsE2EToken {
		return fmt.Errorf("X-Amz-Security-Token %q", got)
	}
	_, signedList, _ := strings.Cut(authz, "SignedHeaders=")
	signedList, _, _ = strings.Cut(signedList, ",")
	again, err := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return err
	}
	again.Header = http.Header{}
	for _, h := range strings.Split(signedList, ";") {
		switch h {
		case "host", "content-length", "x-amz-date", "x-amz-security-token":
		default:
			again.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
		}
	}
	creds := aws.Credentials{AccessKeyID: awsE2EKeyID, SecretAccessKey: awsE2ESecret, SessionToken: awsE2EToken}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, again, hash, awsE2EService, awsE2ERegion, at); err != nil {
		return err
	}
	if want := again.Header.Get("Authorization"); want != authz {
		return fmt.Errorf("signature does not verify:\n  got  %s\n  want %s", authz, want)
	}
	return nil
}

func awsEnvFor(secret string) []string {
	return []string{"AWS_ACCESS_KEY_ID=" + awsE2EKeyID, "AWS_SECRET_ACCESS_KEY=" + secret,
		"AWS_SESSION_TOKEN=" + awsE2EToken, "AWS_REGION=" + awsE2ERegion}
}

func writeAWSCapability(t *testing.T) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "api-gateway-inventory.yaml")
	if err := os.WriteFile(file, []byte(awsCapability), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// Every route's upstream request is signed and verifies; the route
// answers 200 with what the upstream said; the secret key and the session
// token never appear in a log line, an answer or a header sent upstream
// other than the token's own.
func TestAWSSigV4ThroughTheBinary(t *testing.T) {
	up := newAWSFake(t)
	file := writeAWSCapability(t)
	if out, err := exec.Command(naftikoBin, "validate", file).CombinedOutput(); err != nil {
		t.Fatalf("validate refuses the aws-sig-v4 capability: %v\n%s", err, out)
	}
	p := startNaftiko(t, awsEnvFor(awsE2ESecret), "run", "--upstream", "apigateway="+up.URL,
		"--listen", "inventory-rest=127.0.0.1:0", file)
	rest := origin(t, p.waitListening(t, 1)["inventory-rest"])

	resp, body := get(t, rest+"/gateway-specs?limit=25")
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"a1b2c3"`) {
		t.Errorf("GET /gateway-specs: %d %s", resp.StatusCode, body)
	}
	resp, body = get(t, rest+"/gateway-specs/a1b2c3/prod%20v2?extensions=apigateway,postman")
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"openapi"`) {
		t.Errorf("GET export: %d %s", resp.StatusCode, body)
	}
	req, _ := http.NewRequest(http.MethodPut, rest+"/tags/arn:aws:apigateway:eu-central-1::%2Frestapis%2Fa1b2c3",
		strings.NewReader(`{"tags":{"team":"payments","cost-center":"42"}}`))
	req.Header.Set("Content-Type", "application/json")
	presp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	pbody, _ := io.ReadAll(presp.Body)
	presp.Body.Close()
	if presp.StatusCode != http.StatusOK {
		t.Errorf("PUT /tags: %d %s", presp.StatusCode, pbody)
	}

	verified, refused, headers := up.seen()
	if len(refused) > 0 {
		t.Errorf("requests the upstream refused:\n  %s", strings.Join(refused, "\n  "))
	}
	if len(verified) != 3 {
		t.Errorf("%d requests verified, want 3: %v", len(verified), verified)
	}
	for _, v := range verified {
		t.Logf("verified: %s", v)
	}
	if len(verified) == 3 && !strings.Contains(verified[2], `"team":"payments"`) {
		t.Errorf("PUT body not sent: %s", verified[2])
	}
	for _, h := range headers {
		for k, vs := range h {
			for _, v := range vs {
				if strings.Contains(v, awsE2ESecret) {
					t.Errorf("header %s sent upstream carries the secret key", k)
				}
			}
		}
	}
	for _, b := range [][]byte{body, pbody} {
		if bytes.Contains(b, []byte(awsE2ESecret)) || bytes.Contains(b, []byte(awsE2EToken)) {
			t.Errorf("an answer carries a credential: %s", b)
		}
	}
	if log := p.stderr.String(); strings.Contains(log, awsE2ESecret) || strings.Contains(log, awsE2EToken) {
		t.Errorf("naftiko's log carries a credential:\n%s", log)
	}
}

// With the wrong secret key the fake refuses the signature (403): it does
// check, so the 200s above mean the signatures verified.
func TestAWSSigV4WrongSecretIsRefused(t *testing.T) {
	up := newAWSFake(t)
	file := writeAWSCapability(t)
	p := startNaftiko(t, awsEnvFor("not-the-secret-key-of-AKIDEXAMPLE"), "run", "--upstream", "apigateway="+up.URL,
		"--listen", "inventory-rest=127.0.0.1:0", file)
	rest := origin(t, p.waitListening(t, 1)["inventory-rest"])
	resp, body := get(t, rest+"/gateway-specs?limit=25")
	if resp.StatusCode == http.StatusOK {
		t.Errorf("a bad signature answered 200: %s", body)
	}
	verified, refused, _ := up.seen()
	if len(verified) != 0 || len(refused) != 1 || !strings.Contains(refused[0], "does not verify") {
		t.Errorf("verified %v, refused %v", verified, refused)
	}
}

// A missing region stops naftiko at start-up, naming the variable to set.
func TestAWSSigV4MissingRegion(t *testing.T) {
	file := writeAWSCapability(t)
	env := awsEnvFor(awsE2ESecret)[:3]
	cmd := exec.Command(naftikoBin, "run", "--upstream", "apigateway=http://127.0.0.1:1", "--listen", "inventory-rest=127.0.0.1:0", file)
	cmd.Env = append(os.Environ(), env...)
	cmd.Env = append(cmd.Env, "AWS_REGION=")
	out, err := runWithTimeout(cmd, 15*time.Second)
	if err == nil {
		t.Fatalf("naftiko ran without AWS_REGION:\n%s", out)
	}
	if !strings.Contains(out, "AWS_REGION") {
		t.Errorf("the error does not name AWS_REGION:\n%s", out)
	}
	if strings.Contains(out, awsE2ESecret) {
		t.Errorf("the error shows the secret key:\n%s", out)
	}
}

func runWithTimeout(cmd *exec.Cmd, limit time.Duration) (string, error) {
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Start(); err != nil {
		return "", err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return buf.String(), err
	case <-time.After(limit):
		cmd.Process.Kill()
		<-done
		return buf.String(), nil
	}
}

// The real file that uses aws-sig-v4 validates: warnings (deviations
// from the official schema, aws-sig-v4 among them), no error.
func TestAWSSigV4CorpusFileValidates(t *testing.T) {
	path := filepath.Join(spectest.SharedDir(t), "corpus", "third-party", "naftiko__aws-api-gateway-openapi-crawl-capability.yaml")
	out, err := exec.Command(naftikoBin, "validate", "--format", "json", path).Output()
	if err != nil {
		t.Fatalf("validate: %v\n%s", err, out)
	}
	var res struct {
		Files []struct {
			Valid       bool `json:"valid"`
			Diagnostics []struct {
				Severity, Rule, Message string
			} `json:"diagnostics"`
		} `json:"files"`
	}
	if err := json.Unmarshal(out, &res); err != nil || len(res.Files) != 1 {
		t.Fatalf("%v: %s", err, out)
	}
	f := res.Files[0]
	if !f.Valid {
		t.Errorf("the corpus file does not validate: %s", out)
	}
	warned := false
	for _, d := range f.Diagnostics {
		if d.Severity == "error" {
			t.Errorf("error: %s [%s]", d.Message, d.Rule)
		}
		if d.Rule == "aws-sig-v4-outside-schema" {
			warned = true
		}
	}
	if !warned {
		t.Errorf("no aws-sig-v4-outside-schema warning: %s", out)
	}
}
