package caddymodule

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddytest"

	// The applink directive, to check the order and that signed requests
	// reach it.
	"github.com/caddy-applink/caddy-applink/internal/manifest"
	"github.com/caddy-applink/caddy-applink/internal/rsakey"
	"github.com/caddy-applink/caddy-applink/internal/signer"
	"github.com/caddy-applink/caddy-applink/internal/testkit"
)

// ourKeys is the published key pair (ours.pem, ours.pub.pem).
var ourKeys = testkit.SharedKeyPair("ours")

const bcryptSecret = "$2a$14$pD93SQ4IuZQL/G9eX/wo4OW8h944GM/3q5yhuYIuYBqxbxQkaMLqG" // "secret"

// startCaddy serves:
//
//	localhost:P           applink_publish from the private key, behind
//	                      applink with anonymous reject (P: publishHTTPPort)
//	127.0.0.1:P/ctx/      a second identity under a context path, from the
//	                      public key file, behind basic_auth
func startCaddy(t *testing.T) *caddytest.Tester {
	t.Helper()
	cfg := testkit.CaddyGlobals(publishAdminPort, publishHTTPPort, publishHTTPSPort, testkit.NoGrace) + fmt.Sprintf(`
# A second identity under a context path, from the public key file,
# behind basic_auth (requests to 127.0.0.1 instead of localhost).
http://127.0.0.1:%[1]d {
	applink_publish {
		base_url http://localhost:%[1]d/ctx
		consumer_key ctx:2
		public_key_file %[3]s
		name "Context & <Co>"
		application_id 8F2B8D0E-1C55-3A6C-9A3E-2A1F4C0F7A11
		type_id jira
		version 9.12.2
		icon_url http://localhost:%[1]d/ctx/icon.png
	}
	basic_auth {
		alice %[2]s
	}
	respond "protected" 200
}

http://localhost:%[1]d {
	applink_publish {
		base_url http://localhost:%[1]d
		consumer_key gateway:0f3a
		private_key_file %[4]s
		name "caddy-applink gateway"
		description "the gateway"
	}
	applink {
		base_url http://localhost:%[1]d
		consumer gateway:0f3a {
			public_key_file %[3]s
			two_legged svc-gw
		}
		anonymous reject
	}
	respond "upstream user={http.request.header.X-Forwarded-User} uri={http.request.uri}" 200
}
`, publishHTTPPort, bcryptSecret, ourKeys().PubFile, ourKeys().PrivFile)
	return testkit.LoadCaddy(t, publishAdminPort, 20*time.Second, cfg)
}

func get(t *testing.T, tester *caddytest.Tester, method, path string, hdr ...string) (*http.Response, string) {
	t.Helper()
	host := "localhost"
	if strings.HasPrefix(path, "/ctx/") {
		host = "127.0.0.1"
	}
	req, err := http.NewRequest(method, fmt.Sprintf("http://%s:%d%s", host, publishHTTPPort, path), nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	return do(t, tester, req)
}

// TestConsumerInfo: what Jira's applinks fetch (anonymous GET, Accept
// application/xml) parses back into our key, in Atlassian's exact format.
func TestConsumerInfo(t *testing.T) {
	tester := startCaddy(t)
	for _, c := range []struct{ path, key, name, desc string }{
		{manifest.ConsumerInfoPath, "gateway:0f3a", "caddy-applink gateway", "the gateway"},
		{"/ctx" + manifest.ConsumerInfoPath, "ctx:2", "Context & <Co>", fmt.Sprintf("Context & <Co> at http://localhost:%d/ctx", publishHTTPPort)},
	} {
		resp, body := get(t, tester, "GET", c.path, "Accept", "application/xml")
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/xml;charset=UTF-8" {
			t.Fatalf("%s: %d %q %q", c.path, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
		if !strings.HasPrefix(body, `<?xml version="1.0" encoding="UTF-8"?>`+"\n<consumer>\n    <key>") {
			t.Errorf("%s: not Atlassian's layout:\n%s", c.path, body)
		}
		var ci manifest.ConsumerInfo
		if err := xml.Unmarshal([]byte(body), &ci); err != nil {
			t.Fatal(err)
		}
		if ci.Key != c.key || ci.Name != c.name || ci.Description != c.desc || ci.Callback != "" {
			t.Errorf("%s: parsed %+v", c.path, ci)
		}
		if strings.ContainsAny(ci.PublicKey, "\n\r -") {
			t.Errorf("publicKey must be bare base64 DER on one line: %q", ci.PublicKey)
		}
		pub, err := rsakey.ParsePublic([]byte(ci.PublicKey))
		if err != nil || !pub.Equal(ourKeys().Public()) {
			t.Errorf("%s: publicKey does not parse into our key: %v", c.path, err)
		}
	}
}

// TestManifest: the manifest's fields, XML by default and JSON when the
// client prefers it, with exact content types.
func TestManifest(t *testing.T) {
	tester := startCaddy(t)
	want := manifest.Manifest{
		ID:   "2cd8dc28-b802-5ef0-b28b-fec65393081b", // python3 uuid.uuid5(NAMESPACE_URL, "caddy-applink:consumer:gateway:0f3a")
		Name: "caddy-applink gateway", TypeID: "generic", Version: "1.0.0", BuildNumber: 100000,
		ApplinksVersion: manifest.ApplinksVersion, Inbound: manifest.AuthTypes, Outbound: manifest.AuthTypes,
		URL: fmt.Sprintf("http://localhost:%d", publishHTTPPort),
	}
	wantCtx := manifest.Manifest{
		ID: "8f2b8d0e-1c55-3a6c-9a3e-2a1f4c0f7a11", Name: "Context & <Co>", TypeID: "jira", Version: "9.12.2", BuildNumber: 912002,
		ApplinksVersion: manifest.ApplinksVersion, Inbound: manifest.AuthTypes, Outbound: manifest.AuthTypes,
		URL:     fmt.Sprintf("http://localhost:%d/ctx", publishHTTPPort),
		IconURL: fmt.Sprintf("http://localhost:%d/ctx/icon.png", publishHTTPPort),
	}
	for _, c := range []struct {
		path, accept, ctype string
		want                manifest.Manifest
	}{
		{manifest.ManifestPath, "", "application/xml", want},
		{manifest.ManifestPath, "application/xml", "application/xml", want},
		{manifest.ManifestPath, "*/*", "application/xml", want},
		{manifest.ManifestPath, "text/html", "application/xml", want},
		{manifest.ManifestPath, "application/xml, application/json;q=0.9", "application/xml", want},
		{manifest.ManifestPath, "application/json", "application/json", want},
		{manifest.ManifestPath, "application/json, application/xml;q=0.5", "application/json", want},
		{manifest.ManifestPath, "application/*;q=0.2, application/json", "application/json", want},
		{"/ctx" + manifest.ManifestPath, "", "application/xml", wantCtx},
		{"/ctx" + manifest.ManifestPath, "application/json", "application/json", wantCtx},
	} {
		var hdr []string
		if c.accept != "" {
			hdr = []string{"Accept", c.accept}
		}
		resp, body := get(t, tester, "GET", c.path, hdr...)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != c.ctype || resp.Header.Get("Vary") != "Accept" {
			t.Errorf("%s Accept %q: %d %q Vary %q", c.path, c.accept, resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Vary"))
			continue
		}
		var got manifest.Manifest
		var err error
		if c.ctype == "application/json" {
			err = json.Unmarshal([]byte(body), &got)
			var raw map[string]any
			_ = json.Unmarshal([]byte(body), &raw)
			if raw["publicSignup"] != false || raw["BuildNumber"] == nil {
				t.Errorf("JSON fields: %s", body)
			}
		} else {
			err = xml.Unmarshal([]byte(body), &got)
			if !strings.HasPrefix(body, `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>`) || !strings.Contains(body, "<publicSignup>false</publicSignup>") {
				t.Errorf("XML layout:\n%s", body)
			}
		}
		if err != nil {
			t.Fatalf("%s: %v\n%s", c.path, err, body)
		}
		got.XMLName = xml.Name{}
		if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", c.want) {
			t.Errorf("%s Accept %q:\n got %+v\nwant %+v", c.path, c.accept, got, c.want)
		}
	}
}

// TestAnonymousNoRedirect: the documents are answered anonymously even
// where the site requires authentication (applink with anonymous reject,
// basic_auth), never with a redirect, HEAD included; everything else goes
// on to the next handler.
func TestAnonymousNoRedirect(t *testing.T) {
	tester := startCaddy(t)
	for _, c := range []struct {
		method, path string
		hdr          []string
		status       int
		contains     string
	}{
		{"GET", manifest.ConsumerInfoPath, nil, 200, "<consumer>"},
		{"GET", manifest.ManifestPath, nil, 200, "<manifest>"},
		{"HEAD", manifest.ManifestPath, nil, 200, ""},
		{"HEAD", manifest.ConsumerInfoPath, nil, 200, ""},
		{"GET", manifest.ManifestPath + "?os_username=admin", nil, 200, "<manifest>"},
		{"GET", manifest.ManifestPath, []string{"Cookie", "JSESSIONID=x", "Authorization", "Basic YTpi"}, 200, "<manifest>"},
		{"GET", "/ctx" + manifest.ManifestPath, nil, 200, "<manifest>"},
		{"GET", "/ctx" + manifest.ConsumerInfoPath, nil, 200, "<consumer>"},
		// Not ours: the next handler decides (here: authentication).
		{"GET", manifest.ManifestPath + "/", nil, 401, "parameter_absent"},
		{"GET", "/rest/applinks/latest/manifest", nil, 401, "parameter_absent"},
		{"POST", manifest.ManifestPath, nil, 401, "parameter_absent"},
		{"GET", "/rest/api/2/myself", nil, 401, "parameter_absent"},
		{"GET", "/ctx/rest/api/2/myself", nil, 401, ""},
		{"GET", "/ctx" + manifest.ManifestPath + "x", nil, 401, ""},
		{"GET", manifest.ManifestPath[:len(manifest.ManifestPath)-1], nil, 401, "parameter_absent"},
		// A signed request goes to the verifier, as Atlassian's OAuth filter
		// checks signed requests to anonymous resources too.
		{"GET", manifest.ManifestPath, []string{"Authorization", `OAuth oauth_consumer_key="gateway:0f3a", oauth_token="", oauth_signature_method="RSA-SHA1", oauth_signature="AAAA", oauth_timestamp="1", oauth_nonce="n"`}, 400, "timestamp_refused"},
		{"GET", manifest.ManifestPath + "?oauth_consumer_key=x", nil, 400, ""},
	} {
		resp, body := get(t, tester, c.method, c.path, c.hdr...)
		if resp.StatusCode != c.status || !strings.Contains(body, c.contains) {
			t.Errorf("%s %s: %d %q, want %d containing %q", c.method, c.path, resp.StatusCode, body, c.status, c.contains)
		}
		if resp.StatusCode >= 300 && resp.StatusCode < 400 {
			t.Errorf("%s %s redirected to %s", c.method, c.path, resp.Header.Get("Location"))
		}
		if c.method == "HEAD" && (resp.Header.Get("Content-Length") == "0" || resp.Header.Get("Content-Type") == "") {
			t.Errorf("HEAD %s: headers %v", c.path, resp.Header)
		}
	}

	// A correctly signed request to the manifest is verified by applink and
	// then served by the next handler (the "product"), with the identity.
	waitForNonceFloor()
	s, err := signer.New(signer.Config{ConsumerKey: "gateway:0f3a", PrivateKey: ourKeys().Key, RemoteBaseURL: fmt.Sprintf("http://localhost:%d", publishHTTPPort)})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", fmt.Sprintf("http://localhost:%d%s", publishHTTPPort, manifest.ManifestPath), nil)
	if err := s.Sign(req, signer.Mode2LO, "", nil); err != nil {
		t.Fatal(err)
	}
	resp, b := do(t, tester, req)
	if resp.StatusCode != 200 || !strings.HasPrefix(b, "upstream user=svc-gw") {
		t.Errorf("signed manifest request: %d %q", resp.StatusCode, b)
	}
}

// TestPublishCaddyfileErrors: each mistake in an applink_publish block is
// refused with an error naming it. (That applink_publish runs before the
// authentication directives, whatever order the Caddyfile lists them in,
// is pinned by the golden publish_order of TestCaddyfileAdapt.)
func TestPublishCaddyfileErrors(t *testing.T) {
	testCaddyfileErrors(t, func() caddyfile.Unmarshaler { return new(PublishHandler) }, []caddyfileError{
		{"applink_publish {\n bogus 1\n}", `unknown subdirective "bogus"`},
		{"applink_publish extra", "wrong argument count"},
		{"applink_publish {\n base_url\n}", "base_url needs one argument"},
		{"applink_publish {\n name a b\n}", "takes one argument"},
		{"applink_publish {\n name a\n name b\n}", "name specified twice"},
		{"applink_publish {\n version 1 {\n  x\n }\n}", "version takes no block"},
		{"applink_publish {\n private_key_file a\n public_key_file b\n}", "not both"},
	})
}

func TestPublishProvisionErrors(t *testing.T) {
	dir := t.TempDir()
	ecFile, _ := writeECKey(t, dir)
	priv, pub := ourKeys().PrivFile, ourKeys().PubFile
	t.Setenv("APPLINK_TEST_KEY", priv)
	t.Setenv("APPLINK_TEST_CONSUMER", "env:1")
	ok := func(h PublishHandler) *PublishHandler {
		h.BaseURL, h.ConsumerKey, h.PrivateKeyFile = "https://gw.example.com", "k", priv
		return &h
	}
	for _, tc := range []struct {
		h    *PublishHandler
		want string
	}{
		{&PublishHandler{ConsumerKey: "k", PrivateKeyFile: priv}, "base_url is required"},
		{&PublishHandler{BaseURL: "gw.example.com", ConsumerKey: "k", PrivateKeyFile: priv}, "base URL"},
		{&PublishHandler{BaseURL: "https://gw.example.com", PrivateKeyFile: priv}, "consumer_key is required"},
		{&PublishHandler{BaseURL: "https://gw.example.com", ConsumerKey: "k"}, "private_key_file or public_key_file is required"},
		{&PublishHandler{BaseURL: "https://gw.example.com", ConsumerKey: "k", PrivateKeyFile: priv, PublicKeyFile: pub}, "not both"},
		{&PublishHandler{BaseURL: "https://gw.example.com", ConsumerKey: "k", PublicKeyFile: ecFile}, ecFile},
		{&PublishHandler{BaseURL: "https://gw.example.com", ConsumerKey: "k", PrivateKeyFile: filepath.Join(dir, "none.pem")}, filepath.Join(dir, "none.pem")},
		{func() *PublishHandler { h := ok(PublishHandler{}); h.ApplicationID = "not-a-uuid"; return h }(), "is not a UUID"},
		{func() *PublishHandler { h := ok(PublishHandler{}); h.TypeID = "JIRA"; return h }(), "not an application type"},
		{&PublishHandler{BaseURL: "https://gw.example.com/app/", ConsumerKey: "{env.APPLINK_TEST_CONSUMER}", PrivateKeyFile: "{env.APPLINK_TEST_KEY}"}, ""},
	} {
		if checkProvisionError(t, tc.h, provision(tc.h), tc.want) && tc.want == "" {
			if tc.h.consumerInfoPath != "/app"+manifest.ConsumerInfoPath || !strings.Contains(string(tc.h.consumerInfo), "<key>env:1</key>") {
				t.Errorf("env placeholders or context path: %s %s", tc.h.consumerInfoPath, tc.h.consumerInfo)
			}
		}
	}
}

func TestApplicationIDFor(t *testing.T) {
	// Reference values from python3: uuid.uuid5(uuid.NAMESPACE_URL, "caddy-applink:consumer:" + key)
	for key, want := range map[string]string{
		"gateway:0f3a": "2cd8dc28-b802-5ef0-b28b-fec65393081b",
	} {
		if got := manifest.ApplicationIDFor(key); got != want {
			t.Errorf("ApplicationIDFor(%q) = %s, want %s", key, got, want)
		}
	}
	if manifest.ApplicationIDFor("a") == manifest.ApplicationIDFor("b") {
		t.Error("different keys, same id")
	}
}

func TestBuildNumber(t *testing.T) {
	for v, want := range map[string]int64{"9.12.2": 912002, "1.0.0": 100000, "5.4": 504000, "7": 700000, "2.7.15": 207015,
		"1.0.0-rc1": 0, "x": 0, "1.1000.0": 0, "": 0, "1.2.3.4": 102003} {
		if got := manifest.BuildNumber(v); got != want {
			t.Errorf("BuildNumber(%q) = %d, want %d", v, got, want)
		}
	}
}

func TestPrefersJSON(t *testing.T) {
	for accept, want := range map[string]bool{
		"": false, "application/json": true, "application/xml": false, "*/*": false,
		"application/json;q=0.5, application/xml;q=0.6": false,
		"application/json;q=0.7, application/xml;q=0.6": true,
		"application/json, */*;q=0.1":                   true,
		"text/xml, application/json":                    false,
		"application/*, application/json":               false, // equal quality: XML
		"application/json;q=1.5":                        false, // invalid range ignored
		"APPLICATION/JSON":                              true,
	} {
		var v []string
		if accept != "" {
			v = []string{accept}
		}
		if got := prefersJSON(v); got != want {
			t.Errorf("prefersJSON(%q) = %v, want %v", accept, got, want)
		}
	}
}
