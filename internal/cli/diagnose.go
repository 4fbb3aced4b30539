package cli

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caddy-applink/caddy-applink/internal/consumer"
	"github.com/caddy-applink/caddy-applink/internal/oauth1"
	"github.com/caddy-applink/caddy-applink/internal/signer"
)

// problemText is the one-line cause of every oauth_problem of net.oauth's
// table (docs/protocol.md), in the words an admin needs.
var problemText = map[string]string{
	oauth1.VersionRejected:              "the remote does not accept oauth_version 1.0 as sent (something in between altered the OAuth parameters)",
	oauth1.ParameterAbsent:              "the remote did not get all OAuth parameters (a proxy in between strips the Authorization header or parameters)",
	oauth1.ParameterRejected:            "the remote rejected an OAuth parameter as malformed or duplicated",
	oauth1.TimestampRefused:             "clock skew: the remote's clock and ours differ by more than its window (5 minutes)",
	oauth1.SignatureMethodRejected:      "the remote does not accept RSA-SHA1 for this consumer key (it is registered there with a shared secret, or not as an RSA consumer)",
	oauth1.NonceUsed:                    "the remote has seen this request's nonce before (a replay, or a proxy retrying signed requests)",
	oauth1.TokenUsed:                    "the request token was already authorized or denied (3LO dance)",
	oauth1.TokenExpired:                 "the access token expired: renew it or do the 3LO dance again",
	oauth1.TokenRevoked:                 "the access token was revoked: do the 3LO dance again",
	oauth1.TokenRejected:                "the remote does not accept the oauth_token (unknown, revoked, another consumer's, or altered on the way)",
	"token_not_authorized":              "the token was never authorized by the user (3LO dance not finished)",
	oauth1.SignatureInvalid:             "the signature does not verify: base URL or proxy mismatch (the remote reconstructs a different URL), or the remote holds another public key for this consumer",
	oauth1.ConsumerKeyUnknown:           "the link is not registered at the remote under this consumer key, or the consumer is stale: reset OAuth on the link",
	oauth1.ConsumerKeyRejected:          "the remote knows this consumer key but refuses it",
	"consumer_key_refused":              "the remote refuses this consumer for now (HTTP 503): retry later",
	"additional_authorization_required": "the remote wants more authorization than this request carries (a user's 3LO token)",
	oauth1.PermissionUnknown:            "the user has not yet approved the request token (3LO dance not finished)",
	oauth1.PermissionDenied:             "2-legged OAuth (or impersonation) is not enabled for this consumer at the remote, or the user denied access",
	"user_refused":                      "the remote refuses the user for now (HTTP 503): retry later",
}

// shortDiagnosis is the cause of a problem code in one line.
func shortDiagnosis(problem string) string {
	if problem == "" {
		return "a bare OAuth refusal: 2-legged OAuth or impersonation is not enabled for this consumer at the remote, or the user may not log in"
	}
	if t, ok := problemText[problem]; ok {
		return t
	}
	return "an oauth_problem this tool does not know; see the remote's logs"
}

// diagnosis explains the remote's answer to the signed request.
type diagnosis struct {
	p        *report
	f        *fetched
	signed   *signer.Signed
	mode     signer.Mode
	showUser bool // --path: say which user the answer names
}

// run reports on the answer and returns whether the link works.
func (d *diagnosis) run() bool {
	f := d.f
	rp, oauthChallenge := problemOf(f)
	if f.status >= 200 && f.status < 300 && rp.Problem == "" {
		d.p.line("ok", "%d %s", f.status, http.StatusText(f.status))
		d.clockReport()
		if d.showUser {
			if u := userOf(f); u != "" {
				d.p.line("ok", "the remote ran the request as %s", u)
			} else {
				d.p.line("", "The answer names no user (Jira: --path /rest/api/2/myself, Confluence: /rest/api/user/current, Bamboo: /rest/api/latest/currentUser, Bitbucket: /plugins/servlet/applinks/whoami).")
			}
		}
		if d.mode == signer.Mode2LO && !d.showUser {
			d.p.line("", "Note: Atlassian runs a 2LO request as the link's execute-as user, or anonymously when it has none, and the manifest is public: a 200 here proves the signature, not the user. --path /rest/api/2/myself (Jira) shows which user the request runs as.")
		}
		return true
	}
	if hops := f.header.Values(consumer.RemoteRefusedHeader); len(hops) > 0 && (rp.Problem != "" || oauthChallenge) {
		d.p.line("error", "%d %s, oauth_problem=%s, from %s, behind the proxy we sent to", f.status, http.StatusText(f.status), cmp.Or(rp.Problem, "(none)"), hops[len(hops)-1])
		d.p.line("", "The proxy accepted our signature and sent its own signed request on; %s refused that one. The fault is in the proxy's link to %s (its consumer key, its private key or its clock there), not in ours.", hops[len(hops)-1], hops[len(hops)-1])
		d.p.line("", "Cause at that hop: %s.", shortDiagnosis(rp.Problem))
		d.p.line("", "Run applink check on the proxy's host, with the proxy's consumer key and key, against %s.", hops[len(hops)-1])
		return false
	}
	if rp.Problem != "" && f.header.Get(consumer.VerifierHeader) != "" {
		d.p.line("error", "%d %s, oauth_problem=%s, from the caddy-applink proxy at the URL we called", f.status, http.StatusText(f.status), rp.Problem)
		d.proxyRefused(rp)
		return false
	}
	if rp.Problem != "" {
		d.p.line("error", "%d %s, oauth_problem=%s", f.status, http.StatusText(f.status), rp.Problem)
		d.explain(rp)
		return false
	}
	switch {
	case f.status >= 300 && f.status < 400:
		d.p.line("error", "%d redirect to %s", f.status, f.header.Get("Location"))
		d.p.line("", "The remote redirects the signed request: the URL we signed is not the remote's base URL (http vs https, context path, trailing slash, a login page). Sign against the URL the remote really uses (--remote-base-url, and the base URL argument).")
	case f.status == http.StatusUnauthorized && oauthChallenge:
		d.p.line("error", "401 with an OAuth challenge but no oauth_problem")
		d.p.line("", "Cause: %s.", shortDiagnosis(""))
		d.p.line("", "Atlassian answers so, without a problem code, when \"Allow 2-Legged OAuth\" (with an execute-as user) is off for this consumer in the remote's incoming authentication, when impersonation is not allowed, or when the user may not log in (deactivated, no product access).")
		d.p.line("", "Fix: on the remote, Application links > this link > Incoming Authentication: enable 2-legged OAuth (and impersonation, if you use --as).")
	case f.status == http.StatusUnauthorized:
		d.p.line("error", "401 without an OAuth challenge: %s", snippet(f.body))
		d.p.line("", "Something in front of the remote (an SSO layer, an authenticating proxy) asked for credentials before the request reached the remote's OAuth filter. Let signed requests through to the product.")
	case f.status == http.StatusForbidden:
		d.p.line("error", "403 Forbidden: %s", snippet(f.body))
		d.p.line("", "The signature was probably accepted, but the user the request runs as may not see this resource, or a firewall or WAF refuses it. Try --path with a resource that user can read.")
	case f.status == http.StatusNotFound:
		d.p.line("error", "404 Not Found: nothing at this path on the remote. Check the base URL (context path?) and --path.")
	case f.status >= 500:
		d.p.line("error", "%d %s: the remote (or a proxy in front of it) failed: %s", f.status, http.StatusText(f.status), snippet(f.body))
	default:
		d.p.line("error", "%d %s: %s", f.status, http.StatusText(f.status), snippet(f.body))
	}
	return false
}

// proxyRefused explains a refusal by a caddy-applink in front of the
// product: its consumer blocks decide, not the product's links.
func (d *diagnosis) proxyRefused(rp consumer.RemoteProblem) {
	p, key := d.p, d.consumerKey()
	if adv := rp.Get("oauth_problem_advice"); adv != "" {
		p.line("", "The proxy's advice: %s", adv)
	}
	switch rp.Problem {
	case oauth1.PermissionDenied:
		p.line("", "Its `consumer %s` block does not allow this: add `impersonation` for --as, or `two_legged <user>` for plain 2LO, in the proxy's Caddyfile (the product behind it was not asked).", key)
	case oauth1.ConsumerKeyUnknown:
		p.line("", "The proxy has no `consumer %s` block: add one, with our public key (`public_key_file`), to the proxy's `applink` directive.", key)
	case oauth1.SignatureInvalid:
		d.signatureInvalid(rp)
		p.line("", "The proxy verifies against its `base_url` and the public key of its `consumer %s` block.", key)
	default:
		p.line("", "Cause: %s.", shortDiagnosis(rp.Problem))
		p.line("", "The proxy's log names the reason (`request refused`, with consumer %q).", key)
	}
}

// explain writes cause, confirmation and fix for an oauth_problem.
func (d *diagnosis) explain(rp consumer.RemoteProblem) {
	p := d.p
	p.line("", "Cause: %s.", shortDiagnosis(rp.Problem))
	if adv := rp.Get("oauth_problem_advice"); adv != "" {
		p.line("", "The remote's advice: %s", adv)
	}
	switch rp.Problem {
	case oauth1.ConsumerKeyUnknown:
		p.line("", "The remote has no incoming consumer %q. On the remote: Administration > Application links > the link to us > Incoming Authentication (OAuth): the consumer key must be exactly ours and the public key our consumer-info's. If the link was deleted and re-created, or our key changed, reset OAuth on the link there (remove incoming authentication and set it up again from our consumer-info).", d.consumerKey())
	case oauth1.SignatureInvalid:
		d.signatureInvalid(rp)
	case oauth1.TimestampRefused:
		d.timestampRefused(rp)
	case oauth1.SignatureMethodRejected:
		acc := rp.Get("oauth_acceptable_signature_methods")
		if acc != "" {
			p.line("", "Acceptable signature methods there: %s; we sign with RSA-SHA1.", acc)
		}
		p.line("", "Application links sign with RSA-SHA1 and a public key. The remote's consumer %q must be an RSA consumer: re-create its incoming authentication with our public key (consumer-info, or `applink keygen` output), not a shared secret.", d.consumerKey())
	case oauth1.PermissionDenied:
		p.line("", "On the remote: Application links > the link to us > Incoming Authentication: enable \"Allow 2-Legged OAuth\" and set an execute-as user; for --as also \"Allow user impersonation through 2-Legged OAuth\". With impersonation, the user must exist and be allowed to log in there.")
	case oauth1.ParameterAbsent:
		if a := rp.Get("oauth_parameters_absent"); a != "" {
			p.line("", "Missing there: %s. We sent them in the Authorization header: a proxy between here and the remote drops that header (Apache needs CGIPassAuth or a rewrite rule for it in some setups).", a)
		}
	case oauth1.ParameterRejected:
		if r := rp.Get("oauth_parameters_rejected"); r != "" {
			p.line("", "Rejected there: %s.", r)
		}
		p.line("", "We send each oauth_* parameter once, in the Authorization header. A proxy that adds OAuth parameters to the query, or a client-supplied oauth_* parameter that survived, makes them duplicated.")
	case oauth1.VersionRejected:
		p.line("", "Acceptable versions there: %s; we send oauth_version=1.0.", rp.Get("oauth_acceptable_versions"))
	case oauth1.NonceUsed:
		p.line("", "Run the check again: a fresh nonce should pass. If it keeps failing, a proxy or load balancer between here and the remote retries or replays signed requests; stop it retrying.")
	case oauth1.TokenRejected, oauth1.TokenUsed, oauth1.TokenExpired, oauth1.TokenRevoked, "token_not_authorized", oauth1.PermissionUnknown:
		if d.mode != signer.Mode3LO {
			p.line("", "This was a 2-legged request with oauth_token=\"\": the remote should not look up a token. Something in between altered the oauth_token parameter, or the remote does not treat empty tokens as 2LO.")
		} else {
			p.line("", "Get a new access token: do the 3LO dance again (or renew with oauth_session_handle before the token expires).")
		}
	case oauth1.ConsumerKeyRejected, "consumer_key_refused", "user_refused", "additional_authorization_required":
		p.line("", "See the remote's log (atlassian-jira.log or equivalent) for why it refuses.")
	default:
		p.line("", "oauth_problem %q is not one net.oauth defines; see the remote's logs.", rp.Problem)
	}
}

func (d *diagnosis) consumerKey() string {
	for _, kv := range d.signed.Params {
		if kv.Key == "oauth_consumer_key" {
			return kv.Value
		}
	}
	return ""
}

func (d *diagnosis) param(key string) string {
	for _, kv := range d.signed.Params {
		if kv.Key == key {
			return kv.Value
		}
	}
	return ""
}

func (d *diagnosis) signatureInvalid(rp consumer.RemoteProblem) {
	p := d.p
	p.line("", "Our base string:    %s", d.signed.BaseString)
	theirs := rp.Get("oauth_signature_base_string")
	if theirs == "" {
		p.line("", "The remote did not return its base string. Known causes (Atlassian KB 720406720):")
	} else {
		p.line("", "Remote base string: %s", theirs)
		for _, diff := range compareBaseStrings(d.signed.BaseString, theirs) {
			p.line("", "%s", diff)
		}
		if d.signed.BaseString != theirs {
			p.line("", "Other known causes (Atlassian KB 720406720):")
		}
	}
	if theirs == "" || d.signed.BaseString != theirs {
		p.line("", " - the URL we sign (%s) is not the remote's base URL: use the URL in the remote's general settings (--remote-base-url);", d.signed.URL)
		p.line("", " - a reverse proxy in front of the remote sends it another Host, scheme or port than its connector's proxyName/proxyPort/scheme say;")
		p.line("", " - a CDN or firewall strips or rewrites query parameters; NGINX proxy_cache turns HEAD into GET;")
		p.line("", " - Tomcat useBodyEncodingForURI=true changes how the remote decodes the query;")
		p.line("", " - the remote holds another public key for consumer %q: publish ours again.", d.consumerKey())
	}
}

// compareBaseStrings says where two signature base strings differ.
func compareBaseStrings(ours, theirs string) []string {
	if ours == theirs {
		return []string{"Both base strings are identical: URL and parameters match, so the remote verifies with another public key than ours. Register our public key again for this consumer at the remote (its incoming authentication), from our consumer-info or `applink keygen` output."}
	}
	om, ou, op := splitBaseString(ours)
	tm, tu, tp := splitBaseString(theirs)
	var out []string
	if om != tm {
		out = append(out, fmt.Sprintf("They differ in the method: we signed %s, the remote saw %s (a proxy or cache rewrites the method).", om, tm))
	}
	if ou != tu {
		out = append(out, fmt.Sprintf("They differ in the URL: we signed %s, the remote reconstructed %s. Sign against the remote's view (--remote-base-url), or make the remote's connector (proxyName, proxyPort, scheme) describe its public base URL.", ou, tu))
	}
	ours2, theirs2 := strings.Split(op, "&"), strings.Split(tp, "&")
	if only := minus(ours2, theirs2); len(only) > 0 {
		out = append(out, "Parameters only we signed (stripped or altered on the way?): "+strings.Join(only, ", "))
	}
	if only := minus(theirs2, ours2); len(only) > 0 {
		out = append(out, "Parameters only the remote saw (added or re-encoded on the way?): "+strings.Join(only, ", "))
	}
	if len(out) == 0 {
		out = append(out, "They differ in encoding only: something between here and the remote re-encodes the request.")
	}
	return out
}

// splitBaseString decodes the three parts of METHOD&enc(uri)&enc(params).
func splitBaseString(bs string) (method, uri, params string) {
	parts := strings.SplitN(bs, "&", 3)
	for len(parts) < 3 {
		parts = append(parts, "")
	}
	dec := func(s string) string {
		v, err := oauth1.PercentDecode(s, false)
		if err != nil {
			return s
		}
		return v
	}
	return parts[0], dec(parts[1]), dec(parts[2])
}

// minus lists the elements of a that are not in b (as multisets).
func minus(a, b []string) []string {
	rest := slices.Clone(b)
	var out []string
	for _, x := range a {
		if i := slices.Index(rest, x); i >= 0 {
			rest = slices.Delete(rest, i, i+1)
			continue
		}
		if x != "" {
			out = append(out, x)
		}
	}
	return out
}

func (d *diagnosis) timestampRefused(rp consumer.RemoteProblem) {
	p := d.p
	ours, _ := strconv.ParseInt(d.param("oauth_timestamp"), 10, 64)
	if acc := rp.Get("oauth_acceptable_timestamps"); acc != "" {
		lo, hi, ok := strings.Cut(acc, "-")
		min, err1 := strconv.ParseInt(lo, 10, 64)
		max, err2 := strconv.ParseInt(hi, 10, 64)
		if ok && err1 == nil && err2 == nil && max >= min {
			center := (min + max) / 2
			p.line("", "The remote accepts oauth_timestamp %s (its clock read about %s); we sent %d: its clock is about %s %s.",
				acc, time.Unix(center, 0).UTC().Format(time.RFC3339), ours, absDur(time.Duration(center-ours)*time.Second), aheadBehind(center-ours))
		} else {
			p.line("", "The remote accepts oauth_timestamp %s; we sent %d.", acc, ours)
		}
	}
	if off, err := clockOffset(d.f); err == nil {
		p.line("", "Measured from the response's Date header: the remote's clock is %s %s (1 s resolution).", absDur(off), aheadBehind(int64(off/time.Second)))
	} else {
		p.line("", "Could not measure the offset from the Date header: %v.", err)
	}
	p.line("", "Fix: run NTP (chrony, systemd-timesyncd) on both machines and check their time zones; the window is 5 minutes either way.")
}

// clockReport says how far the remote's clock is from ours: drift shows
// here (and in the proxy's caddy_applink_clock_skew_seconds) long before
// requests leave the 5-minute window.
func (d *diagnosis) clockReport() {
	off, err := clockOffset(d.f)
	switch {
	case err != nil:
		d.p.line("", "Clock: not measured (%v).", err)
	case off > time.Minute || off < -time.Minute:
		d.p.line("warning", "the remote's clock is %s %s: past 5 minutes, signed requests fail with timestamp_refused. Run NTP on both machines.", absDur(off), aheadBehind(int64(off/time.Second)))
	case off >= -time.Second && off <= time.Second:
		d.p.line("ok", "clock: the remote's is within 1s of ours (its Date header, 1 s resolution)")
	default:
		d.p.line("", "Clock: the remote's is %s %s (its Date header, 1 s resolution); the window is 5 minutes either way.", absDur(off), aheadBehind(int64(off/time.Second)))
	}
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

func aheadBehind(secs int64) string {
	if secs < 0 {
		return "behind ours"
	}
	return "ahead of ours"
}

// userOf finds the user an answer names: a JSON object's name, username
// or key (Jira, Confluence, Bamboo, Bitbucket), with its display name; or
// a line user=<name>.
func userOf(f *fetched) string {
	var u struct {
		Name        string `json:"name"`
		Username    string `json:"username"`
		Key         string `json:"key"`
		DisplayName string `json:"displayName"`
	}
	if json.Unmarshal(f.body, &u) == nil {
		if n := cmp.Or(u.Name, u.Username, u.Key); n != "" {
			if u.DisplayName != "" && u.DisplayName != n {
				return fmt.Sprintf("%s (%s)", n, u.DisplayName)
			}
			return n
		}
	}
	for _, line := range strings.Fields(string(f.body)) {
		if v, ok := strings.CutPrefix(line, "user="); ok && v != "" {
			return v
		}
	}
	return ""
}
