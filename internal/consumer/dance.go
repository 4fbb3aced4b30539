package consumer

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"go.uber.org/zap"

	"github.com/caddy-applink/caddy-applink/internal/oauth1"
	"github.com/caddy-applink/caddy-applink/internal/pages"
)

// Dance serves the browser endpoints of the consumer-side login dance, as
// an Atlassian application serves them under its base URL:
//
//	GET <base>/plugins/servlet/applinks/oauth/login-dance/authorize?applicationLinkID=<id>[&redirectUrl=<local path>]
//	GET <base>/plugins/servlet/applinks/oauth/login-dance/access?applicationLinkID=<id>&oauth_token=...&oauth_verifier=...[&redirectUrl=...]
//
// authorize fetches a request token from the link's remote and redirects
// the browser (302) to the remote's approval page, with access as the
// callback; access checks the returned oauth_token against the user's
// dance, fetches and stores the access token, and redirects (303) to
// redirectUrl when it is a local path, or shows a page.
type Dance struct {
	Tokens *Tokens
	// Links by ID (applicationLinkID).
	Links map[string]*Link
	// BaseURL is our own public URL: the callback the remote redirects
	// browsers to is built from it, never from the request's Host.
	BaseURL oauth1.BaseURL
	// Product names us on pages ("" : the base URL's host).
	Product string
	Logger  *zap.Logger
}

func (d *Dance) logger() *zap.Logger {
	if d.Logger != nil {
		return d.Logger
	}
	return zap.NewNop()
}

// Handles reports whether path is one of the two endpoints.
func (d *Dance) Handles(path string) bool {
	p := strings.TrimSuffix(path, "/")
	ctx := d.BaseURL.ContextPath()
	return p == ctx+DanceAuthorizePath || p == ctx+DanceAccessPath
}

// CallbackURL is the access endpoint's URL for link id, with redirect (a
// local path, or "").
func (d *Dance) CallbackURL(id, redirect string) string {
	u := d.BaseURL.Origin() + d.BaseURL.ContextPath() + DanceAccessPath + "?applicationLinkID=" + url.QueryEscape(id)
	if redirect != "" {
		u += "&redirectUrl=" + url.QueryEscape(redirect)
	}
	return u
}

// SafeRedirect reports whether s may be redirected to after a dance: a path
// on this site ("/..."), not a scheme-relative "//host" or "/\host" URL, and
// without control characters or backslashes (which browsers read as "/").
func SafeRedirect(s string) bool {
	if !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") || len(s) > 2048 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f || c == '\\' {
			return false
		}
	}
	u, err := url.Parse(s)
	return err == nil && u.Scheme == "" && u.Host == "" && u.User == nil
}

// Serve answers one of the two endpoints (Handles(r.URL.Path) must hold)
// for the local user ("" : nobody is logged in, 401).
func (d *Dance) Serve(w http.ResponseWriter, r *http.Request, user string) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		d.page(w, http.StatusMethodNotAllowed, "Method not allowed", "This address is opened by a browser, with GET.")
		return
	}
	q := r.URL.Query()
	id := q.Get("applicationLinkID")
	if id == "" {
		d.page(w, http.StatusBadRequest, "No application link", "The address does not name an application link (applicationLinkID).")
		return
	}
	link := d.Links[id]
	if link == nil {
		d.page(w, http.StatusNotFound, "Unknown application link", "There is no application link "+quote(id)+" here.")
		return
	}
	if user == "" {
		d.page(w, http.StatusUnauthorized, "Log in first", "Log in to "+d.product()+" before you authorize it to act for you at another application.")
		return
	}
	redirect := q.Get("redirectUrl")
	access := strings.HasSuffix(strings.TrimSuffix(r.URL.Path, "/"), DanceAccessPath)
	if redirect != "" && !SafeRedirect(redirect) {
		if !access {
			d.page(w, http.StatusBadRequest, "Invalid return address", "redirectUrl must be a path on this site.")
			return
		}
		redirect = "" // tampered after authorize validated it: show the page instead
	}
	log := d.logger().With(zap.String("link", id), zap.String("remote", link.Remote()), zap.String("user", user))
	if !access {
		d.start(w, r, log, link, user, redirect)
		return
	}
	d.finish(w, r, log, link, user, q.Get("oauth_token"), q.Get("oauth_verifier"), redirect)
}

func (d *Dance) start(w http.ResponseWriter, r *http.Request, log *zap.Logger, link *Link, user, redirect string) {
	authURL, err := d.Tokens.Start(r.Context(), link, user, d.CallbackURL(link.ID, redirect))
	if err != nil {
		d.remoteFailure(w, log, link, "start", err)
		return
	}
	log.Info("login dance started")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, authURL, http.StatusFound)
}

func (d *Dance) finish(w http.ResponseWriter, r *http.Request, log *zap.Logger, link *Link, user, token, verifier, redirect string) {
	if token == "" {
		d.page(w, http.StatusBadRequest, "Incomplete answer", "The remote application sent you back without an oauth_token. Start again from "+d.product()+".")
		return
	}
	s, err := d.Tokens.Finish(r.Context(), link, user, token, verifier)
	switch {
	case err == nil:
	case errors.Is(err, ErrDenied):
		log.Info("login dance: the user denied access")
		d.page(w, http.StatusForbidden, "Access denied",
			"You did not allow "+d.product()+" to act for you at "+link.ID+". Nothing was stored; start again if you change your mind.")
		return
	case errors.Is(err, ErrNoDance), errors.Is(err, ErrTokenMismatch), errors.Is(err, ErrDanceExpired):
		log.Info("login dance: answer refused", zap.Error(err))
		msg := "This answer does not belong to an authorization you started (or you started another one since). Start again from " + d.product() + "."
		if errors.Is(err, ErrDanceExpired) {
			msg = "The authorization took too long. Start again from " + d.product() + "."
		}
		d.page(w, http.StatusBadRequest, "Cannot complete the authorization", msg)
		return
	default:
		d.remoteFailure(w, log, link, "finish", err)
		return
	}
	log.Info("login dance finished: access token stored", zap.Time("expires", s.Expires), zap.Time("session_ends", s.SessionEnds))
	if redirect != "" {
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, redirect, http.StatusSeeOther)
		return
	}
	d.page(w, http.StatusOK, "Access granted",
		d.product()+" can now act for you at "+link.ID+" ("+link.Remote()+"). You can close this page.")
}

// remoteFailure explains a failed exchange with the remote.
func (d *Dance) remoteFailure(w http.ResponseWriter, log *zap.Logger, link *Link, step string, err error) {
	var rerr *RemoteError
	switch {
	case errors.As(err, &rerr):
		log.Warn("login dance: the remote refused", zap.String("step", step), zap.String("problem", rerr.Problem), zap.Error(err))
		msg := link.ID + " refused"
		if rerr.Problem != "" {
			msg += " (oauth_problem " + rerr.Problem + ")"
		}
		msg += ". " + problemHint(rerr.Problem)
		d.page(w, http.StatusBadGateway, "The remote application refused", msg)
	case errors.Is(err, ErrRemoteUnavailable):
		log.Error("login dance: remote unreachable", zap.String("step", step), zap.Error(err))
		d.page(w, http.StatusBadGateway, "The remote application did not answer",
			link.ID+" could not be reached. Try again in a moment.")
	default:
		log.Error("login dance failed", zap.String("step", step), zap.Error(err))
		w.Header().Set("Retry-After", "5")
		d.page(w, http.StatusServiceUnavailable, "Cannot store the authorization",
			"The token store is unavailable. Try again in a moment.")
	}
}

// problemHint says in words what a remote's refusal of our token requests
// usually means, for the administrator the user will forward it to.
func problemHint(problem string) string {
	switch problem {
	case oauth1.ConsumerKeyUnknown:
		return "It does not know this application's consumer key: the application link is not configured there, or its OAuth settings were reset. Ask an administrator."
	case oauth1.SignatureInvalid:
		return "It does not accept this application's signature: the link's base URL or key does not match. Ask an administrator."
	case oauth1.TimestampRefused:
		return "The clocks of the two servers differ too much. Ask an administrator."
	case oauth1.PermissionDenied:
		return "It does not allow this application to act for users (3-legged OAuth is off for the link), or the session expired."
	case oauth1.TokenRejected, oauth1.TokenExpired, oauth1.TokenUsed, oauth1.PermissionUnknown:
		return "The authorization is no longer valid. Start again."
	}
	return "Ask an administrator to check the application link."
}

func (d *Dance) product() string {
	if d.Product != "" {
		return d.Product
	}
	_, host, _ := strings.Cut(d.BaseURL.Origin(), "://")
	return host
}

func (d *Dance) page(w http.ResponseWriter, status int, title, msg string) {
	pages.Render(w, status, "error.html", pages.Error{Product: d.product(), Title: title, Message: msg})
}

func quote(s string) string {
	if len(s) > 100 {
		s = s[:100] + "..."
	}
	return `"` + s + `"`
}
