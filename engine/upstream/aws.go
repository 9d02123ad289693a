package upstream

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/naftiko/naftiko/engine/fault"
	"github.com/naftiko/naftiko/engine/redact"
	"github.com/naftiko/naftiko/engine/template"
	"github.com/naftiko/naftiko/spec"
)

// AWS Signature Version 4 (`type: aws-sig-v4`). The canonicalisation and
// HMAC chain are the AWS SDK's signer, not ours: a signature that differs
// from what AWS computes by one byte is a 403.
//
// Every attempt is signed as it is sent (after the trace headers, on each
// retry, with its own X-Amz-Date), over the SHA-256 of its body, which is
// read and put back.

// maxSignedBody bounds a body the gateway reads to hash it (a forwarded
// body; naftiko's own are small). It matches what REST accepts of a caller.
const maxSignedBody = 10 << 20

const emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

type awsSigV4 struct {
	namespace       string
	creds           aws.Credentials
	region, service string
	signer          *v4.Signer
	now             func() time.Time
}

// awsEnvHint is the variable each field is conventionally bound to.
var awsEnvHint = map[string]string{
	"accessKeyId":  "AWS_ACCESS_KEY_ID",
	"secretKey":    "AWS_SECRET_ACCESS_KEY",
	"sessionToken": "AWS_SESSION_TOKEN",
	"region":       "AWS_REGION",
}

var screamingName = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)

func newAWSSigV4(namespace string, a *spec.Authentication, static StaticResolver, secrets *redact.Set) (*awsSigV4, error) {
	field := func(name, s string, secret, required bool) (string, error) {
		if strings.TrimSpace(s) == "" {
			if !required {
				return "", nil
			}
			if env := awsEnvHint[name]; env != "" {
				return "", fmt.Errorf("aws-sig-v4 authentication has no `%s`: write %s: '{{%s}}' and set the environment variable %s", name, name, env, env)
			}
			return "", fmt.Errorf("aws-sig-v4 authentication has no `%s`: name the AWS service the requests are signed for (its signing name, e.g. execute-api, apigateway, s3)", name)
		}
		t := template.Compile(s, false).Bind(static)
		if !t.IsStatic() {
			ref := t.Refs()[0]
			if screamingName.MatchString(ref) {
				return "", fmt.Errorf("aws-sig-v4 authentication `%s` needs a value for %s: set the environment variable %s", name, ref, ref)
			}
			return "", fmt.Errorf("aws-sig-v4 authentication `%s` needs a value for %s, which is not a start-up value: write a bind variable or an environment variable such as '{{%s}}'", name, ref, cmp.Or(awsEnvHint[name], spec.EnvName(ref)))
		}
		v, err := t.Expand(nil, nil)
		if err != nil {
			return "", fmt.Errorf("aws-sig-v4 authentication `%s`: %w", name, err)
		}
		v = strings.TrimSpace(v)
		if v == "" && required {
			return "", fmt.Errorf("aws-sig-v4 authentication `%s` is empty (%s)", name, strings.TrimSpace(s))
		}
		if secret {
			secrets.Add(v)
		}
		return v, nil
	}
	s := &awsSigV4{namespace: namespace, now: time.Now}
	var err error
	if s.creds.AccessKeyID, err = field("accessKeyId", a.AccessKeyID, false, true); err != nil {
		return nil, err
	}
	if s.creds.SecretAccessKey, err = field("secretKey", a.SecretKey, true, true); err != nil {
		return nil, err
	}
	if s.creds.SessionToken, err = field("sessionToken", a.SessionToken, true, false); err != nil {
		return nil, err
	}
	if s.region, err = field("region", a.Region, false, true); err != nil {
		return nil, err
	}
	if s.service, err = field("service", a.Service, false, true); err != nil {
		return nil, err
	}
	s.creds.Source = "naftiko capability"
	// S3 signs the path as sent; every other service signs it escaped again.
	s3 := s.service == "s3" || strings.HasPrefix(s.service, "s3-")
	s.signer = v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = s3 })
	return s, nil
}

// prepare reads the request's body, puts it back replayable and records its
// SHA-256 in X-Amz-Content-Sha256 (a signed header S3 requires and other
// services accept). It runs once per attempt, before the attempt is sent.
func (s *awsSigV4) prepare(req *http.Request) error {
	// A forwarded request's header map is the caller's; sign a copy.
	req.Header = req.Header.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	hash := emptyPayloadHash
	if req.Body != nil && req.Body != http.NoBody {
		data, err := io.ReadAll(io.LimitReader(req.Body, maxSignedBody+1))
		req.Body.Close()
		if err != nil {
			return fault.Wrap(fault.BadInput, err, "the request body could not be read")
		}
		if len(data) > maxSignedBody {
			return fault.New(fault.TooLarge, "the request body is larger than %d MiB, the most the gateway signs for the %s upstream", maxSignedBody>>20, s.namespace)
		}
		sum := sha256.Sum256(data)
		hash = hex.EncodeToString(sum[:])
		if len(data) == 0 {
			req.Body, req.GetBody = http.NoBody, nil
		} else {
			req.Body = io.NopCloser(bytes.NewReader(data))
			req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
		}
		req.ContentLength = int64(len(data))
	}
	req.Header.Set("X-Amz-Content-Sha256", hash)
	return nil
}

// do signs the request as it goes out: every header is set by now.
func (s *awsSigV4) do(ctx context.Context, hc *http.Client, req *http.Request) (*http.Response, error) {
	hash := req.Header.Get("X-Amz-Content-Sha256")
	if hash == "" {
		// Not prepared (a request built outside doWatched): prepare it now.
		if err := s.prepare(req); err != nil {
			return nil, err
		}
		hash = req.Header.Get("X-Amz-Content-Sha256")
	}
	if err := s.signer.SignHTTP(ctx, s.creds, req, hash, s.service, s.region, s.now()); err != nil {
		return nil, fmt.Errorf("aws-sig-v4: sign the request: %w", err)
	}
	return hc.Do(req)
}
