package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-applink/caddy-applink/internal/oauth1"
	"github.com/caddy-applink/caddy-applink/internal/rsakey"
	"github.com/caddy-applink/caddy-applink/internal/store"
	"github.com/caddy-applink/caddy-applink/internal/testkit"
)

const testConsumer = "caddy-applink:cli"

// Our key pair and another one, generated once per test binary.
var (
	ourKeys   = testkit.SharedKeyPair("ours")
	otherKeys = testkit.SharedKeyPair("other")
)

func ourKeyFile() string   { return ourKeys().PrivFile }
func otherKeyFile() string { return otherKeys().PrivFile }

// run executes a subcommand as the binary would (cobra flag parsing
// included) and returns its exit status and output.
func run(t *testing.T, c Command, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Execute(context.Background(), c, args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

// verifierServer is a provider verifying with our protocol core, as an
// Atlassian instance with one link to us: 2LO runs as svc-cli,
// impersonation allowed. It answers with the user and what it received.
type verifierServer struct {
	srv  *httptest.Server
	mu   sync.Mutex
	seen []string
}

func newVerifierServer(t *testing.T) *verifierServer {
	t.Helper()
	vs := &verifierServer{}
	vs.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		base, _ := oauth1.ParseBaseURL(vs.srv.URL)
		consumer := &oauth1.Consumer{Key: testConsumer, PublicKey: ourKeys().Public(), TwoLeggedUser: "svc-cli", Impersonation: true}
		v := &oauth1.Verifier{
			BaseURL:   base,
			Consumers: func(k string) *oauth1.Consumer { return map[string]*oauth1.Consumer{testConsumer: consumer}[k] },
			Nonces:    nonces{store.NewMemory()},
		}
		body, _ := io.ReadAll(r.Body)
		form := ""
		if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
			form = string(body)
		}
		res, p := v.Verify(r.Context(), &oauth1.Request{Method: r.Method, RawPath: r.URL.EscapedPath(), RawQuery: r.URL.RawQuery,
			Authorization: r.Header.Values("Authorization"), Form: form})
		vs.mu.Lock()
		vs.seen = append(vs.seen, r.Method+" "+r.RequestURI+" "+string(body))
		vs.mu.Unlock()
		if p != nil {
			p.Write(w, vs.srv.URL)
			return
		}
		if res.Mode == oauth1.ModeAnonymous {
			switch r.URL.Path {
			case "/rest/applinks/1.0/manifest":
				w.Header().Set("Content-Type", "application/xml")
				fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><manifest><id>x</id><name>Fake Jira</name><typeId>jira</typeId><version>9.12.2</version><buildNumber>912002</buildNumber><applinksVersion>9.1.4</applinksVersion><inboundAuthenticationTypes>com.atlassian.applinks.api.auth.types.OAuthAuthenticationProvider</inboundAuthenticationTypes><publicSignup>false</publicSignup><url>%s</url></manifest>`, vs.srv.URL)
				return
			case "/plugins/servlet/oauth/consumer-info":
				pub, _ := rsakey.ConsumerInfoString(otherKeys().Public())
				w.Header().Set("Content-Type", "application/xml;charset=UTF-8")
				fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><consumer><key>jira:fake</key><name>Fake Jira</name><publicKey>%s</publicKey></consumer>`, pub)
				return
			}
		}
		w.Header().Set("X-Mode", string(res.Mode))
		fmt.Fprintf(w, "user=%s body=%s", res.User, body)
	}))
	t.Cleanup(vs.srv.Close)
	return vs
}

// nonces is the real in-memory nonce store, remembering from the start of
// time: these tests sign and verify within the second the store is made.
type nonces struct{ *store.Memory }

func (nonces) Since() time.Time { return time.Time{} }
