package oauth1

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestConsumerMethods(t *testing.T) {
	k := &testKey().PublicKey
	tests := []struct {
		c    *Consumer
		want string
	}{
		{&Consumer{PublicKey: k}, "RSA-SHA1"},
		{&Consumer{Secret: "s"}, "HMAC-SHA1"},
		{&Consumer{PublicKey: k, Secret: "s"}, "RSA-SHA1,HMAC-SHA1"},
		{&Consumer{}, ""},
	}
	for _, tt := range tests {
		if got := strings.Join(tt.c.Methods(), ","); got != tt.want {
			t.Errorf("Methods() = %q, want %q", got, tt.want)
		}
	}
}

func TestParamClassifiers(t *testing.T) {
	for k, want := range map[string]bool{"oauth_token": true, "oauth_": true, "oauth": false, "xoauth_requestor_id": false, "OAUTH_token": false} {
		if IsOAuthParam(k) != want {
			t.Errorf("IsOAuthParam(%q) = %v", k, !want)
		}
	}
	for k, want := range map[string]bool{"xoauth_requestor_id": true, "user_id": true, "userid": false, "oauth_requestor_id": false} {
		if IsRequestorParam(k) != want {
			t.Errorf("IsRequestorParam(%q) = %v", k, !want)
		}
	}
}

func TestVerifyAccepts(t *testing.T) {
	tests := []struct {
		name     string
		s        spec
		edit     func(r *Request)
		mode     Mode
		user     string
		consumer string
		loc      Location
	}{
		{
			name: "2LO, Atlassian style: oauth_token=\"\" in the header",
			s:    spec{query: "jql=project%20%3D%20ABC&maxResults=50&expand=names&expand=schema"},
			mode: Mode2LO, user: "sysadmin", consumer: "jira:rsa", loc: InHeader,
		},
		{
			name: "2LO, oauthlib style: oauth_token absent",
			s:    spec{noToken: true, extra: []Param{{"oauth_version", "1.0"}}},
			mode: Mode2LO, user: "sysadmin", consumer: "jira:rsa", loc: InHeader,
		},
		{
			name: "2LO with realm in the header (not signed)",
			s:    spec{realm: "https://jira.example.com/jira"},
			mode: Mode2LO, user: "sysadmin", consumer: "jira:rsa", loc: InHeader,
		},
		{
			name: "impersonation, xoauth_requestor_id in the query",
			s:    spec{query: "issueKey=ABC-1&xoauth_requestor_id=alice%40example.com"},
			mode: ModeImpersonation, user: "alice@example.com", consumer: "jira:rsa", loc: InHeader,
		},
		{
			name: "impersonation, + in the query is a space",
			s:    spec{query: "xoauth_requestor_id=J%C3%BCrgen+Schmidt"},
			mode: ModeImpersonation, user: "Jürgen Schmidt", consumer: "jira:rsa", loc: InHeader,
		},
		{
			name: "impersonation with the deprecated user_id",
			s:    spec{query: "user_id=bob"},
			mode: ModeImpersonation, user: "bob", consumer: "jira:rsa", loc: InHeader,
		},
		{
			name: "impersonation, xoauth_requestor_id in the form",
			s:    spec{method: "POST", path: "/jira/rest/api/2/issue/ABC-1/comment", form: "body=hello+world&xoauth_requestor_id=carol"},
			mode: ModeImpersonation, user: "carol", consumer: "jira:rsa", loc: InHeader,
		},
		{
			name: "OAuth parameters in the query",
			s:    spec{loc: InQuery, query: "a=1&a=2"},
			mode: Mode2LO, user: "sysadmin", consumer: "jira:rsa", loc: InQuery,
		},
		{
			name: "OAuth parameters in the form",
			s:    spec{method: "POST", loc: InForm, form: "a=1&b=x+y"},
			mode: Mode2LO, user: "sysadmin", consumer: "jira:rsa", loc: InForm,
		},
		{
			name: "OAuth parameters and requestor in the query",
			s:    spec{loc: InQuery, query: "xoauth_requestor_id=dave"},
			mode: ModeImpersonation, user: "dave", consumer: "jira:rsa", loc: InQuery,
		},
		{
			name: "HMAC-SHA1 consumer",
			s:    spec{consumer: "hmac-client", sigMethod: HMACSHA1, query: "x=%7E"},
			mode: Mode2LO, user: "bot", consumer: "hmac-client", loc: InHeader,
		},
		{
			name: "oauth_version 1.0",
			s:    spec{extra: []Param{{"oauth_version", "1.0"}}},
			mode: Mode2LO, user: "sysadmin", consumer: "jira:rsa", loc: InHeader,
		},
		{
			name: "query reordered after signing",
			s:    spec{query: "a=1&b=2&a=3"},
			edit: func(r *Request) { r.RawQuery = "b=2&a=3&a=1" },
			mode: Mode2LO, user: "sysadmin", consumer: "jira:rsa", loc: InHeader,
		},
		{
			name: "query re-encoded equivalently after signing",
			s:    spec{query: "q=a%20b&r=%7e"},
			edit: func(r *Request) { r.RawQuery = "q=a+b&r=~" },
			mode: Mode2LO, user: "sysadmin", consumer: "jira:rsa", loc: InHeader,
		},
		{
			name: "header reformatted after signing",
			s:    spec{},
			edit: func(r *Request) {
				r.Authorization[0] = "oauth   " + strings.ReplaceAll(strings.TrimPrefix(r.Authorization[0], "OAuth "), ", ", " ,\t")
			},
			mode: Mode2LO, user: "sysadmin", consumer: "jira:rsa", loc: InHeader,
		},
		{
			name: "context path stripped by a load balancer",
			s:    spec{path: "/rest/api/2/myself", signURL: "https://jira.example.com/jira/rest/api/2/myself"},
			mode: Mode2LO, user: "sysadmin", consumer: "jira:rsa", loc: InHeader,
		},
		{
			name: "signed against a non-normalised URL",
			s:    spec{path: "/jira/x", signURL: "https://jira.example.com/jira/x"},
			mode: Mode2LO, user: "sysadmin", consumer: "jira:rsa", loc: InHeader,
		},
		{
			name: "lower-case method",
			s:    spec{method: "GET"},
			edit: func(r *Request) { r.Method = "get" },
			mode: Mode2LO, user: "sysadmin", consumer: "jira:rsa", loc: InHeader,
		},
		{
			name: "other Authorization headers are ignored",
			s:    spec{},
			edit: func(r *Request) { r.Authorization = append([]string{"Basic dXNlcjpwYXNz"}, r.Authorization...) },
			mode: Mode2LO, user: "sysadmin", consumer: "jira:rsa", loc: InHeader,
		},
		{
			name: "timestamp at the past edge of the window",
			s:    spec{ts: strconv.Itoa(testNow - 300)},
			mode: Mode2LO, user: "sysadmin", consumer: "jira:rsa", loc: InHeader,
		},
		{
			name: "timestamp at the future edge of the window",
			s:    spec{ts: strconv.Itoa(testNow + 300)},
			mode: Mode2LO, user: "sysadmin", consumer: "jira:rsa", loc: InHeader,
		},
		{
			name: "2LO-only consumer",
			s:    spec{consumer: "rsa-2lo-only"},
			mode: Mode2LO, user: "builder", consumer: "rsa-2lo-only", loc: InHeader,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, st := newTestVerifier(t)
			r := sign(t, tt.s)
			if tt.edit != nil {
				tt.edit(r)
			}
			res, p := v.Verify(context.Background(), r)
			if p != nil {
				t.Fatalf("Verify: %v (status %d)\nrequest %+v", p, p.HTTPStatus(), r)
			}
			if res.Mode != tt.mode || res.User != tt.user || res.Location != tt.loc {
				t.Errorf("got mode %q user %q loc %v, want %q %q %v", res.Mode, res.User, res.Location, tt.mode, tt.user, tt.loc)
			}
			if res.Consumer == nil || res.Consumer.Key != tt.consumer {
				t.Errorf("consumer %+v, want %q", res.Consumer, tt.consumer)
			}
			if st.len() != 1 {
				t.Errorf("%d nonces recorded, want 1", st.len())
			}
		})
	}
}

func TestVerifyWikiVectorEndToEnd(t *testing.T) {
	// The OAuth wiki RSA-SHA1 request, as sent with the parameters in the
	// query, verifies as 2LO (no oauth_token: oauthlib style).
	_, pub := wikiKeys(t)
	base, _ := ParseBaseURL("http://photos.example.net")
	st := newFakeStore()
	v := &Verifier{
		BaseURL: base,
		Consumers: func(k string) *Consumer {
			if k == "dpf43f3p2l4k3l03" {
				return &Consumer{Key: k, PublicKey: pub, TwoLeggedUser: "photos"}
			}
			return nil
		},
		Nonces: st,
		Now:    func() time.Time { return time.Unix(1196666512+42, 0) },
	}
	r := &Request{
		Method:  "GET",
		RawPath: "/photos",
		RawQuery: "file=vacaction.jpg&size=original&oauth_consumer_key=dpf43f3p2l4k3l03" +
			"&oauth_signature_method=RSA-SHA1&oauth_timestamp=1196666512" +
			"&oauth_nonce=13917289812797014437&oauth_version=1.0&oauth_signature=" + PercentEncode(wikiSignature),
	}
	res, p := v.Verify(context.Background(), r)
	if p != nil {
		t.Fatalf("Verify: %v", p)
	}
	if res.Mode != Mode2LO || res.User != "photos" || res.Location != InQuery {
		t.Errorf("result %+v", res)
	}
	// The nonce store gets the stamp its key holds, to file it by.
	if st.seens.Load() != 1 || st.records.Load() != 1 || st.stamp.Load() != 1196666512 {
		t.Errorf("nonce store: %d Seen, %d Record, stamp %d; want 1, 1, 1196666512", st.seens.Load(), st.records.Load(), st.stamp.Load())
	}
	// The same with "vacation" spelt right no longer verifies.
	r.RawQuery = strings.Replace(r.RawQuery, "vacaction", "vacation", 1)
	r.RawQuery = strings.Replace(r.RawQuery, "oauth_nonce=1", "oauth_nonce=2", 1)
	if _, p := v.Verify(context.Background(), r); p == nil || p.Code != SignatureInvalid {
		t.Errorf("tampered wiki request: %v", p)
	}
}

// refusal is what a refused request must produce.
type refusal struct {
	code   string
	status int
	params map[string]string // extra problem params, exact values
}

func TestVerifyRefuses(t *testing.T) {
	now := strconv.Itoa(testNow)
	window := fmt.Sprintf("%d-%d", testNow-300, testNow+300)
	tests := []struct {
		name string
		s    spec
		edit func(r *Request)
		want refusal
	}{
		{"unknown consumer", spec{consumer: "nobody"}, nil,
			refusal{ConsumerKeyUnknown, 401, nil}},
		{"unknown consumer, HMAC", spec{consumer: "nobody", sigMethod: HMACSHA1}, nil,
			refusal{ConsumerKeyUnknown, 401, nil}},
		{"unknown consumer, PLAINTEXT", spec{consumer: "nobody", sigMethod: "PLAINTEXT"}, nil,
			refusal{ConsumerKeyUnknown, 401, nil}},
		{"unknown consumer, bad base64", spec{consumer: "nobody"},
			func(r *Request) { setHeaderParam(r, "oauth_signature", "!!!") },
			refusal{ConsumerKeyUnknown, 401, nil}},
		{"wrong key", spec{key: otherKey()}, nil,
			refusal{SignatureInvalid, 401, nil}},
		{"HMAC with the wrong secret", spec{consumer: "hmac-client", sigMethod: HMACSHA1, secret: ptr("nope")}, nil,
			refusal{SignatureInvalid, 401, nil}},
		{"tampered method", spec{}, func(r *Request) { r.Method = "POST" },
			refusal{SignatureInvalid, 401, nil}},
		{"HEAD turned into GET", spec{method: "HEAD"}, func(r *Request) { r.Method = "GET" },
			refusal{SignatureInvalid, 401, nil}},
		{"tampered path", spec{}, func(r *Request) { r.RawPath = "/jira/rest/api/2/serverInfo" },
			refusal{SignatureInvalid, 401, nil}},
		{"path re-encoded", spec{path: "/jira/a%2Fb"}, func(r *Request) { r.RawPath = "/jira/a/b" },
			refusal{SignatureInvalid, 401, nil}},
		{"path escape case changed", spec{path: "/jira/%c3%a9"}, func(r *Request) { r.RawPath = "/jira/%C3%A9" },
			refusal{SignatureInvalid, 401, nil}},
		{"tampered query value", spec{query: "issueKey=ABC-1"}, func(r *Request) { r.RawQuery = "issueKey=ABC-2" },
			refusal{SignatureInvalid, 401, nil}},
		{"added query param", spec{query: "a=1"}, func(r *Request) { r.RawQuery = "a=1&admin=true" },
			refusal{SignatureInvalid, 401, nil}},
		{"added empty query param", spec{query: "a=1"}, func(r *Request) { r.RawQuery = "a=1&b" },
			refusal{SignatureInvalid, 401, nil}},
		{"removed query param", spec{query: "a=1&b=2"}, func(r *Request) { r.RawQuery = "a=1" },
			refusal{SignatureInvalid, 401, nil}},
		{"repeated query value dropped", spec{query: "a=1&a=2"}, func(r *Request) { r.RawQuery = "a=1" },
			refusal{SignatureInvalid, 401, nil}},
		{"literal plus turned into space", spec{query: "q=a%2Bb"}, func(r *Request) { r.RawQuery = "q=a+b" },
			refusal{SignatureInvalid, 401, nil}},
		{"tampered form", spec{method: "POST", form: "a=1"}, func(r *Request) { r.Form = "a=2" },
			refusal{SignatureInvalid, 401, nil}},
		{"requestor added after signing", spec{}, func(r *Request) { r.RawQuery = "xoauth_requestor_id=admin" },
			refusal{SignatureInvalid, 401, nil}},
		{"requestor changed", spec{query: "xoauth_requestor_id=alice"}, func(r *Request) { r.RawQuery = "xoauth_requestor_id=admin" },
			refusal{SignatureInvalid, 401, nil}},
		{"signed for another host", spec{signURL: "https://evil.example.com/jira/rest/api/2/search"}, nil,
			refusal{SignatureInvalid, 401, nil}},
		{"signed for http", spec{signURL: "http://jira.example.com/jira/rest/api/2/search"}, nil,
			refusal{SignatureInvalid, 401, nil}},
		{"signed with a port", spec{signURL: "https://jira.example.com:8443/jira/rest/api/2/search"}, nil,
			refusal{SignatureInvalid, 401, nil}},
		{"tampered oauth_timestamp", spec{}, func(r *Request) { setHeaderParam(r, "oauth_timestamp", strconv.Itoa(testNow+1)) },
			refusal{SignatureInvalid, 401, nil}},
		{"invalid base64 signature", spec{}, func(r *Request) { setHeaderParam(r, "oauth_signature", "not*base64") },
			refusal{SignatureInvalid, 401, nil}},
		{"unpadded base64 signature", spec{}, func(r *Request) {
			setHeaderParam(r, "oauth_signature", strings.TrimRight(headerParam(r, "oauth_signature"), "="))
		}, refusal{SignatureInvalid, 401, nil}},
		{"empty signature", spec{}, func(r *Request) { setHeaderParam(r, "oauth_signature", "") },
			refusal{SignatureInvalid, 401, nil}},

		// Missing parameters, one at a time and together.
		{"missing oauth_consumer_key", spec{omit: []string{"oauth_consumer_key"}}, nil,
			refusal{ParameterAbsent, 400, map[string]string{"oauth_parameters_absent": "oauth_consumer_key"}}},
		{"missing oauth_signature_method", spec{omit: []string{"oauth_signature_method"}}, nil,
			refusal{ParameterAbsent, 400, map[string]string{"oauth_parameters_absent": "oauth_signature_method"}}},
		{"missing oauth_timestamp", spec{omit: []string{"oauth_timestamp"}}, nil,
			refusal{ParameterAbsent, 400, map[string]string{"oauth_parameters_absent": "oauth_timestamp"}}},
		{"missing oauth_nonce", spec{omit: []string{"oauth_nonce"}}, nil,
			refusal{ParameterAbsent, 400, map[string]string{"oauth_parameters_absent": "oauth_nonce"}}},
		{"missing oauth_signature", spec{}, func(r *Request) { deleteHeaderParam(r, "oauth_signature") },
			refusal{ParameterAbsent, 400, map[string]string{"oauth_parameters_absent": "oauth_signature"}}},
		{"missing several", spec{omit: []string{"oauth_nonce", "oauth_timestamp"}}, nil,
			refusal{ParameterAbsent, 400, map[string]string{"oauth_parameters_absent": "oauth_timestamp&oauth_nonce"}}},
		{"empty OAuth header", spec{}, func(r *Request) { r.Authorization = []string{"OAuth"} },
			refusal{ParameterAbsent, 400, map[string]string{"oauth_parameters_absent": "oauth_consumer_key&oauth_signature_method&oauth_signature&oauth_timestamp&oauth_nonce"}}},
		{"only oauth_token in the query", spec{}, func(r *Request) { r.Authorization = nil; r.RawQuery = "oauth_token=" },
			refusal{ParameterAbsent, 400, map[string]string{"oauth_parameters_absent": "oauth_consumer_key&oauth_signature_method&oauth_signature&oauth_timestamp&oauth_nonce"}}},

		// Duplicates and mixed locations.
		{"duplicated oauth_nonce in the header", spec{}, func(r *Request) { r.Authorization[0] += `, oauth_nonce="other"` },
			refusal{ParameterRejected, 400, map[string]string{"oauth_parameters_rejected": "oauth_nonce"}}},
		{"duplicated oauth_nonce, same value", spec{nonce: "n1"}, func(r *Request) { r.Authorization[0] += `, oauth_nonce="n1"` },
			refusal{ParameterRejected, 400, map[string]string{"oauth_parameters_rejected": "oauth_nonce"}}},
		{"duplicated oauth_token in the query", spec{loc: InQuery}, func(r *Request) { r.RawQuery += "&oauth_token=" },
			refusal{ParameterRejected, 400, map[string]string{"oauth_parameters_rejected": "oauth_token"}}},
		{"duplicated oauth_version", spec{extra: []Param{{"oauth_version", "1.0"}, {"oauth_version", "1.0"}}}, nil,
			refusal{ParameterRejected, 400, map[string]string{"oauth_parameters_rejected": "oauth_version"}}},
		{"OAuth params split between header and query", spec{}, func(r *Request) { r.RawQuery = "oauth_nonce=x" },
			refusal{ParameterRejected, 400, map[string]string{"oauth_parameters_rejected": "oauth_nonce"}}},
		{"OAuth params split between query and form", spec{loc: InQuery, method: "POST"}, func(r *Request) { r.Form = "oauth_callback=oob" },
			refusal{ParameterRejected, 400, nil}},
		{"two OAuth Authorization headers", spec{}, func(r *Request) { r.Authorization = append(r.Authorization, r.Authorization[0]) },
			refusal{ParameterRejected, 400, nil}},
		{"duplicated xoauth_requestor_id", spec{query: "xoauth_requestor_id=a&xoauth_requestor_id=b"}, nil,
			refusal{ParameterRejected, 400, map[string]string{"oauth_parameters_rejected": "xoauth_requestor_id"}}},
		{"xoauth_requestor_id and user_id", spec{query: "xoauth_requestor_id=a&user_id=b"}, nil,
			refusal{ParameterRejected, 400, map[string]string{"oauth_parameters_rejected": "user_id"}}},
		{"requestor in query and form", spec{method: "POST", query: "xoauth_requestor_id=a", form: "xoauth_requestor_id=a"}, nil,
			refusal{ParameterRejected, 400, map[string]string{"oauth_parameters_rejected": "xoauth_requestor_id"}}},

		// Versions, methods, tokens.
		{"oauth_version 2.0", spec{extra: []Param{{"oauth_version", "2.0"}}}, nil,
			refusal{VersionRejected, 400, map[string]string{"oauth_acceptable_versions": "1.0-1.0"}}},
		{"oauth_version 1.0a", spec{extra: []Param{{"oauth_version", "1.0a"}}}, nil,
			refusal{VersionRejected, 400, map[string]string{"oauth_acceptable_versions": "1.0-1.0"}}},
		{"empty oauth_version", spec{extra: []Param{{"oauth_version", ""}}}, nil,
			refusal{VersionRejected, 400, map[string]string{"oauth_acceptable_versions": "1.0-1.0"}}},
		{"HMAC-SHA1 on an RSA-only consumer", spec{sigMethod: HMACSHA1}, nil,
			refusal{SignatureMethodRejected, 400, map[string]string{"oauth_acceptable_signature_methods": "RSA-SHA1"}}},
		{"PLAINTEXT", spec{sigMethod: "PLAINTEXT"}, nil,
			refusal{SignatureMethodRejected, 400, map[string]string{"oauth_acceptable_signature_methods": "RSA-SHA1"}}},
		{"PLAINTEXT on an HMAC consumer", spec{consumer: "hmac-client", sigMethod: "PLAINTEXT"}, nil,
			refusal{SignatureMethodRejected, 400, map[string]string{"oauth_acceptable_signature_methods": "HMAC-SHA1"}}},
		{"RSA-SHA256", spec{sigMethod: "RSA-SHA256"}, nil,
			refusal{SignatureMethodRejected, 400, nil}},
		{"lower-case method name", spec{sigMethod: "rsa-sha1"}, nil,
			refusal{SignatureMethodRejected, 400, nil}},
		{"RSA-SHA1 on an HMAC-only consumer", spec{consumer: "hmac-client"}, nil,
			refusal{SignatureMethodRejected, 400, map[string]string{"oauth_acceptable_signature_methods": "HMAC-SHA1"}}},
		{"consumer with no methods", spec{consumer: "no-methods"}, nil,
			refusal{SignatureMethodRejected, 400, map[string]string{"oauth_acceptable_signature_methods": ""}}},
		{"non-empty oauth_token", spec{token: ptr("access-token")}, nil,
			refusal{TokenRejected, 401, nil}},

		// Timestamps.
		{"timestamp 10 minutes old", spec{ts: strconv.Itoa(testNow - 600)}, nil,
			refusal{TimestampRefused, 400, map[string]string{"oauth_acceptable_timestamps": window}}},
		{"timestamp 10 minutes ahead", spec{ts: strconv.Itoa(testNow + 600)}, nil,
			refusal{TimestampRefused, 400, map[string]string{"oauth_acceptable_timestamps": window}}},
		{"timestamp one second too old", spec{ts: strconv.Itoa(testNow - 301)}, nil,
			refusal{TimestampRefused, 400, map[string]string{"oauth_acceptable_timestamps": window}}},
		{"timestamp one second too new", spec{ts: strconv.Itoa(testNow + 301)}, nil,
			refusal{TimestampRefused, 400, map[string]string{"oauth_acceptable_timestamps": window}}},
		{"timestamp in milliseconds", spec{ts: now + "000"}, nil,
			refusal{ParameterRejected, 400, map[string]string{"oauth_parameters_rejected": "oauth_timestamp"}}},
		{"non-numeric timestamp", spec{ts: "yesterday"}, nil,
			refusal{ParameterRejected, 400, map[string]string{"oauth_parameters_rejected": "oauth_timestamp"}}},
		{"negative timestamp", spec{ts: "-" + now}, nil,
			refusal{ParameterRejected, 400, map[string]string{"oauth_parameters_rejected": "oauth_timestamp"}}},
		{"signed timestamp", spec{ts: "+" + now}, nil,
			refusal{ParameterRejected, 400, map[string]string{"oauth_parameters_rejected": "oauth_timestamp"}}},
		{"fractional timestamp", spec{ts: now + ".5"}, nil,
			refusal{ParameterRejected, 400, map[string]string{"oauth_parameters_rejected": "oauth_timestamp"}}},
		{"timestamp with spaces", spec{ts: " " + now}, nil,
			refusal{ParameterRejected, 400, map[string]string{"oauth_parameters_rejected": "oauth_timestamp"}}},
		{"40-digit timestamp", spec{ts: strings.Repeat("9", 40)}, nil,
			refusal{ParameterRejected, 400, map[string]string{"oauth_parameters_rejected": "oauth_timestamp"}}},
		{"empty timestamp", spec{ts: "x"}, func(r *Request) { setHeaderParam(r, "oauth_timestamp", "") },
			refusal{ParameterRejected, 400, map[string]string{"oauth_parameters_rejected": "oauth_timestamp"}}},

		// Sizes and emptiness.
		{"empty nonce", spec{}, func(r *Request) { setHeaderParam(r, "oauth_nonce", "") },
			refusal{ParameterRejected, 400, map[string]string{"oauth_parameters_rejected": "oauth_nonce"}}},
		{"10 KB nonce", spec{nonce: strings.Repeat("n", 10<<10)}, nil,
			refusal{ParameterRejected, 400, map[string]string{"oauth_parameters_rejected": "oauth_nonce"}}},
		{"empty consumer key", spec{consumer: "x"}, func(r *Request) { setHeaderParam(r, "oauth_consumer_key", "") },
			refusal{ParameterRejected, 400, map[string]string{"oauth_parameters_rejected": "oauth_consumer_key"}}},
		{"huge consumer key", spec{consumer: strings.Repeat("k", 256)}, nil,
			refusal{ParameterRejected, 400, map[string]string{"oauth_parameters_rejected": "oauth_consumer_key"}}},
		{"huge token", spec{token: ptr(strings.Repeat("t", 513))}, nil,
			refusal{ParameterRejected, 400, map[string]string{"oauth_parameters_rejected": "oauth_token"}}},
		{"huge signature", spec{}, func(r *Request) { setHeaderParam(r, "oauth_signature", strings.Repeat("A", 4096)) },
			refusal{ParameterRejected, 400, map[string]string{"oauth_parameters_rejected": "oauth_signature"}}},

		// Malformed Authorization headers.
		{"unterminated quote", spec{}, func(r *Request) { r.Authorization[0] += `, x="1` },
			refusal{ParameterRejected, 400, nil}},
		{"bad percent-encoding in header", spec{}, func(r *Request) { r.Authorization[0] += `, x="%G1"` },
			refusal{ParameterRejected, 400, nil}},
		{"no comma between params", spec{}, func(r *Request) { r.Authorization[0] = strings.Replace(r.Authorization[0], `", `, `" `, 1) },
			refusal{ParameterRejected, 400, nil}},
		{"unquoted value", spec{}, func(r *Request) { r.Authorization[0] += `, x=1` },
			refusal{ParameterRejected, 400, nil}},
		{"missing =", spec{}, func(r *Request) { r.Authorization[0] += `, oauth_version` },
			refusal{ParameterRejected, 400, nil}},
		{"malformed header next to OAuth query", spec{loc: InQuery}, func(r *Request) { r.Authorization = []string{`OAuth x=1`} },
			refusal{ParameterRejected, 400, nil}},
		{"malformed query with OAuth in the header", spec{}, func(r *Request) { r.RawQuery = "a=%zz" },
			refusal{ParameterRejected, 400, nil}},
		{"malformed form with OAuth in the header", spec{method: "POST"}, func(r *Request) { r.Form = "a=%" },
			refusal{ParameterRejected, 400, nil}},
		{"malformed query hiding OAuth params", spec{}, func(r *Request) {
			r.Authorization = nil
			r.RawQuery = "oauth%5Fconsumer_key=jira%3Arsa&x=%zz"
		}, refusal{ParameterRejected, 400, nil}},
		{"malformed form hiding OAuth params", spec{method: "POST"}, func(r *Request) {
			r.Authorization = nil
			r.Form = "%6Fauth_token=&x=100%"
		}, refusal{ParameterRejected, 400, nil}},

		// Requestor rules.
		{"xoauth_requestor_id in the header only", spec{extra: []Param{{"xoauth_requestor_id", "admin"}}}, nil,
			refusal{ParameterRejected, 400, map[string]string{"oauth_parameters_rejected": "xoauth_requestor_id"}}},
		{"user_id in the header only", spec{extra: []Param{{"user_id", "admin"}}}, nil,
			refusal{ParameterRejected, 400, map[string]string{"oauth_parameters_rejected": "user_id"}}},
		{"empty xoauth_requestor_id", spec{query: "xoauth_requestor_id="}, nil,
			refusal{ParameterRejected, 400, map[string]string{"oauth_parameters_rejected": "xoauth_requestor_id"}}},
		{"control character in the requestor", spec{query: "xoauth_requestor_id=ad%0Amin"}, nil,
			refusal{ParameterRejected, 400, map[string]string{"oauth_parameters_rejected": "xoauth_requestor_id"}}},
		{"invalid UTF-8 in the requestor", spec{query: "xoauth_requestor_id=%C3"}, nil,
			refusal{ParameterRejected, 400, map[string]string{"oauth_parameters_rejected": "xoauth_requestor_id"}}},
		{"requestor too long", spec{query: "xoauth_requestor_id=" + strings.Repeat("u", 256)}, nil,
			refusal{ParameterRejected, 400, map[string]string{"oauth_parameters_rejected": "xoauth_requestor_id"}}},

		// Permissions.
		{"impersonation not allowed", spec{consumer: "rsa-no2lo", query: "xoauth_requestor_id=alice"}, nil,
			refusal{PermissionDenied, 401, nil}},
		{"impersonation not allowed, 2LO allowed", spec{consumer: "rsa-2lo-only", query: "user_id=alice"}, nil,
			refusal{PermissionDenied, 401, nil}},
		{"2LO not allowed", spec{consumer: "rsa-no2lo"}, nil,
			refusal{PermissionDenied, 401, nil}},
		{"2LO not allowed, token absent", spec{consumer: "rsa-no2lo", noToken: true}, nil,
			refusal{PermissionDenied, 401, nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, st := newTestVerifier(t)
			r := sign(t, tt.s)
			if tt.edit != nil {
				tt.edit(r)
			}
			res, p := v.Verify(context.Background(), r)
			checkRefusal(t, res, p, tt.want)
			if tt.want.code != PermissionDenied && st.len() != 0 {
				t.Errorf("a refused request recorded %d nonces", st.len())
			}
		})
	}
}

func checkRefusal(t *testing.T, res *Result, p *Problem, want refusal) {
	t.Helper()
	if p == nil {
		t.Fatalf("Verify accepted: %+v, want %s", res, want.code)
	}
	if res != nil {
		t.Errorf("Verify returned both a result and a problem")
	}
	if p.Code != want.code || p.HTTPStatus() != want.status {
		t.Fatalf("got %s/%d (%s), want %s/%d", p.Code, p.HTTPStatus(), p.Reason, want.code, want.status)
	}
	if p.Unavailable {
		t.Errorf("a refusal is marked Unavailable")
	}
	for k, v := range want.params {
		got, ok := paramValue(p.Params, k)
		if !ok || got != v {
			t.Errorf("problem param %s = %q (present %v), want %q; params %q", k, got, ok, v, p.Params)
		}
	}
	if hdr := p.WWWAuthenticate("r"); !strings.Contains(hdr, `oauth_problem="`+want.code+`"`) {
		t.Errorf("challenge %q lacks the problem", hdr)
	}
}

// headerParam, setHeaderParam and deleteHeaderParam edit the OAuth header
// of a signed request without re-signing it.
func headerParam(r *Request, key string) string {
	_, ps, err := ParseAuthorizationHeader(r.Authorization[0])
	if err != nil {
		panic(err)
	}
	v, _ := paramValue(ps, key)
	return v
}

func editHeader(r *Request, f func([]Param) []Param) {
	realm, ps, err := ParseAuthorizationHeader(r.Authorization[0])
	if err != nil {
		panic(err)
	}
	r.Authorization[0] = renderHeader(realm, f(ps))
}

func setHeaderParam(r *Request, key, value string) {
	editHeader(r, func(ps []Param) []Param {
		for i := range ps {
			if ps[i].Key == key {
				ps[i].Value = value
			}
		}
		return ps
	})
}

func deleteHeaderParam(r *Request, key string) {
	editHeader(r, func(ps []Param) []Param {
		out := ps[:0]
		for _, p := range ps {
			if p.Key != key {
				out = append(out, p)
			}
		}
		return out
	})
}

func TestVerifyAnonymous(t *testing.T) {
	tests := []struct {
		name string
		r    Request
	}{
		{"nothing", Request{Method: "GET", RawPath: "/jira/"}},
		{"plain query", Request{Method: "GET", RawPath: "/jira/rest/api/2/search", RawQuery: "jql=a&maxResults=1"}},
		{"Basic auth", Request{Method: "GET", RawPath: "/", Authorization: []string{"Basic dXNlcjpwYXNz"}}},
		{"Bearer auth", Request{Method: "GET", RawPath: "/", Authorization: []string{"Bearer abc"}}},
		{"OAuth2-like scheme", Request{Method: "GET", RawPath: "/", Authorization: []string{`OAuth2 oauth_consumer_key="x"`}}},
		{"requestor without OAuth", Request{Method: "GET", RawPath: "/", RawQuery: "xoauth_requestor_id=admin"}},
		{"form without OAuth", Request{Method: "POST", RawPath: "/", Form: "a=1&user_id=x"}},
		{"oauth-like names that are not oauth_", Request{Method: "GET", RawPath: "/", RawQuery: "oauth=1&OAUTH_TOKEN=2&xoauth_x=3"}},
		{"malformed query without OAuth", Request{Method: "GET", RawPath: "/", RawQuery: "q=100%&x=%zz"}},
		{"malformed form without OAuth", Request{Method: "POST", RawPath: "/", Form: "q=%"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, st := newTestVerifier(t)
			res, p := v.Verify(context.Background(), &tt.r)
			if p != nil {
				t.Fatalf("Verify: %v", p)
			}
			if res.Mode != ModeAnonymous || res.Consumer != nil || res.User != "" || res.Location != 0 {
				t.Errorf("result %+v, want anonymous", res)
			}
			if st.seens.Load() != 0 || st.records.Load() != 0 {
				t.Error("an anonymous request touched the nonce store")
			}
		})
	}
}

func TestVerifyReplay(t *testing.T) {
	v, st := newTestVerifier(t)
	r := sign(t, spec{query: "a=1"})
	if _, p := v.Verify(context.Background(), r); p != nil {
		t.Fatalf("first: %v", p)
	}
	res, p := v.Verify(context.Background(), r)
	checkRefusal(t, res, p, refusal{NonceUsed, 401, nil})
	if st.records.Load() != 1 {
		t.Errorf("replay reached Record (%d calls): Seen should have stopped it", st.records.Load())
	}

	// The same nonce and timestamp from another consumer is not a replay.
	r2 := sign(t, spec{consumer: "hmac-client", sigMethod: HMACSHA1, nonce: headerParam(r, "oauth_nonce")})
	if _, p := v.Verify(context.Background(), r2); p != nil {
		t.Errorf("other consumer, same nonce: %v", p)
	}
	// Nor is the same nonce with another timestamp.
	r3 := sign(t, spec{nonce: headerParam(r, "oauth_nonce"), ts: strconv.Itoa(testNow + 1)})
	if _, p := v.Verify(context.Background(), r3); p != nil {
		t.Errorf("same nonce, other timestamp: %v", p)
	}
	// Moving the OAuth params to the query does not make a replay fresh.
	r4 := sign(t, spec{loc: InQuery, nonce: "moved"})
	if _, p := v.Verify(context.Background(), r4); p != nil {
		t.Fatal(p)
	}
	r5 := sign(t, spec{loc: InHeader, nonce: "moved"})
	res, p = v.Verify(context.Background(), r5)
	checkRefusal(t, res, p, refusal{NonceUsed, 401, nil})
}

func TestVerifyReplayRecordRace(t *testing.T) {
	// When Seen says fresh (two requests in flight at once), Record's atomic
	// check catches the second one.
	v, st := newTestVerifier(t)
	st.noSeen = true
	r := sign(t, spec{})
	if _, p := v.Verify(context.Background(), r); p != nil {
		t.Fatal(p)
	}
	res, p := v.Verify(context.Background(), r)
	checkRefusal(t, res, p, refusal{NonceUsed, 401, nil})
}

func TestVerifyConcurrentReplay(t *testing.T) {
	v, _ := newTestVerifier(t)
	r := sign(t, spec{})
	var ok, used atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cp := *r
			_, p := v.Verify(context.Background(), &cp)
			switch {
			case p == nil:
				ok.Add(1)
			case p.Code == NonceUsed:
				used.Add(1)
			default:
				t.Errorf("unexpected %v", p)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 1 || used.Load() != 15 {
		t.Errorf("%d accepted, %d nonce_used; want 1 and 15", ok.Load(), used.Load())
	}
}

func TestVerifyBadSignatureDoesNotBurnNonce(t *testing.T) {
	v, st := newTestVerifier(t)
	bad := sign(t, spec{nonce: "N", key: otherKey()})
	res, p := v.Verify(context.Background(), bad)
	checkRefusal(t, res, p, refusal{SignatureInvalid, 401, nil})
	if st.len() != 0 || st.records.Load() != 0 {
		t.Fatalf("bad signature recorded a nonce")
	}
	good := sign(t, spec{nonce: "N"})
	if _, p := v.Verify(context.Background(), good); p != nil {
		t.Fatalf("good request with the nonce of a forged one: %v", p)
	}
	// Unknown consumers never touch the store at all.
	unknown := sign(t, spec{consumer: "nobody", nonce: "M"})
	seens := st.seens.Load()
	res, p = v.Verify(context.Background(), unknown)
	checkRefusal(t, res, p, refusal{ConsumerKeyUnknown, 401, nil})
	if st.seens.Load() != seens || st.len() != 1 {
		t.Error("an unknown consumer reached the nonce store")
	}
}

func TestVerifySince(t *testing.T) {
	tests := []struct {
		name  string
		since time.Time
		ts    int64
		lo    int64 // 0: accepted
	}{
		{"signed before the store started", time.Unix(testNow-60, 0), testNow - 61, testNow - 60},
		{"signed the second the store started", time.Unix(testNow-60, 0), testNow - 60, 0},
		{"signed in the second the store started, before it", time.Unix(testNow-60, 5e8), testNow - 60, testNow - 59},
		{"signed after the store started", time.Unix(testNow-60, 5e8), testNow - 59, 0},
		{"store older than the window", time.Unix(testNow-3600, 0), testNow - 300, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, st := newTestVerifier(t)
			st.since = tt.since
			res, p := v.Verify(context.Background(), sign(t, spec{ts: strconv.FormatInt(tt.ts, 10)}))
			if tt.lo == 0 {
				if p != nil {
					t.Fatalf("refused: %v", p)
				}
				return
			}
			checkRefusal(t, res, p, refusal{TimestampRefused, 400, map[string]string{
				"oauth_acceptable_timestamps": fmt.Sprintf("%d-%d", tt.lo, testNow+300)}})
		})
	}
}

func TestVerifyWindow(t *testing.T) {
	v, _ := newTestVerifier(t)
	v.Window = 10 * time.Minute
	if _, p := v.Verify(context.Background(), sign(t, spec{ts: strconv.Itoa(testNow - 599)})); p != nil {
		t.Errorf("10-minute window refused a 599 s old request: %v", p)
	}
	res, p := v.Verify(context.Background(), sign(t, spec{ts: strconv.Itoa(testNow - 601)}))
	checkRefusal(t, res, p, refusal{TimestampRefused, 400, map[string]string{
		"oauth_acceptable_timestamps": fmt.Sprintf("%d-%d", testNow-600, testNow+600)}})

	// The default clock is the real one.
	v, _ = newTestVerifier(t)
	v.Now = nil
	if _, p := v.Verify(context.Background(), sign(t, spec{ts: strconv.FormatInt(time.Now().Unix(), 10)})); p != nil {
		t.Errorf("real clock: %v", p)
	}
}

func TestVerifyRecordsUntilWindowEnd(t *testing.T) {
	v, st := newTestVerifier(t)
	r := sign(t, spec{ts: strconv.Itoa(testNow - 100), nonce: "x"})
	if _, p := v.Verify(context.Background(), r); p != nil {
		t.Fatal(p)
	}
	for _, until := range st.m {
		// The request is acceptable until ts+window; the record must last
		// at least that long.
		if min := time.Unix(testNow-100+300, 0); until.Before(min) {
			t.Errorf("recorded until %v, before the window closes at %v", until, min)
		}
	}
}

func TestVerifyStoreErrors(t *testing.T) {
	for _, which := range []string{"Seen", "Record"} {
		t.Run(which, func(t *testing.T) {
			v, st := newTestVerifier(t)
			if which == "Seen" {
				st.seenErr = errStoreDown
			} else {
				st.recordErr = errStoreDown
			}
			res, p := v.Verify(context.Background(), sign(t, spec{}))
			if p == nil || res != nil {
				t.Fatalf("store down, request accepted: %+v", res)
			}
			if !p.Unavailable || p.HTTPStatus() != 503 || !strings.Contains(p.Error(), "store down") {
				t.Errorf("got %+v (status %d), want Unavailable/503", p, p.HTTPStatus())
			}
			if p.Consumer != "jira:rsa" {
				t.Errorf("Problem.Consumer = %q", p.Consumer)
			}
		})
	}
}

// TestVerifyFloorSaysTheProxyRestarted: a stamp inside the window that the
// nonce store cannot vouch for (it started after it) is refused with a
// reason and advice that blame the restart, not the client's clock; a stamp
// outside the window still blames the clock.
func TestVerifyFloorSaysTheProxyRestarted(t *testing.T) {
	v, st := newTestVerifier(t)
	st.since = time.Unix(testNow-10, 0)
	_, p := v.Verify(context.Background(), sign(t, spec{ts: strconv.Itoa(testNow - 30)}))
	if p == nil || p.Code != TimestampRefused {
		t.Fatalf("stamp before the store's start: %v", p)
	}
	if !strings.Contains(p.Reason, "since the proxy restarted") || !strings.Contains(p.Advice, "the proxy restarted") ||
		strings.Contains(p.Advice, "clock") {
		t.Errorf("reason %q, advice %q: want both to say the proxy restarted", p.Reason, p.Advice)
	}
	_, p = v.Verify(context.Background(), sign(t, spec{ts: strconv.Itoa(testNow - 400)}))
	if p == nil || p.Code != TimestampRefused || !strings.Contains(p.Advice, "clock") || !strings.Contains(p.Reason, "-400s from now") {
		t.Errorf("stamp outside the window: %+v; want the clock blamed", p)
	}
}

// TestVerifyReportsSkew: the result, and a problem once the timestamp has
// been read, carry the stamp less the verifier's clock.
func TestVerifyReportsSkew(t *testing.T) {
	v, _ := newTestVerifier(t)
	v.Now = func() time.Time { return time.Unix(testNow, 250e6) }
	res, p := v.Verify(context.Background(), sign(t, spec{ts: strconv.Itoa(testNow - 42)}))
	if p != nil {
		t.Fatal(p)
	}
	if want := -42250 * time.Millisecond; res.Skew != want {
		t.Errorf("Result.Skew = %v, want %v", res.Skew, want)
	}
	_, p = v.Verify(context.Background(), sign(t, spec{ts: strconv.Itoa(testNow + 900)}))
	if p == nil || !p.Stamped || p.Skew != 899750*time.Millisecond {
		t.Errorf("refused stamp: %+v; want Stamped with a skew of 899.75s", p)
	}
	_, p = v.Verify(context.Background(), sign(t, spec{ts: "soon"}))
	if p == nil || p.Stamped {
		t.Errorf("unreadable stamp: %+v; want no skew", p)
	}
}

func TestVerifyUnconfigured(t *testing.T) {
	v, _ := newTestVerifier(t)
	v.Nonces = nil
	if _, p := v.Verify(context.Background(), sign(t, spec{})); p == nil || !p.Unavailable {
		t.Errorf("no nonce store: %v, want Unavailable", p)
	}
	v, _ = newTestVerifier(t)
	v.Consumers = nil
	if _, p := v.Verify(context.Background(), sign(t, spec{})); p == nil || !p.Unavailable {
		t.Errorf("no consumers: %v, want Unavailable", p)
	}
	// Anonymous requests still pass: nothing to verify.
	if res, p := v.Verify(context.Background(), &Request{Method: "GET", RawPath: "/"}); p != nil || res.Mode != ModeAnonymous {
		t.Errorf("anonymous on an unconfigured verifier: %+v %v", res, p)
	}
}

func TestVerifyConsumerVanishes(t *testing.T) {
	// A config reload between the signature check and the permission check
	// must not lose the consumer (this used to be a nil dereference).
	v, _ := newTestVerifier(t)
	c := testConsumers()["jira:rsa"]
	var calls atomic.Int32
	v.Consumers = func(k string) *Consumer {
		if calls.Add(1) == 1 && k == c.Key {
			return c
		}
		return nil
	}
	res, p := v.Verify(context.Background(), sign(t, spec{}))
	if p != nil {
		t.Fatal(p)
	}
	if res.Consumer != c || res.Mode != Mode2LO {
		t.Errorf("result %+v", res)
	}
}

func TestVerifyProblemNamesConsumer(t *testing.T) {
	v, _ := newTestVerifier(t)
	_, p := v.Verify(context.Background(), sign(t, spec{key: otherKey()}))
	if p == nil || p.Consumer != "jira:rsa" {
		t.Fatalf("problem %+v, want Consumer jira:rsa", p)
	}
	if !strings.Contains(p.Reason, "GET&https%3A%2F%2Fjira.example.com%2Fjira%2Frest%2Fapi%2F2%2Fsearch&") {
		t.Errorf("the log reason should carry the base string: %q", p.Reason)
	}
	if strings.Contains(p.WWWAuthenticate("r")+p.Body(), "GET&") {
		t.Error("the base string leaked to the client")
	}
}

func TestParseTimestamp(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"1191242096", 1191242096, true},
		{"000000000001", 1, true},
		{"999999999999", 999999999999, true},
		{"1000000000000", 0, false},
		{"", 0, false},
		{"-1", 0, false},
		{"1e9", 0, false},
		{"１２３", 0, false}, // full-width digits
	}
	for _, tt := range tests {
		got, ok := parseTimestamp(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseTimestamp(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestValidUser(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"alice", true},
		{"Jürgen Schmidt", true},
		{"a@b.c", true},
		{strings.Repeat("u", 255), true},
		{strings.Repeat("u", 256), false},
		{"a\x00b", false},
		{"a\tb", false},
		{"a\x7fb", false},
		{"\xff", false},
		{"\uFFFD", false},
		{"", false},
		{"a\u0085b", false}, // C1 NEL
		{strings.Repeat("ü", 255), true},
		{strings.Repeat("ü", 256), false},
	}
	for _, tt := range tests {
		if got := ValidUserName(tt.in); got != tt.ok {
			t.Errorf("ValidUserName(%q) = %v, want %v", tt.in, got, tt.ok)
		}
	}
}

func TestMentionsOAuth(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"a=1&b=%zz", false},
		{"oauth_nonce=%zz", true},
		{"x=%zz&oauth%5Fnonce=1", true},
		{"x=%zz&%6Fauth_nonce=1", true},
		{"x=%zz&oauth%5fnonce%zz=1", true},
		{"v=oauth_in_a_value%", true}, // conservative: the substring is enough
		{"xoauth%5Fx=1&%", false},
	}
	for _, tt := range tests {
		if got := mentionsOAuth(tt.in); got != tt.want {
			t.Errorf("mentionsOAuth(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestCollectManyOAuthParams(t *testing.T) {
	// Past linearSearchMax names the oauth params are indexed by a map;
	// duplicate detection and lookups must work the same on both sides.
	for _, n := range []int{linearSearchMax - 1, linearSearchMax, linearSearchMax + 1, 200} {
		var extra []Param
		for i := range n {
			extra = append(extra, Param{fmt.Sprintf("oauth_x%d", i), "v"})
		}
		r := sign(t, spec{extra: extra})
		msg, _, p := collect(r)
		if p != nil {
			t.Fatalf("%d extra params: %v", n, p)
		}
		if got := msg.oauth.val("oauth_nonce"); got == "" {
			t.Errorf("%d extra params: oauth_nonce lost", n)
		}
		if got, ok := msg.oauth.get(fmt.Sprintf("oauth_x%d", n-1)); !ok || got != "v" {
			t.Errorf("%d extra params: last one lost", n)
		}
		v, _ := newTestVerifier(t)
		if _, p := v.Verify(context.Background(), r); p != nil {
			t.Errorf("%d extra params: %v", n, p)
		}
		// A duplicate of an early and of a late name is refused.
		r.Authorization[0] += `, oauth_x0="w", oauth_x` + strconv.Itoa(n-1) + `="w"`
		_, _, p = collect(r)
		if p == nil || p.Code != ParameterRejected {
			t.Fatalf("%d extra params + duplicates: %v", n, p)
		}
		want := "oauth_x0&oauth_x" + strconv.Itoa(n-1)
		if got, _ := paramValue(p.Params, "oauth_parameters_rejected"); got != want {
			t.Errorf("rejected %q, want %q", got, want)
		}
	}
}

func TestProblemsStaySmall(t *testing.T) {
	// Refusals echo names and errors to the client in WWW-Authenticate and
	// the body: whatever the request holds, they must stay small.
	long := strings.Repeat("x", 100<<10)
	var dupHeader strings.Builder
	dupHeader.WriteString(`OAuth oauth_nonce="1"`)
	for i := range 2000 {
		fmt.Fprintf(&dupHeader, `, oauth_d%d="1", oauth_d%d="2"`, i, i)
	}
	manyNonces := `OAuth oauth_nonce="1"` + strings.Repeat(`, oauth_nonce="1"`, 5000)
	tests := []struct {
		name string
		r    Request
		code string
	}{
		{"long name with a bad escape", Request{Authorization: []string{`OAuth ` + long + `%zz="1"`}}, ParameterRejected},
		{"long name, bad value", Request{Authorization: []string{`OAuth oauth_` + long + `="%zz"`}}, ParameterRejected},
		{"long query name", Request{RawQuery: "oauth_" + long + "=%zz"}, ParameterRejected},
		{"thousands of duplicated names", Request{Authorization: []string{dupHeader.String()}}, ParameterRejected},
		{"one name duplicated thousands of times", Request{Authorization: []string{manyNonces}}, ParameterRejected},
		{"split with thousands of query names", Request{Authorization: []string{`OAuth a="1"`}, RawQuery: strings.Repeat("oauth_"+long[:50]+"=1&", 1000)}, ParameterRejected},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, _ := newTestVerifier(t)
			tt.r.Method, tt.r.RawPath = "GET", "/"
			_, p := v.Verify(context.Background(), &tt.r)
			if p == nil || p.Code != tt.code {
				t.Fatalf("got %v, want %s", p, tt.code)
			}
			if h, b := p.WWWAuthenticate(testBase), p.Body(); len(h) > 1024 || len(b) > 1024 {
				t.Errorf("challenge of %d bytes, body of %d: %.200s", len(h), len(b), h)
			}
			if len(p.Consumer) > maxKeyLen {
				t.Errorf("Problem.Consumer of %d bytes", len(p.Consumer))
			}
		})
	}
}

func TestDummyConsumer(t *testing.T) {
	c := dummyConsumer()
	if c.PublicKey == nil || c.PublicKey.N.BitLen() != 2048 {
		t.Fatalf("dummy key: %+v", c.PublicKey)
	}
	if !c.allows(RSASHA1) || !c.allows(HMACSHA1) {
		t.Error("the dummy consumer must take both signature paths")
	}
	if dummyConsumer() != c {
		t.Error("dummy consumer rebuilt")
	}
}

func TestVerifyAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	v, _ := newTestVerifier(t)
	v.Nonces = freshStore{}
	r := sign(t, spec{consumer: "hmac-client", sigMethod: HMACSHA1, realm: testBase})
	// The decoded signature, the nonce key, the Result and the HMAC sum:
	// parameters, message, signature bytes and base string stay on the
	// stack or in pools.
	allocs := testing.AllocsPerRun(100, func() {
		if _, p := v.Verify(context.Background(), r); p != nil {
			t.Fatal(p)
		}
	})
	if allocs > 4 {
		t.Errorf("Verify of a 2LO HMAC-SHA1 request: %v allocations, want at most 4", allocs)
	}
}

// TestRecordOnlySkipsSeen: a verifier told its store is across the network
// asks it once a request (the atomic Record), and a replay is still refused
// by that Record.
func TestRecordOnlySkipsSeen(t *testing.T) {
	v, st := newTestVerifier(t)
	v.RecordOnly = true
	r := sign(t, spec{nonce: "record-only"})
	if _, p := v.Verify(context.Background(), r); p != nil {
		t.Fatalf("first: %v", p)
	}
	if st.seens.Load() != 0 || st.records.Load() != 1 {
		t.Errorf("%d Seen, %d Record; want 0, 1", st.seens.Load(), st.records.Load())
	}
	if _, p := v.Verify(context.Background(), r); p == nil || p.Code != NonceUsed {
		t.Errorf("replay: %v, want nonce_used", p)
	}
}
