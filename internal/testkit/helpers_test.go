package testkit

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddy-applink/caddy-applink/internal/oauth1"
	"github.com/caddy-applink/caddy-applink/internal/rsakey"
)

func TestLogEntries(t *testing.T) {
	file := filepath.Join(t.TempDir(), "caddy.log")
	if err := os.WriteFile(file, []byte(`{"msg":"handled request"}`+"\nnot json\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Written late, as Caddy's asynchronous log writer would.
	go func() {
		time.Sleep(200 * time.Millisecond)
		f, _ := os.OpenFile(file, os.O_APPEND|os.O_WRONLY, 0)
		fmt.Fprintln(f, `{"msg":"token renewal failed","user":"alice"}`)
		fmt.Fprintln(f, `{"msg":"token renewal failed","user":"bob"}`)
		f.Close()
	}()
	got := LogEntries(t, file, "renewal failed")
	if len(got) != 2 || got[0]["user"] != "alice" || got[1]["user"] != "bob" {
		t.Errorf("LogEntries = %v", got)
	}
	if got := LogEntries(t, file, "never logged"); len(got) != 0 {
		t.Errorf("LogEntries of a message never logged = %v", got)
	}
}

func TestRawRequest(t *testing.T) {
	for _, tc := range []struct {
		headers   []string
		body      string
		keepAlive bool
		want      string
	}{
		{nil, "", false, "GET /a HTTP/1.1\r\nHost: h:1\r\nConnection: close\r\n\r\n"},
		{[]string{"host: other"}, "", true, "GET /a HTTP/1.1\r\nhost: other\r\n\r\n"},
		{[]string{"X: 1"}, "a=1", false, "GET /a HTTP/1.1\r\nHost: h:1\r\nX: 1\r\nContent-Length: 3\r\nConnection: close\r\n\r\na=1"},
		{[]string{"Transfer-Encoding: chunked"}, "0\r\n\r\n", true, "GET /a HTTP/1.1\r\nHost: h:1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
	} {
		if got := RawRequest("h:1", "GET", "/a", tc.headers, tc.body, tc.keepAlive); got != tc.want {
			t.Errorf("RawRequest(%q, %q, %v) = %q, want %q", tc.headers, tc.body, tc.keepAlive, got, tc.want)
		}
	}
}

func TestExchange(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("WWW-Authenticate", `OAuth realm="x", oauth_problem="nonce_used"`)
		fmt.Fprintf(w, "%s %s %s", r.Method, r.RequestURI, b)
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	raw := RawRequest(addr, "GET", "/a", nil, "", true) + RawRequest(addr, "POST", "/b", nil, "x=1", false)
	resps, err := Exchange(addr, raw, false)
	if err != nil || len(resps) != 2 || resps[0].Body != "GET /a " || resps[1].Body != "POST /b x=1" {
		t.Fatalf("Exchange: %v %+v", err, resps)
	}
	if p := Problem(resps[0].Header.Get("WWW-Authenticate")); p != "nonce_used" {
		t.Errorf("Problem = %q", p)
	}
	if status, body := SendRaw(t, addr, RawRequest(addr, "PUT", "/c", nil, "", false)); status != 200 || body != "PUT /c " {
		t.Errorf("SendRaw: %d %q", status, body)
	}
}

func TestProblem(t *testing.T) {
	for h, want := range map[string]string{
		`OAuth realm="x", oauth_problem="signature_invalid"`: "signature_invalid",
		`OAuth realm="x"`:                "",
		`OAuth oauth_problem="truncated`: "truncated",
	} {
		if got := Problem(h); got != want {
			t.Errorf("Problem(%q) = %q, want %q", h, got, want)
		}
	}
}

// TestSign: what Sign writes verifies with the protocol core, wherever the
// parameters travel, and a tampered target does not.
func TestSign(t *testing.T) {
	key, err := rsakey.Generate(2048)
	if err != nil {
		t.Fatal(err)
	}
	base, _ := oauth1.ParseBaseURL("http://localhost:9999")
	verify := func(w Signed) *oauth1.Problem {
		r := &oauth1.Request{Method: w.Method, Form: w.Form}
		path, query, _ := strings.Cut(w.Target, "?")
		r.RawPath, r.RawQuery = path, query
		if w.Auth != "" {
			r.Authorization = []string{w.Auth}
		}
		v := &oauth1.Verifier{BaseURL: base, Nonces: nopNonces{},
			Consumers: func(string) *oauth1.Consumer {
				return &oauth1.Consumer{Key: "c", PublicKey: &key.PublicKey, TwoLeggedUser: "svc"}
			}}
		_, p := v.Verify(t.Context(), r)
		return p
	}
	for _, loc := range []oauth1.Location{oauth1.InHeader, oauth1.InQuery, oauth1.InForm} {
		s := OAuth{Method: "POST", Target: "/rest/a?x=1", Form: "y=2", Base: "http://localhost:9999", Consumer: "c", Key: key, Loc: loc}
		w, err := s.Sign()
		if err != nil {
			t.Fatal(err)
		}
		if p := verify(w); p != nil {
			t.Errorf("%v: %v", loc, p)
		}
		s.SignedAs = "/rest/b?x=1"
		if w, _ = s.Sign(); verify(w) == nil {
			t.Errorf("%v: signed for another path, verified", loc)
		}
	}
}

// nopNonces remembers nothing and from the start of time.
type nopNonces struct{}

func (nopNonces) Seen(context.Context, string, int64) (bool, error) { return false, nil }
func (nopNonces) Record(context.Context, string, int64, time.Time) (bool, error) {
	return true, nil
}
func (nopNonces) Since() time.Time { return time.Time{} }
