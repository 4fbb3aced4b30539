package caddymodule

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/caddy-applink/caddy-applink/internal/oauth1"
	"github.com/caddy-applink/caddy-applink/internal/signer"
)

// stripCredentials removes every credential the local client sent, so that
// the signed identity is the only one the remote sees: Authorization,
// Proxy-Authorization, Cookie and the Trusted Applications headers, in any
// spelling.
func stripCredentials(h http.Header) {
	for name := range h {
		switch n := NormalizeHeaderName(name); {
		case n == "authorization", n == "proxy-authorization", n == "cookie",
			IsTrustedAppHeader(name):
			delete(h, name)
		}
	}
}

// isSeraphParam is the handler's list of Seraph login parameters; the
// signer removes the OAuth and impersonation parameters itself.
var isSeraphParam = IsSeraphParam

// stripIdentityParams removes Seraph login parameters from the query string
// and from a URL-encoded form body (read up to the signer's limit).
func stripIdentityParams(req *http.Request) error {
	if q, changed := oauth1.RemoveParams(req.URL.RawQuery, isSeraphParam); changed {
		req.URL.RawQuery = q
	}
	if req.Body == nil || req.Body == http.NoBody {
		return nil
	}
	mt, _, _ := strings.Cut(req.Header.Get("Content-Type"), ";")
	if !strings.EqualFold(strings.TrimSpace(mt), "application/x-www-form-urlencoded") {
		return nil
	}
	raw, err := io.ReadAll(io.LimitReader(req.Body, signer.DefaultMaxFormBytes+1))
	_ = req.Body.Close()
	if err != nil {
		return fmt.Errorf("applink transport: reading form body: %w", err)
	}
	if len(raw) > signer.DefaultMaxFormBytes {
		return signer.ErrFormTooLarge
	}
	if s, changed := oauth1.RemoveParams(string(raw), isSeraphParam); changed {
		raw = []byte(s)
	}
	req.ContentLength = int64(len(raw))
	req.TransferEncoding = nil
	if len(raw) == 0 {
		req.Body = http.NoBody
		req.GetBody = func() (io.ReadCloser, error) { return http.NoBody, nil }
		return nil
	}
	req.Body = io.NopCloser(bytes.NewReader(raw))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil }
	return nil
}
