//go:build linux

package testtomcat

import (
	"os"
	"slices"
	"testing"

	"github.com/caddy-applink/caddy-applink/internal/oauth1"
)

var shared = &Shared{}

func TestMain(m *testing.M) {
	code := m.Run()
	shared.Stop()
	os.Exit(code)
}

// TestOracle checks the harness against facts of Tomcat and net.oauth that
// do not depend on this project: Tomcat skips a query chunk without a
// name, and net.oauth's base string of a plain request is RFC 5849's.
func TestOracle(t *testing.T) {
	srv := shared.Need(t)
	raw := "GET /rest/api/2/issue?b=2&a=1&=skipped&a=%7E%20 HTTP/1.1\r\nHost: Jira.Example.com:80\r\n" +
		`Authorization: OAuth realm="r", oauth_consumer_key="k", oauth_nonce="n"` + "\r\nConnection: close\r\n\r\n"
	status, p, err := srv.Send(raw)
	if err != nil || p == nil {
		t.Fatalf("status %d, %v; log:\n%s", status, err, srv.Log())
	}
	if got, want := p.Names(), []string{"b", "a"}; !slices.Equal(got, want) {
		t.Errorf("parameter names %q, want %q", got, want)
	}
	if got := p.Param("a"); !slices.Equal(got, []string{"1", "~ "}) {
		t.Errorf("a = %q", got)
	}
	if p.ParseFailedReason == nil || *p.ParseFailedReason != "NO_NAME" {
		t.Errorf("parse failure reason %v, want NO_NAME", p.ParseFailedReason)
	}
	want := oauth1.BaseString("GET", "http://jira.example.com/rest/api/2/issue", []oauth1.Param{
		{Key: "oauth_consumer_key", Value: "k"}, {Key: "oauth_nonce", Value: "n"},
		{Key: "b", Value: "2"}, {Key: "a", Value: "1"}, {Key: "a", Value: "~ "}})
	if p.Base() != want {
		t.Errorf("base string\n got %s\nwant %s", p.Base(), want)
	}
	if p.OAuth.Problem != "parameter_absent" {
		t.Errorf("verdict %q, want parameter_absent (no timestamp)", p.OAuth.Problem)
	}
}
