package caddymodule

// Helpers the tests of the package's modules share.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-applink/caddy-applink/internal/testkit"
)

// jsonLog is the global option that writes Caddy's log, debug lines
// included, to file as JSON, for testkit.LogEntries.
func jsonLog(file string) string {
	return "log {\n\toutput file " + file + "\n\tformat json\n\tlevel DEBUG\n}"
}

// readAdmin sends a GET of path to the admin endpoint of the in-process
// Caddy, at localhost:adminPort.
func readAdmin(t *testing.T, adminPort int, path string) (*http.Response, string) {
	t.Helper()
	return testkit.Do(t, http.DefaultClient, testkit.NewRequest(t, http.MethodGet, fmt.Sprintf("http://localhost:%d%s", adminPort, path), "", ""))
}

// scrape returns the metrics of the in-process Caddy, whose admin endpoint
// is at localhost:adminPort.
func scrape(t *testing.T, adminPort int) string {
	t.Helper()
	_, metrics := readAdmin(t, adminPort, "/metrics")
	return metrics
}

// doubledPrefix matches an error that names its module although Caddy
// already does ("provision http.handlers.applink: applink: ...").
var doubledPrefix = regexp.MustCompile(`(^|: )applink[ _a-z]*: `)

// caddyfileError is a Caddyfile that must not parse, and what its error
// says.
type caddyfileError struct{ input, want string }

// testCaddyfileErrors parses each input into a new module from newModule
// and checks that it fails with an error that contains want.
func testCaddyfileErrors(t *testing.T, newModule func() caddyfile.Unmarshaler, cases []caddyfileError) {
	t.Helper()
	for _, tc := range cases {
		err := newModule().UnmarshalCaddyfile(caddyfile.NewTestDispenser(tc.input))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want it to contain %q", tc.input, err, tc.want)
		}
	}
}

// provision provisions m in a Caddy context of its own, cancelled on
// return.
func provision(m caddy.Provisioner) error {
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	return m.Provision(ctx)
}

// checkProvisionError checks err, what provisioning config (a module, or
// its JSON) returned: none if want is "", else one that contains want;
// and one that does not name the module, which Caddy does. It reports
// whether err was as wanted.
func checkProvisionError(t *testing.T, config any, err error, want string) bool {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("%+v: unexpected error %v", config, err)
	case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
		t.Errorf("%+v: error %v, want it to contain %q", config, err, want)
	case err != nil && doubledPrefix.MatchString(err.Error()):
		t.Errorf("%+v: error %q names the module, which Caddy does", config, err)
	default:
		return true
	}
	return false
}

// writeECKey writes a P-256 key, which is not RSA, to dir: its public half
// (pubFile, ec.pub.pem, PKIX) and the key (privFile, ec.pem, PKCS #8).
func writeECKey(t *testing.T, dir string) (pubFile, privFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	pubFile, privFile = filepath.Join(dir, "ec.pub.pem"), filepath.Join(dir, "ec.pem")
	if err := os.WriteFile(pubFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(privFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: priv}), 0o600); err != nil {
		t.Fatal(err)
	}
	return pubFile, privFile
}
