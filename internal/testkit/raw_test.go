package testkit

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

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
