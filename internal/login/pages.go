package login

import (
	"bytes"
	"html/template"
	"net/http"
)

// The pages are plain HTML: no script at all, styles inline (allowed by
// the policy), every value escaped by html/template.
var pages = template.Must(template.New("").Parse(`
{{define "head"}}<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{{.Heading}}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f4f5f7;color:#172b4d;margin:0}
main{max-width:22rem;margin:4rem auto;background:#fff;padding:2rem;border-radius:4px;box-shadow:0 1px 3px rgba(9,30,66,.25)}
h1{font-size:1.4rem;margin:0 0 1.2rem}
label{display:block;font-weight:600;margin:.8rem 0 .3rem}
input[type=text],input[type=password]{box-sizing:border-box;width:100%;padding:.5rem;border:2px solid #dfe1e6;border-radius:3px;font-size:1rem}
button{margin-top:1.2rem;width:100%;padding:.6rem;background:#0052cc;color:#fff;border:0;border-radius:3px;font-size:1rem;cursor:pointer}
.error{background:#ffebe6;border-left:4px solid #de350b;padding:.6rem}
.notice{background:#e3fcef;border-left:4px solid #00875a;padding:.6rem}
</style>
</head>
<body>
<main>
<h1>{{.Heading}}</h1>
{{if .Error}}<p class="error" role="alert">{{.Error}}</p>{{end}}{{end}}

{{define "foot"}}</main>
</body>
</html>
{{end}}

{{define "login"}}{{template "head" .}}
<form method="post" action="{{.Action}}">
<input type="hidden" name="csrf" value="{{.CSRF}}">
<input type="hidden" name="return" value="{{.Return}}">
<label for="username">User name</label>
<input id="username" name="username" type="text" autocomplete="username" autocapitalize="none" spellcheck="false" maxlength="255" required autofocus value="{{.Username}}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Log in</button>
</form>
{{template "foot" .}}{{end}}

{{define "logout"}}{{template "head" .}}
{{if .Done}}<p class="notice">You are logged out.</p>
<p><a href="{{.LoginURL}}">Log in again</a></p>
{{else if .User}}<p>You are logged in as <strong>{{.User}}</strong>.</p>
<form method="post" action="{{.Action}}">
<input type="hidden" name="csrf" value="{{.CSRF}}">
<input type="hidden" name="return" value="{{.Return}}">
<button type="submit">Log out</button>
</form>
{{else}}<p>You are not logged in.</p>
<p><a href="{{.LoginURL}}">Log in</a></p>
{{end}}
{{template "foot" .}}{{end}}
`))

type loginPage struct {
	Heading, Action, CSRF string
	Return, Username      string
	Error                 string
}

type logoutPage struct {
	Heading, Action, CSRF, LoginURL string
	Return, User                    string
	Done                            bool
	Error                           string
}

func (l *LDAP) renderLogin(w http.ResponseWriter, r *http.Request, status int, p loginPage) {
	p.Heading = l.title
	p.Action = l.cfg.Prefix
	p.CSRF = l.csrf.Token(w, r, loginPurpose)
	render(w, status, "login", p)
}

func (l *LDAP) renderLogout(w http.ResponseWriter, r *http.Request, status int, p logoutPage) {
	p.Heading = "Log out"
	p.Action = l.LogoutPath()
	p.LoginURL = l.cfg.Prefix
	if !p.Done {
		p.User = l.cfg.Sessions.User(r)
		p.CSRF = l.csrf.Token(w, r, logoutPurpose+"\x00"+p.User)
	}
	render(w, status, "logout", p)
}

func render(w http.ResponseWriter, status int, name string, data any) {
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, name, data); err != nil {
		http.Error(w, "500 internal server error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	SetPageHeaders(h)
	h.Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
