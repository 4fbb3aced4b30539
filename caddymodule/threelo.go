package caddymodule

import (
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"go.uber.org/zap"

	"github.com/caddy-applink/caddy-applink/internal/hygiene"
	"github.com/caddy-applink/caddy-applink/internal/login"
	"github.com/caddy-applink/caddy-applink/internal/oauth1"
	"github.com/caddy-applink/caddy-applink/internal/pages"
	"github.com/caddy-applink/caddy-applink/internal/provider"
	"github.com/caddy-applink/caddy-applink/internal/store"
)

// The service-provider endpoints, where Atlassian serves them (relative to
// base_url's context path).
const (
	requestTokenPath = "/plugins/servlet/oauth/request-token"
	authorizePath    = "/plugins/servlet/oauth/authorize"
	accessTokenPath  = "/plugins/servlet/oauth/access-token"
	userTokensPath   = "/plugins/servlet/oauth/users/access-tokens"
)

// serveProvider answers the 3-legged endpoints and the login source's own
// pages. It reports whether r was one of them (never forwarded upstream).
func (h *Handler) serveProvider(w http.ResponseWriter, r *http.Request, form string) (bool, error) {
	switch strings.TrimSuffix(r.URL.Path, "/") {
	case h.contextPath + requestTokenPath:
		return true, h.serveTokenEndpoint(w, r, form, oauth1.RequestTokenEndpoint)
	case h.contextPath + accessTokenPath:
		return true, h.serveTokenEndpoint(w, r, form, oauth1.AccessTokenEndpoint)
	case h.contextPath + authorizePath:
		return true, h.serveAuthorize(w, r, form)
	case h.contextPath + userTokensPath:
		return true, h.serveUserTokens(w, r, form)
	}
	if h.login != nil && h.login.Handle(w, r) {
		return true, nil
	}
	return false, nil
}

// serveTokenEndpoint answers request-token and access-token: POST only,
// signed, answered in text/plain OAuth form encoding as Atlassian does.
func (h *Handler) serveTokenEndpoint(w http.ResponseWriter, r *http.Request, form string, at oauth1.Endpoint) error {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return h.refuse(w, r, &oauth1.Problem{Code: oauth1.ParameterRejected, Status: http.StatusMethodNotAllowed,
			Advice: "this endpoint takes signed POST requests", Reason: r.Method + " on a token endpoint"})
	}
	rawPath, rawQuery := originalTarget(r)
	method := originalMethod(r)
	signed, p := h.verifier.VerifyEndpoint(r.Context(), &oauth1.Request{
		Method: method, RawPath: rawPath, RawQuery: rawQuery,
		Authorization: r.Header.Values("Authorization"), Form: signedForm(method, form),
	}, at)
	if p != nil {
		return h.refuse(w, r, p)
	}
	var out []oauth1.Param
	c := signed.Consumer
	h.observeKey(c, signed.PublicKey)
	if at == oauth1.RequestTokenEndpoint {
		cb, hasCB := signed.Param("oauth_callback")
		out, p = h.provider.IssueRequestToken(r.Context(), c, cb, hasCB)
	} else {
		out, p = h.provider.AccessToken(r.Context(), signed)
	}
	if p != nil {
		p.Consumer = c.Key
		return h.refuse(w, r, p)
	}
	h.logger.Info("token issued", zap.String("consumer", c.Key), zap.String("endpoint", r.URL.Path))
	w.Header().Set("Content-Type", "text/plain;charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	_, err := w.Write([]byte(provider.EncodeForm(out)))
	return err
}

// currentUser asks the login source; a nil user with handled=true means the
// response was written (challenge or failure).
func (h *Handler) currentUser(w http.ResponseWriter, r *http.Request) (string, bool) {
	if h.login == nil {
		pages.Render(w, http.StatusNotImplemented, "error.html", pages.Error{Product: h.realm,
			Title: "Approval is not configured", Message: "This proxy has no login source (login header, upstream or ldap), so nobody can approve applications."})
		return "", true
	}
	user, err := h.login.User(r)
	if err != nil {
		h.logger.Error("login source failed", zap.Error(err))
		w.Header().Set("Retry-After", "5")
		pages.Render(w, http.StatusServiceUnavailable, "error.html", pages.Error{Product: h.realm,
			Title: "Cannot tell who you are", Message: "The login service did not answer. Try again in a moment."})
		return "", true
	}
	if user == "" {
		ret := r.URL.RequestURI()
		if h.Login.Source == "upstream" {
			// The product's os_destination is relative to its context path.
			ret = strings.TrimPrefix(ret, h.contextPath)
		}
		h.login.Challenge(w, r, ret)
		return "", true
	}
	return user, false
}

func (h *Handler) browserProblem(w http.ResponseWriter, r *http.Request, p *oauth1.Problem, title string) error {
	h.logger.Info("browser request refused", zap.String("consumer", p.Consumer), zap.String("problem", p.Code),
		zap.String("reason", p.Reason), zap.String("path", r.URL.Path))
	if p.Unavailable {
		p.Write(w, h.realm)
		return nil
	}
	w.Header().Set("WWW-Authenticate", p.WWWAuthenticate(h.realm))
	msg := map[string]string{
		oauth1.TokenRejected:     "This request is not known. Start again from the application that sent you here.",
		oauth1.TokenUsed:         "This request was already approved or denied.",
		oauth1.TokenExpired:      "This request has expired. Start again from the application that sent you here.",
		oauth1.PermissionDenied:  "This application may not ask for access.",
		oauth1.ParameterRejected: "The form was not valid. Reload the page and try again.",
	}[p.Code]
	if msg == "" {
		msg = "The request was refused (" + p.Code + ")."
	}
	pages.Render(w, p.HTTPStatus(), "error.html", pages.Error{Product: h.realm, Title: title, Message: msg})
	return nil
}

// serveAuthorize is the approval page: GET shows it, POST records the
// user's decision.
func (h *Handler) serveAuthorize(w http.ResponseWriter, r *http.Request, form string) error {
	var q url.Values
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		q = r.URL.Query()
	case http.MethodPost:
		var err error
		if q, err = url.ParseQuery(form); err != nil {
			return h.browserProblem(w, r, &oauth1.Problem{Code: oauth1.ParameterRejected, Reason: "approval form: " + err.Error()}, "Invalid form")
		}
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return nil
	}
	token := q.Get("oauth_token")
	if token == "" {
		return h.browserProblem(w, r, &oauth1.Problem{Code: oauth1.ParameterAbsent, Status: http.StatusBadRequest,
			Params: []oauth1.Param{{Key: "oauth_parameters_absent", Value: "oauth_token"}}, Reason: "authorize without oauth_token"}, "No request to approve")
	}
	t, p := h.provider.Pending(r.Context(), token)
	if p != nil {
		return h.browserProblem(w, r, p, "Cannot approve this request")
	}
	c := h.consumers[t.Consumer]
	if c == nil || !c.ThreeLegged {
		return h.browserProblem(w, r, &oauth1.Problem{Code: oauth1.PermissionDenied, Consumer: t.Consumer,
			Reason: "consumer gone or 3LO off"}, "Cannot approve this request")
	}
	user, done := h.currentUser(w, r)
	if done {
		return nil
	}
	callback := q.Get("oauth_callback")
	purpose := "authorize\x00" + user + "\x00" + token
	if r.Method != http.MethodPost {
		redirect := t.Callback
		if !t.Version10a {
			redirect = callback
		}
		pages.Render(w, http.StatusOK, "approve.html", pages.Approval{
			Product: h.realm, Consumer: displayName(c), ConsumerKey: c.Key, Description: c.Description,
			User: user, Action: h.contextPath + authorizePath, Token: token, Callback: callback,
			CSRF: h.csrf.Token(w, r, purpose), Expires: t.Expires, FormOrigins: callbackOrigins(redirect)})
		return nil
	}
	if !h.csrf.Check(r, purpose, q.Get("csrf")) {
		return h.browserProblem(w, r, &oauth1.Problem{Code: oauth1.ParameterRejected, Status: http.StatusForbidden,
			Consumer: c.Key, Reason: "approval without a valid CSRF token"}, "Invalid form")
	}
	approve := q.Get("approve") != "" && q.Get("deny") == ""
	d, p := h.provider.Decide(r.Context(), token, user, approve, callback)
	if p != nil {
		p.Consumer = c.Key
		return h.browserProblem(w, r, p, "Cannot approve this request")
	}
	h.logger.Info("request token decided", zap.String("consumer", c.Key), zap.String("user", h.logUser(user)), zap.Bool("approved", approve))
	if d.Redirect != "" {
		http.Redirect(w, r, d.Redirect, http.StatusSeeOther)
		return nil
	}
	verifier := ""
	if approve && t.Callback == "oob" {
		verifier = d.Verifier
	}
	pages.Render(w, http.StatusOK, "done.html", pages.Done{Product: h.realm, Consumer: displayName(c), Approved: approve, Verifier: verifier})
	return nil
}

// serveUserTokens lists the user's own access tokens and revokes them.
func (h *Handler) serveUserTokens(w http.ResponseWriter, r *http.Request, form string) error {
	user, done := h.currentUser(w, r)
	if done {
		return nil
	}
	purpose := "tokens\x00" + user
	action := h.contextPath + userTokensPath
	if r.Method == http.MethodPost {
		q, _ := url.ParseQuery(form)
		if !h.csrf.Check(r, purpose, q.Get("csrf")) {
			return h.browserProblem(w, r, &oauth1.Problem{Code: oauth1.ParameterRejected, Status: http.StatusForbidden,
				Reason: "revocation without a valid CSRF token"}, "Invalid form")
		}
		id := q.Get("revoke")
		n := 0
		if id != "" {
			var err error
			// The user filter makes sure users revoke only their own tokens.
			if n, err = h.provider.Tokens.Delete(r.Context(), store.Filter{ID: id, User: user, Kind: store.AccessToken}); err != nil {
				return h.browserProblem(w, r, &oauth1.Problem{Unavailable: true, Reason: "revoke: " + err.Error()}, "")
			}
		}
		h.logger.Info("token revoked by its user", zap.Int("count", n))
		http.Redirect(w, r, action+"?revoked="+strconv.Itoa(n), http.StatusSeeOther)
		return nil
	}
	list, err := h.provider.Tokens.List(r.Context(), store.Filter{Kind: store.AccessToken, User: user})
	if err != nil {
		return h.browserProblem(w, r, &oauth1.Problem{Unavailable: true, Reason: "list: " + err.Error()}, "")
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Created.After(list[j].Created) })
	rows := make([]pages.TokenRow, 0, len(list))
	for _, t := range list {
		name := t.Consumer
		if c := h.consumers[t.Consumer]; c != nil {
			name = displayName(c)
		}
		rows = append(rows, pages.TokenRow{ID: t.ID, Consumer: name, Created: t.Created, LastUsed: t.LastUsed, Expires: t.Expires})
	}
	revoked, _ := strconv.Atoi(r.URL.Query().Get("revoked"))
	pages.Render(w, http.StatusOK, "tokens.html", pages.Tokens{Product: h.realm, User: user, Action: action,
		CSRF: h.csrf.Token(w, r, purpose), Rows: rows, Revoked: revoked})
	return nil
}

// callbackOrigins returns the origin a decision may redirect to: the
// callback's scheme://host[:port], if it is an absolute http(s) URL.
func callbackOrigins(callback string) []string {
	if callback == "" || callback == "oob" || provider.CheckCallback(callback) != nil {
		return nil
	}
	u, err := url.Parse(callback)
	if err != nil || strings.ContainsAny(u.Host, " ;'\"") {
		return nil
	}
	return []string{u.Scheme + "://" + u.Host}
}

func displayName(c *oauth1.Consumer) string {
	if c.Name != "" {
		return c.Name
	}
	return c.Key
}

// stripLoginHeader removes the SSO header from requests that did not come
// through a trusted proxy: only the SSO in front may set it.
func (h *Handler) stripLoginHeader(r *http.Request) {
	if hs, ok := h.login.(*login.Header); ok && !isTrustedProxy(r) {
		hygiene.RemoveHeader(r.Header, hs.Name())
	}
}
