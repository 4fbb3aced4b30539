// Package testsso starts, for tests of browser single sign-on beside
// application links, a real OpenID Connect issuer with an HTML login page
// and a real oauth2-proxy in front of it, in the mode Caddy's
// forward_auth uses (--reverse-proxy --set-xauthrequest
// --upstream=static://202).
//
// The issuer is the example OpenID Provider of the zitadel/oidc library
// (github.com/zitadel/oidc/v3/example/server, v3.52.0), unchanged: an
// in-memory provider configured by environment variables (PORT,
// REDIRECT_URI, USERS_FILE). It names itself http://localhost:PORT/ and
// listens on every interface. oauth2-proxy (v7.15.6) is its client
// "web" (secret "secret"), --provider=oidc.
//
// Neither program is a dependency of this module: Build runs `go install
// <package>@<version>` outside it (GOWORK=off, GOTOOLCHAIN=local,
// CGO_ENABLED=0) into CacheDir ($APPLINK_TESTSSO_CACHE, else
// ~/.cache/caddy-applink/testsso/bin), one directory per package, version
// and platform, so only the first run pays the build (about a minute with
// an empty module cache). `go run ./internal/testsso/cmd/prebuild` builds
// them ahead of the tests. When they cannot be built (no network, no go
// command) the tests skip, or fail under APPLINK_REQUIRE_INTEROP=1
// (Missing).
//
// # Logging in
//
// /oauth2/start?rd=... (Server.StartURL) redirects the browser to the
// issuer's login page, /login/username?authRequestID=..., a plain HTML
// form:
//
//	<input id="username" name="username">          UsernameSelector "#username"
//	<input id="password" name="password" type="password">  PasswordSelector "#password"
//	<button type="submit">Login</button>           SubmitSelector "button[type=submit]"
//
// posted to /login/username. A wrong password shows the same page again,
// with "username or password wrong". The users (DefaultUsers unless
// Options.Users says otherwise) are
//
//	username alice, password alice-password, email alice@example.org, sub alice
//	username bob,   password bob-password,   email bob@example.org,   sub bob
//
// After the login the issuer redirects to Options.RedirectURL (oauth2-
// proxy's /oauth2/callback), which sets the session cookie
// DefaultCookieName ("_oauth2_proxy", host-only, not Secure) and
// redirects to rd.
//
// # What oauth2-proxy answers
//
// GET /oauth2/auth (Server.AuthURL) answers 202 for a request carrying
// the session cookie, with the headers
//
//	X-Auth-Request-User                the sub claim: the user's ID ("alice")
//	X-Auth-Request-Email               the email claim ("alice@example.org")
//	X-Auth-Request-Preferred-Username  the preferred_username claim: the username ("alice")
//
// (HeaderUser, HeaderEmail, HeaderPreferredUsername), and 401 without
// it. Login does the browser's part with a plain http.Client.
//
// It is a non-test package only so that several packages' tests can share
// it; it needs Linux (process groups, Pdeathsig, flock).
package testsso
