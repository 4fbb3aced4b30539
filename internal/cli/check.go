package cli

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/caddy-applink/caddy-applink/internal/consumer"
	"github.com/caddy-applink/caddy-applink/internal/manifest"
	"github.com/caddy-applink/caddy-applink/internal/oauth1"
	"github.com/caddy-applink/caddy-applink/internal/rsakey"
	"github.com/caddy-applink/caddy-applink/internal/signer"
)

func checkCommand() Command {
	return Command{
		Name:  "check",
		Usage: "--consumer-key <key> --key <file> [--path <path>] [--as <user>] [--remote-base-url <url>] [--timeout <d>] <base_url>",
		Short: "Diagnoses an application link to a remote Atlassian application",
		Long: `
Checks an application link from this side, as Atlassian's applinks would use
it, and says in words what is wrong:

1. GET <base_url>/rest/applinks/1.0/manifest, anonymously, without following
   redirects (as the link wizard does);
2. GET <base_url>/plugins/servlet/oauth/consumer-info, anonymously;
3. a GET of <base_url><path> signed with our consumer key and private key,
   2-legged (or with impersonation, --as), and a diagnosis of the remote's
   answer: every oauth_problem of OAuth's Problem Reporting extension,
   redirects, clock skew, base-URL mismatches (with both base strings);
   through a caddy-applink gateway, which hop refused; with --path, the
   user the answer names;
4. the same request with a corrupted signature, which must be refused with
   an OAuth problem: otherwise nothing verifies signatures at this URL, and
   the 200 of step 3 proves nothing.

--consumer-key     our consumer key, as the remote knows it (required)
--key              our private key, PEM (required)
--path             what to request signed (default /rest/applinks/1.0/manifest;
                   /rest/api/2/myself shows which user Jira runs it as)
--as               impersonate this user (2LO with impersonation)
--remote-base-url  the URL to sign against, if not <base_url>
--timeout          per request (default 10s, as the applinks wizard)

Exit status: 0 when the link works (the signed request succeeded, its
mis-signed copy was refused, and no step reported an error), 1 otherwise.
`,
		CobraFunc: func(cmd *cobra.Command) {
			var o CheckOptions
			f := cmd.Flags()
			bindLinkFlags(cmd, &o.ConsumerKey, &o.KeyFile, &o.RemoteBaseURL, "URL to sign against (default: the base URL)",
				&o.Timeout, 10*time.Second, "Timeout of each request")
			f.StringVar(&o.Path, "path", manifest.ManifestPath, "Path to request signed, relative to the base URL")
			f.StringVar(&o.As, "as", "", "User to impersonate")
			cmd.Args = cobra.ExactArgs(1)
			cmd.RunE = runE(func(cmd *cobra.Command, args []string) (int, error) {
				o.BaseURL = args[0]
				return Check(cmd.Context(), o, cmd.OutOrStdout())
			})
		},
	}
}

// CheckOptions are the flags of `applink check`.
type CheckOptions struct {
	BaseURL       string
	ConsumerKey   string
	KeyFile       string
	Path          string
	As            string
	RemoteBaseURL string
	Timeout       time.Duration
}

// Check diagnoses the link to o.BaseURL and reports on out. It returns 0
// when the link works (the signed request succeeded, a mis-signed copy was
// refused, and no step reported an error), 1 otherwise.
func Check(ctx context.Context, o CheckOptions, out io.Writer) (int, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	base, err := oauth1.ParseBaseURL(o.BaseURL)
	if err != nil {
		return 1, err
	}
	baseURL := base.Origin() + base.ContextPath()
	remote := o.RemoteBaseURL
	if remote == "" {
		remote = baseURL
	}
	s, err := newSigner(o.ConsumerKey, o.KeyFile, remote)
	if err != nil {
		return 1, err
	}
	path := o.Path
	if path == "" {
		path = manifest.ManifestPath
	}
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	client := newClient(timeout)
	p := &report{w: out}

	p.printf("Checking the application link to %s as consumer %q\n", baseURL, o.ConsumerKey)

	p.section("Manifest", "GET "+baseURL+manifest.ManifestPath+" (anonymous)")
	checkManifest(ctx, p, client, baseURL)

	p.section("Consumer info", "GET "+baseURL+manifest.ConsumerInfoPath+" (anonymous)")
	checkConsumerInfo(ctx, p, client, baseURL)

	mode := signer.Mode2LO
	if o.As != "" {
		mode = signer.ModeImpersonation
	}
	target := baseURL + path
	p.section("Signed request", fmt.Sprintf("GET %s (%s, signed against %s)", target, modeName(mode, o.As), s.RemoteBaseURL().Origin()+s.RemoteBaseURL().ContextPath()))
	ok := checkSigned(ctx, p, client, s, target, mode, o.As, path != manifest.ManifestPath)
	if ok {
		// A 200 alone proves nothing: a site that verifies nothing (or a
		// Host that matched no site, which Caddy answers with an empty
		// 200) says the same.
		p.section("Mis-signed copy", "the same GET with a corrupted signature, which must be refused")
		ok = checkMisSigned(ctx, p, client, s, target, mode, o.As)
	}

	p.printf("\n")
	if ok && p.errors == 0 {
		p.printf("Result: the link works: %s verified our signature and accepted it.\n", baseURL)
		return 0, nil
	}
	p.printf("Result: the link does NOT work.\n")
	return 1, nil
}

// report writes the check's output and counts its errors: one error
// anywhere means the link does not work.
type report struct {
	w      io.Writer
	errors int
}

func (r *report) printf(format string, args ...any) { fmt.Fprintf(r.w, format, args...) }

func (r *report) section(title, what string) {
	r.printf("\n%s: %s\n", title, what)
}

// line writes an indented line; kind is "", "ok", "warning" or "error".
func (r *report) line(kind, format string, args ...any) {
	prefix := "  "
	if kind == "error" {
		r.errors++
	}
	if kind != "" {
		prefix += "[" + kind + "] "
	}
	r.printf("%s%s\n", prefix, fmt.Sprintf(format, args...))
}

func modeName(m signer.Mode, user string) string {
	switch m {
	case signer.ModeImpersonation:
		return "2LO with impersonation of " + user
	case signer.Mode3LO:
		return "3LO"
	}
	return "2LO"
}

type fetched struct {
	status   int
	header   http.Header
	body     []byte
	sentAt   time.Time
	received time.Time
}

func fetch(ctx context.Context, client *http.Client, req *http.Request) (*fetched, error) {
	f := &fetched{sentAt: time.Now()}
	resp, err := client.Do(req.WithContext(ctx))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	f.received = time.Now()
	f.status, f.header = resp.StatusCode, resp.Header
	f.body, err = readLimited(resp.Body, 1<<20)
	return f, err
}

func anonymousGet(ctx context.Context, client *http.Client, url, accept string) (*fetched, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", accept)
	return fetch(ctx, client, req)
}

func checkManifest(ctx context.Context, p *report, client *http.Client, baseURL string) {
	f, err := anonymousGet(ctx, client, baseURL+manifest.ManifestPath, "application/xml")
	if err != nil {
		p.line("error", "cannot fetch it: %v", err)
		p.line("", "The remote is unreachable from here (DNS, firewall, TLS certificate?). Nothing else can work.")
		return
	}
	if redirected(p, f, "/rest/applinks/") {
		return
	}
	if f.status != http.StatusOK {
		if rp, _ := problemOf(f); rp.Problem != "" {
			p.line("error", "%d %s, oauth_problem=%s: anonymous requests are refused here", f.status, http.StatusText(f.status), rp.Problem)
			p.line("", "Atlassian serves the manifest anonymously; something in front of the remote requires OAuth on every request (a caddy-applink with `anonymous reject` needs `applink_publish`). The link wizard needs this URL to answer 200 anonymously.")
			return
		}
		p.line("error", "%d %s: %s", f.status, http.StatusText(f.status), snippet(f.body))
		p.line("", "Not an Atlassian application at this URL, or something in front of it (SSO, proxy) blocks anonymous access. The link wizard needs this URL to answer 200 anonymously.")
		return
	}
	var m manifest.Manifest
	ct := mediaTypeOf(f.header.Get("Content-Type"))
	if ct == "application/json" {
		err = json.Unmarshal(f.body, &m)
	} else {
		err = xml.Unmarshal(f.body, &m)
	}
	if err == nil && m.ID == "" && m.Name == "" && m.TypeID == "" {
		err = errors.New("no id, name or type")
	}
	if err != nil {
		p.line("error", "200 %s, but not an applinks manifest: %v", ct, err)
		p.line("", "The link wizard reads the manifest to learn what the remote is: an Atlassian product serves it; a caddy-applink in front of anything else serves it with applink_publish. (The repository's demo and stand-in products publish none.)")
		return
	}
	p.line("ok", "%s (%s %s, applinks %s), id %s", m.Name, m.TypeID, m.Version, m.ApplinksVersion, m.ID)
	if m.URL != "" {
		mb, err1 := oauth1.ParseBaseURL(m.URL)
		cb, err2 := oauth1.ParseBaseURL(baseURL)
		if err1 == nil && err2 == nil && mb.Origin()+mb.ContextPath() != cb.Origin()+cb.ContextPath() {
			p.line("warning", "the remote says its base URL is %s, not %s. Links use the remote's base URL: sign against it (--remote-base-url %s), or fix the base URL in the remote's settings or the proxy in front of it.", m.URL, baseURL, m.URL)
		} else {
			p.line("", "base URL %s", m.URL)
		}
	}
	if !containsSuffix(m.Inbound, ".OAuthAuthenticationProvider") && !containsSuffix(m.Inbound, ".TwoLeggedOAuthAuthenticationProvider") {
		p.line("warning", "the manifest lists no inbound OAuth authentication: %s", strings.Join(m.Inbound, ", "))
	}
}

func checkConsumerInfo(ctx context.Context, p *report, client *http.Client, baseURL string) {
	f, err := anonymousGet(ctx, client, baseURL+manifest.ConsumerInfoPath, "application/xml")
	if err != nil {
		p.line("error", "cannot fetch it: %v", err)
		return
	}
	if redirected(p, f, "/plugins/servlet/") {
		return
	}
	if f.status != http.StatusOK {
		p.line("warning", "%d %s: the remote does not publish its own consumer identity here (needed only for links in the other direction)", f.status, http.StatusText(f.status))
		return
	}
	if ct := f.header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/xml") {
		p.line("warning", "Content-Type %q: Atlassian's applinks accept only application/xml", ct)
	}
	var ci manifest.ConsumerInfo
	if err := xml.Unmarshal(f.body, &ci); err != nil {
		p.line("warning", "200, but not a consumer-info document (%v): the remote does not publish its own consumer identity (needed only for links in the other direction)", err)
		return
	}
	pub, err := rsakey.ParsePublic([]byte(ci.PublicKey))
	if err != nil {
		p.line("warning", "key %s, name %q, but its public key does not parse: %v", ci.Key, ci.Name, err)
		return
	}
	p.line("ok", "the remote's own consumer: key %s, name %q, RSA %d-bit public key", ci.Key, ci.Name, pub.N.BitLen())
}

// redirected reports a 3xx (and returns true): the applinks wizard does not
// follow redirects, it takes them as a different base URL.
func redirected(p *report, f *fetched, marker string) bool {
	if f.status < 300 || f.status > 399 {
		return false
	}
	loc := f.header.Get("Location")
	p.line("error", "%d redirect to %s", f.status, loc)
	newBase := loc
	if i := strings.Index(loc, marker); i >= 0 {
		newBase = loc[:i]
	}
	p.line("", "Atlassian's applinks do not follow redirects: they take this as the remote's base URL being %s. Use that URL, or stop the redirect (http to https, trailing slash, a login page in front of the remote).", newBase)
	return true
}

func checkSigned(ctx context.Context, p *report, client *http.Client, s *signer.Signer, target string, mode signer.Mode, user string, showUser bool) bool {
	req, err := http.NewRequest(http.MethodGet, target, nil)
	if err != nil {
		p.line("error", "%v", err)
		return false
	}
	req.Header.Set("Accept", "application/xml, application/json;q=0.9, */*;q=0.5")
	signed, err := s.SignRequest(req, mode, user, nil)
	if err != nil {
		p.line("error", "cannot sign: %v", err)
		return false
	}
	f, err := fetch(ctx, client, req)
	if err != nil {
		p.line("error", "cannot reach the remote: %v", err)
		p.line("", "Check DNS, firewalls and TLS certificates between here and the remote.")
		return false
	}
	d := &diagnosis{p: p, f: f, signed: signed, mode: mode, showUser: showUser}
	return d.run()
}

// checkMisSigned sends a copy of the signed request whose signature is
// corrupted: only a refusal with an OAuth problem proves that something at
// target verified the first one.
func checkMisSigned(ctx context.Context, p *report, client *http.Client, s *signer.Signer, target string, mode signer.Mode, user string) bool {
	req, err := http.NewRequest(http.MethodGet, target, nil)
	if err != nil {
		p.line("error", "%v", err)
		return false
	}
	if _, err := s.SignRequest(req, mode, user, nil); err != nil {
		p.line("error", "cannot sign: %v", err)
		return false
	}
	req.Header.Set("Authorization", corruptSignature(req.Header.Get("Authorization")))
	f, err := fetch(ctx, client, req)
	if err != nil {
		p.line("error", "cannot reach the remote: %v", err)
		return false
	}
	rp, challenge := problemOf(f)
	switch {
	case f.status >= 200 && f.status < 300:
		p.line("error", "%d %s: the mis-signed copy was accepted too", f.status, http.StatusText(f.status))
		p.line("", "Nothing verifies signatures at this URL: the first 200 proves nothing. The Host may match no site of the proxy in front (Caddy then answers an empty 200), the request may not reach an Atlassian product, or nothing there checks OAuth. Check the base URL and the proxy's site addresses.")
		return false
	case rp.Problem != "" || challenge && f.status == http.StatusUnauthorized:
		p.line("ok", "%d %s, oauth_problem=%s: something here verifies signatures", f.status, http.StatusText(f.status), cmp.Or(rp.Problem, "(none)"))
		return true
	}
	p.line("error", "%d %s without an OAuth problem: %s", f.status, http.StatusText(f.status), snippet(f.body))
	p.line("", "Cannot tell whether anything verifies signatures at this URL: a mis-signed request must be refused with an OAuth challenge (401, WWW-Authenticate: OAuth).")
	return false
}

// corruptSignature changes one character of the oauth_signature of an
// Authorization header, keeping it valid base64 of the same length.
func corruptSignature(h string) string {
	const key = `oauth_signature="`
	i := strings.Index(h, key)
	if i < 0 || i+len(key) >= len(h) {
		return h
	}
	j := i + len(key)
	c := byte('A')
	if h[j] == 'A' {
		c = 'B'
	}
	return h[:j] + string(c) + h[j+1:]
}

func containsSuffix(list []string, suffix string) bool {
	for _, s := range list {
		if strings.HasSuffix(s, suffix) {
			return true
		}
	}
	return false
}

func mediaTypeOf(ct string) string {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		mt, _, _ = strings.Cut(ct, ";")
		return strings.ToLower(strings.TrimSpace(mt))
	}
	return mt
}

// snippet shortens a body for a report line.
func snippet(b []byte) string {
	s := string(bytes.TrimSpace(b))
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	if s == "" {
		return "(empty body)"
	}
	return s
}

// problemOf merges the OAuth problem of a response's WWW-Authenticate
// headers with the one of its form-encoded body (the Problem Reporting
// extension allows either).
func problemOf(f *fetched) (consumer.RemoteProblem, bool) {
	rp, ok := consumer.ParseProblem(f.header.Values("WWW-Authenticate"))
	body := strings.TrimSpace(string(f.body))
	if !strings.HasPrefix(body, "oauth_") {
		return rp, ok
	}
	params, err := oauth1.ParseForm(body)
	if err != nil {
		return rp, ok
	}
	have := map[string]bool{}
	for _, kv := range rp.Params {
		have[kv.Key] = true
	}
	for _, kv := range params {
		if oauth1.IsOAuthParam(kv.Key) && !have[kv.Key] {
			rp.Params = append(rp.Params, kv)
			have[kv.Key] = true
		}
	}
	if rp.Problem == "" {
		rp.Problem = rp.Get("oauth_problem")
	}
	return rp, ok || rp.Problem != ""
}

var errNoDate = errors.New("no Date header")

// clockOffset estimates how far the remote's clock is ahead of ours, from
// the Date header (1 s resolution) against the middle of the round trip.
func clockOffset(f *fetched) (time.Duration, error) {
	d := f.header.Get("Date")
	if d == "" {
		return 0, errNoDate
	}
	remote, err := http.ParseTime(d)
	if err != nil {
		return 0, err
	}
	mid := f.sentAt.Add(f.received.Sub(f.sentAt) / 2)
	return remote.Sub(mid).Round(time.Second), nil
}
