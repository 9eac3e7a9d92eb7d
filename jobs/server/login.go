package server

import (
	"crypto/subtle"
	"html/template"
	"net/http"
	"net/url"
	"strings"
)

// The dashboard's browsers cannot send a bearer token: they present it
// once, in the URL (?token=, what `skynomad dashboard` opens) or in the
// login form, and get it back as an HttpOnly, SameSite=Strict cookie.
const (
	tokenParam  = "token"
	tokenCookie = "skynomad_token"
)

// gate admits the requests that carry the token.
type gate struct {
	token string
	// pages: browsers get a login page instead of a JSON 401.
	pages bool
}

// Gate serves next to the requests that carry token: as a bearer token, in
// the URL (?token=, then as a cookie), or from the login form (POST
// /login). `skynomad dashboard` puts it in front of its loopback proxy.
func Gate(token string, next http.Handler) http.Handler {
	g := gate{token: token, pages: true}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", g.login)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if g.admit(w, r) {
			next.ServeHTTP(w, r)
		}
	})
	return mux
}

// admit reports whether r carries the token; if not, it has answered.
func (g gate) admit(w http.ResponseWriter, r *http.Request) bool {
	switch {
	case g.bearerOK(r):
		return true
	case r.URL.Query().Has(tokenParam):
		g.loginFromURL(w, r)
		return false
	case g.cookieOK(r):
		if !sameOrigin(r) {
			writeError(w, http.StatusForbidden, "cross-site request refused")
			return false
		}
		return true
	}
	g.unauthorized(w, r)
	return false
}

func (g gate) bearerOK(r *http.Request) bool {
	return tokenEqual(r.Header.Get("Authorization"), "Bearer "+g.token)
}

func (g gate) cookieOK(r *http.Request) bool {
	c, err := r.Cookie(tokenCookie)
	return err == nil && tokenEqual(c.Value, g.token)
}

func tokenEqual(got, want string) bool {
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// sameOrigin refuses a cookie-borne request that changes something and
// comes from another site's page (the cookie is SameSite=Strict too).
func sameOrigin(r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return r.Header.Get("Sec-Fetch-Site") != "cross-site"
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host == r.Host
}

// loginFromURL checks ?token= and, when right, sets the cookie and sends
// the browser to the same page without the token in its address.
func (g gate) loginFromURL(w http.ResponseWriter, r *http.Request) {
	if !tokenEqual(r.URL.Query().Get(tokenParam), g.token) {
		g.unauthorized(w, r)
		return
	}
	setTokenCookie(w, r, g.token)
	u := *r.URL
	q := u.Query()
	q.Del(tokenParam)
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.RequestURI(), http.StatusSeeOther)
}

// login is the form's POST: the token typed in.
func (g gate) login(w http.ResponseWriter, r *http.Request) {
	if !tokenEqual(r.PostFormValue(tokenParam), g.token) {
		g.unauthorized(w, r)
		return
	}
	setTokenCookie(w, r, g.token)
	next := r.PostFormValue("next")
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") {
		next = "/"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func setTokenCookie(w http.ResponseWriter, r *http.Request, token string) {
	http.SetCookie(w, &http.Cookie{
		Name: tokenCookie, Value: token, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
	})
}

// unauthorized answers 401: a login page to a browser, JSON to the rest.
func (g gate) unauthorized(w http.ResponseWriter, r *http.Request) {
	if !g.pages || !strings.Contains(r.Header.Get("Accept"), "text/html") {
		writeError(w, http.StatusUnauthorized, "missing or wrong bearer token")
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
	w.WriteHeader(http.StatusUnauthorized)
	loginPage.Execute(w, r.URL.RequestURI())
}

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>skynomad: sign in</title>
<meta name="color-scheme" content="light dark">
<style>body{font:15px system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem}input{font:inherit;width:100%;margin:.4rem 0;padding:.3rem}</style>
</head><body>
<h1>skynomad</h1>
<p>This controller needs its token. <code>skynomad dashboard</code> opens this page signed in; the token is in <code>~/.skynomad/controller.token</code> on the controller's host.</p>
<form method="post" action="/login">
<input type="hidden" name="next" value="{{.}}">
<label>Token <input type="password" name="token" autocomplete="current-password" autofocus></label>
<button type="submit">Sign in</button>
</form>
</body></html>
`))
