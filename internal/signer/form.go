package signer

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/caddy-applink/caddy-applink/internal/oauth1"
)

const formType = "application/x-www-form-urlencoded"

// formBody is a form body read for signing.
type formBody struct {
	read   bool           // the body was read and must be put back
	orig   io.ReadCloser  // the body as it came
	raw    []byte         // the bytes read from orig
	send   []byte         // what will be sent: raw without identity parameters
	params []oauth1.Param // the signed parameters; nil unless the remote parses the body
}

// mediaType is Tomcat's reading of a Content-Type: everything before the
// first ";", trimmed.
func mediaType(ct string) string {
	mt, _, _ := strings.Cut(ct, ";")
	return strings.TrimSpace(mt)
}

// looksLikeForm reports whether req has a body whose media type is a
// form's in any case: readForm reads it.
func looksLikeForm(req *http.Request) bool {
	return req.Body != nil && req.Body != http.NoBody &&
		strings.EqualFold(mediaType(req.Header.Get("Content-Type")), formType)
}

// readForm reads a form body. Identity parameters are stripped from every
// body that looks like a form (media type compared case-insensitively, any
// method): a servlet container configured to parse more than POST bodies
// must not let the client pick the user either. The parameters are signed
// only when Tomcat, with its defaults (parseBodyMethods="POST", exact media
// type), puts them into getParameterMap, which is what net.oauth signs;
// they are read as Tomcat decodes them in cs.
func (s *Signer) readForm(req *http.Request, cs oauth1.Charset) (formBody, error) {
	if !looksLikeForm(req) {
		return formBody{}, nil
	}
	f := formBody{read: true, orig: req.Body}
	raw, err := io.ReadAll(io.LimitReader(req.Body, s.maxForm+1))
	f.raw = raw
	if err != nil {
		return formBody{}, fmt.Errorf("signer: reading form body: %w", err)
	}
	if int64(len(raw)) > s.maxForm {
		f.undo(req)
		return formBody{}, fmt.Errorf("%w (%d bytes)", ErrFormTooLarge, s.maxForm)
	}
	send, changed := oauth1.RemoveParams(string(raw), isIdentityParam)
	if changed {
		f.send = []byte(send)
	} else {
		f.send = raw
	}
	if oauth1.ParsesForm(req.Method, req.Header.Values("Content-Type")) {
		f.params, err = oauth1.ParseFormIn(send, cs)
		if err != nil {
			f.undo(req)
			return formBody{}, fmt.Errorf("%w: form body: %w", ErrParams, err)
		}
	}
	return f, nil
}

// undo puts the body back as it came, for a request that is not signed.
func (f formBody) undo(req *http.Request) {
	if !f.read {
		return
	}
	req.Body = readCloser{io.MultiReader(bytes.NewReader(f.raw), f.orig), f.orig}
}

// apply installs the body to send: replayable (GetBody), with a known length.
func (f formBody) apply(req *http.Request) {
	if !f.read {
		return
	}
	_ = f.orig.Close()
	send := f.send
	req.ContentLength = int64(len(send))
	req.TransferEncoding = nil
	if len(send) == 0 {
		req.Body = http.NoBody
		req.GetBody = func() (io.ReadCloser, error) { return http.NoBody, nil }
		return
	}
	req.Body = io.NopCloser(bytes.NewReader(send))
	req.GetBody = func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(send)), nil
	}
}

type readCloser struct {
	io.Reader
	io.Closer
}
