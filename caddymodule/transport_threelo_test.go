package caddymodule

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-applink/caddy-applink/internal/consumer"
	"github.com/caddy-applink/caddy-applink/internal/store"
)

// TestRenewalGoesWhereRequestsGo: a token due for renewal is renewed
// through the upstream the request is proxied to, with the remote's Host
// and context path (the remote base URL's host does not even resolve),
// and the request is then signed with the new token. A remote's
// token_rejected on a 3LO request makes the transport forget the token;
// token_expired marks it for renewal.
func TestRenewalGoesWhereRequestsGo(t *testing.T) {
	const remote = "http://jira.invalid:1234/jira"
	var mu sync.Mutex
	var seen []string
	answer := "" // for resource requests: "" (200) or an oauth_problem
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		authz := r.Header.Get("Authorization")
		seen = append(seen, r.Host+" "+r.Method+" "+r.URL.Path+" "+authz)
		if r.URL.Path == "/jira/plugins/servlet/oauth/access-token" {
			if !strings.Contains(authz, `oauth_session_handle="handle-0"`) || !strings.Contains(authz, `oauth_token="old-token"`) {
				w.Header().Set("WWW-Authenticate", `OAuth realm="x", oauth_problem="token_rejected"`)
				w.WriteHeader(401)
				return
			}
			fmt.Fprint(w, "oauth_token=new-token&oauth_token_secret=s&oauth_expires_in=3600&oauth_session_handle=handle-1&oauth_authorization_expires_in=7200")
			return
		}
		if answer != "" {
			w.Header().Set("WWW-Authenticate", `OAuth realm="x", oauth_problem="`+answer+`"`)
			w.WriteHeader(401)
			return
		}
		fmt.Fprint(w, "ok")
	}))
	t.Cleanup(srv.Close)

	tr := provisioned(t, &Transport{ConsumerKey: testConsumerKey, PrivateKeyFile: gwKeys().PrivFile, Mode: "3lo",
		User: "{http.request.header.X-Test-User}", RemoteBaseURL: remote, State: &StateConfig{Backend: "memory"}})
	t.Cleanup(func() { _ = tr.Cleanup() })
	tokens, ok := tr.tokenSrc.(*consumer.Tokens)
	if !ok {
		t.Fatalf("token source %T", tr.tokenSrc)
	}
	put := func(user string) {
		err := tokens.Store.PutRemote(context.Background(), &store.RemoteToken{Remote: remote, User: user, Token: "old-token",
			SessionHandle: "handle-0", Created: time.Now(), Expires: time.Now().Add(time.Hour), SessionEnds: time.Now().Add(48 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
	}
	send := func(user string) (*http.Response, string) {
		req := clientRequest(t, "GET", srv.URL+"/jira/rest/api/2/myself", "", "", "X-Test-User", user)
		return roundTrip(t, tr, req)
	}

	put("gina") // expires in 1 h: within the default 24 h window
	if resp, body := send("gina"); resp.StatusCode != 200 || body != "ok" {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	mu.Lock()
	if len(seen) != 2 || !strings.HasPrefix(seen[0], "jira.invalid:1234 POST /jira/plugins/servlet/oauth/access-token ") ||
		!strings.Contains(seen[1], " GET /jira/rest/api/2/myself ") || !strings.Contains(seen[1], `oauth_token="new-token"`) {
		t.Errorf("remote saw %q", seen)
	}
	seen = nil
	mu.Unlock()
	s, err := tokens.Get(context.Background(), remote, "gina")
	if err != nil || s.Token != "new-token" || s.SessionHandle != "handle-1" || time.Until(s.Expires) < 59*time.Minute {
		t.Errorf("stored after renewal: %+v %v", s, err)
	}

	// token_expired: marked for renewal (the next request renews).
	put("hank")
	tokens.RenewBefore = time.Nanosecond
	mu.Lock()
	answer = "token_expired"
	mu.Unlock()
	if resp, _ := send("hank"); resp.StatusCode != 401 {
		t.Errorf("token_expired passed on: %d", resp.StatusCode)
	}
	if s, err := tokens.Get(context.Background(), remote, "hank"); err != nil || time.Until(s.Expires) > 0 {
		t.Errorf("after token_expired: %+v %v (want kept, expired)", s, err)
	}
	mu.Lock()
	answer = "token_rejected"
	mu.Unlock()
	// The next request renews (the session lives) and is rejected: forgotten.
	if resp, _ := send("hank"); resp.StatusCode != 401 {
		t.Errorf("token_rejected passed on: %d", resp.StatusCode)
	}
	if _, err := tokens.Get(context.Background(), remote, "hank"); err == nil {
		t.Error("a rejected token was kept")
	}
	resp, body := send("hank")
	if resp.StatusCode != 401 || resp.Header.Get("X-Applink-Refused") != "no_token" ||
		resp.Header.Get("Link") != `</plugins/servlet/applinks/oauth/login-dance/authorize?applicationLinkID=jira.invalid%3A1234&redirectUrl=%2Fjira%2Frest%2Fapi%2F2%2Fmyself>; rel="authenticate"` {
		t.Errorf("after the rejection: %d %v %s", resp.StatusCode, resp.Header, body)
	}

	// The remote unreachable while the token has expired: 502, kept.
	_ = tokens.Store.PutRemote(context.Background(), &store.RemoteToken{Remote: remote, User: "ivy", Token: "old-token",
		SessionHandle: "handle-0", Expires: time.Now().Add(-time.Minute), SessionEnds: time.Now().Add(time.Hour)})
	srv.Close()
	resp, body = send("ivy")
	if resp.StatusCode != 502 || resp.Header.Get("X-Applink-Refused") != "token_renewal_failed" {
		t.Errorf("remote down: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	if _, err := tokens.Get(context.Background(), remote, "ivy"); err != nil {
		t.Errorf("token lost while the remote was down: %v", err)
	}
}
