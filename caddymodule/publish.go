// The `applink_publish` handler
// (http.handlers.applink_publish): it publishes our own application-link
// identity the way an Atlassian application does, so that a Jira admin can
// create a link to us with Jira's own wizard:
//
//   - GET <base>/plugins/servlet/oauth/consumer-info: our consumer key, name
//     and RSA public key (application/xml;charset=UTF-8);
//   - GET <base>/rest/applinks/1.0/manifest: the applinks manifest (XML, or
//     JSON when the client prefers it).
//
// Both are anonymous, never redirect, and are rendered once at load time.
// Every other request goes to the next handler.

package caddymodule

import (
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-applink/caddy-applink/internal/manifest"
	"github.com/caddy-applink/caddy-applink/internal/oauth1"
	"github.com/caddy-applink/caddy-applink/internal/rsakey"
)

func init() {
	caddy.RegisterModule(PublishHandler{})
}

// PublishHandler serves consumer-info and the applinks manifest.
type PublishHandler struct {
	// Our public URL, as the remote application will know us (its
	// application link's "Application URL"): scheme, host, port, and an
	// optional context path under which the two endpoints are served.
	// Required. It is the manifest's <url>.
	BaseURL string `json:"base_url"`

	// Our consumer key (consumer-info's <key>), the oauth_consumer_key we
	// sign with (see the applink transport). Required.
	ConsumerKey string `json:"consumer_key"`

	// The application name shown in the remote's application links list.
	// Default "caddy-applink".
	Name string `json:"name,omitempty"`

	// consumer-info's <description>. Default "<name> at <base_url>".
	Description string `json:"description,omitempty"`

	// Our RSA key: the private key file (the public half is derived from
	// it) or the public key file. Exactly one is required.
	PrivateKeyFile string `json:"private_key_file,omitempty"`
	PublicKeyFile  string `json:"public_key_file,omitempty"`

	// The manifest's <id>, a UUID. Default: a UUID derived from the
	// consumer key (version 5, SHA-1, in the URL namespace, of
	// "caddy-applink:consumer:<consumer_key>"), stable across restarts
	// and instances that share the key.
	ApplicationID string `json:"application_id,omitempty"`

	// The manifest's <typeId>: generic (default), jira, confluence, stash
	// (Bitbucket), bamboo, fecru, refapp or crowd.
	TypeID string `json:"type_id,omitempty"`

	// The manifest's <version>. Default "1.0.0". <BuildNumber> is derived
	// from it (major*100000 + minor*1000 + patch, as Jira numbers builds).
	Version string `json:"version,omitempty"`

	// The manifest's <iconUrl>, optional.
	IconURL string `json:"icon_url,omitempty"`

	consumerInfoPath string
	manifestPath     string
	consumerInfo     []byte
	manifestXML      []byte
	manifestJSON     []byte
}

// CaddyModule returns the Caddy module information.
func (PublishHandler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.applink_publish",
		New: func() caddy.Module { return new(PublishHandler) },
	}
}

var uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// Provision loads the key and renders both documents.
func (h *PublishHandler) Provision(ctx caddy.Context) error {
	repl := caddy.NewReplacer()
	rawBase := repl.ReplaceKnown(h.BaseURL, "")
	if rawBase == "" {
		return errors.New("base_url is required")
	}
	base, err := oauth1.ParseBaseURL(rawBase)
	if err != nil {
		return fmt.Errorf("base_url: %w", err)
	}
	key := repl.ReplaceKnown(h.ConsumerKey, "")
	if key == "" {
		return errors.New("consumer_key is required")
	}
	pub, err := h.publicKey(repl)
	if err != nil {
		return err
	}
	pubStr, err := rsakey.ConsumerInfoString(pub)
	if err != nil {
		return fmt.Errorf("encoding the public key: %w", err)
	}

	name := repl.ReplaceKnown(h.Name, "")
	if name == "" {
		name = "caddy-applink"
	}
	url := strings.TrimRight(rawBase, "/")
	desc := repl.ReplaceKnown(h.Description, "")
	if desc == "" {
		desc = name + " at " + url
	}
	appID := strings.ToLower(repl.ReplaceKnown(h.ApplicationID, ""))
	if appID == "" {
		appID = manifest.ApplicationIDFor(key)
	} else if !uuidPattern.MatchString(appID) {
		return fmt.Errorf("application_id %q is not a UUID", appID)
	}
	typeID := h.TypeID
	if typeID == "" {
		typeID = "generic"
	}
	if !manifest.TypeIDs[typeID] {
		return fmt.Errorf("type_id %q is not an application type (generic, jira, confluence, stash, bamboo, fecru, refapp, crowd)", typeID)
	}
	version := h.Version
	if version == "" {
		version = "1.0.0"
	}

	h.consumerInfoPath = base.ContextPath() + manifest.ConsumerInfoPath
	h.manifestPath = base.ContextPath() + manifest.ManifestPath

	h.consumerInfo, err = manifest.RenderXML(manifest.ConsumerInfo{Key: key, Name: name, PublicKey: pubStr, Description: desc}, "")
	if err != nil {
		return fmt.Errorf("rendering consumer-info: %w", err)
	}
	m := manifest.Manifest{
		ID:              appID,
		Name:            name,
		TypeID:          typeID,
		Version:         version,
		BuildNumber:     manifest.BuildNumber(version),
		ApplinksVersion: manifest.ApplinksVersion,
		Inbound:         manifest.AuthTypes,
		Outbound:        manifest.AuthTypes,
		PublicSignup:    false,
		URL:             url,
		IconURL:         repl.ReplaceKnown(h.IconURL, ""),
	}
	h.manifestXML, err = manifest.RenderXML(m, ` standalone="yes"`)
	if err != nil {
		return fmt.Errorf("rendering the manifest: %w", err)
	}
	h.manifestJSON, err = json.Marshal(m)
	if err != nil {
		return fmt.Errorf("rendering the manifest: %w", err)
	}
	return nil
}

func (h *PublishHandler) publicKey(repl *caddy.Replacer) (*rsa.PublicKey, error) {
	priv := repl.ReplaceKnown(h.PrivateKeyFile, "")
	pub := repl.ReplaceKnown(h.PublicKeyFile, "")
	switch {
	case priv != "" && pub != "":
		return nil, errors.New("set private_key_file or public_key_file, not both")
	case priv != "":
		k, err := rsakey.LoadPrivate(priv)
		if err != nil {
			return nil, fmt.Errorf("private_key_file: %w", err)
		}
		return &k.PublicKey, nil
	case pub != "":
		k, err := rsakey.LoadPublic(pub)
		if err != nil {
			return nil, fmt.Errorf("public_key_file: %w", err)
		}
		return k, nil
	}
	return nil, errors.New("private_key_file or public_key_file is required")
}

// ServeHTTP answers the two endpoints and passes everything else on.
func (h *PublishHandler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return next.ServeHTTP(w, r)
	}
	var body []byte
	var ctype string
	switch r.URL.Path {
	case h.consumerInfoPath:
		body, ctype = h.consumerInfo, manifest.ConsumerInfoType
	case h.manifestPath:
		body, ctype = h.manifestXML, manifest.ManifestXMLType
		if prefersJSON(r.Header.Values("Accept")) {
			body, ctype = h.manifestJSON, manifest.ManifestJSONType
		}
	default:
		return next.ServeHTTP(w, r)
	}
	if carriesOAuth(r) {
		// A signed request goes to the verifier (the applink handler, if
		// configured), as Atlassian's OAuth filter checks signed requests
		// even to anonymous resources: `applink check` relies on it.
		return next.ServeHTTP(w, r)
	}
	hdr := w.Header()
	if r.URL.Path == h.manifestPath {
		hdr.Add("Vary", "Accept")
	}
	hdr.Set("Content-Type", ctype)
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	hdr.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return nil
	}
	_, err := w.Write(body)
	return err
}

// carriesOAuth reports whether a request carries OAuth credentials: an
// OAuth Authorization header or oauth_* query parameters.
func carriesOAuth(r *http.Request) bool {
	for _, v := range r.Header.Values("Authorization") {
		if oauth1.IsOAuthScheme(v) {
			return true
		}
	}
	if strings.Contains(strings.ToLower(r.URL.RawQuery), "oauth_") {
		ps, err := oauth1.ParseForm(r.URL.RawQuery)
		if err != nil {
			return true // let the verifier refuse it
		}
		for _, p := range ps {
			if oauth1.IsOAuthParam(p.Key) {
				return true
			}
		}
	}
	return false
}

// prefersJSON reports whether an Accept header ranks application/json
// strictly above application/xml (RFC 9110 section 12.5.1: the most
// specific matching range gives a type its quality).
func prefersJSON(accept []string) bool {
	if len(accept) == 0 {
		return false
	}
	var ranges []mediaRange
	for _, v := range accept {
		for _, part := range strings.Split(v, ",") {
			if mr, ok := parseRange(part); ok {
				ranges = append(ranges, mr)
			}
		}
	}
	xmlQ := max(quality(ranges, "application", "xml"), quality(ranges, "text", "xml"))
	return quality(ranges, "application", "json") > xmlQ
}

type mediaRange struct {
	typ, sub string
	q        float64
}

func parseRange(s string) (mediaRange, bool) {
	params := strings.Split(s, ";")
	t, sub, ok := strings.Cut(strings.ToLower(strings.TrimSpace(params[0])), "/")
	if !ok || t == "" || sub == "" {
		return mediaRange{}, false
	}
	mr := mediaRange{typ: strings.TrimSpace(t), sub: strings.TrimSpace(sub), q: 1}
	for _, p := range params[1:] {
		k, v, _ := strings.Cut(p, "=")
		if strings.EqualFold(strings.TrimSpace(k), "q") {
			q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil || q < 0 || q > 1 {
				return mediaRange{}, false
			}
			mr.q = q
		}
	}
	return mr, true
}

func quality(ranges []mediaRange, typ, sub string) float64 {
	best, spec := 0.0, -1
	for _, r := range ranges {
		s := -1
		switch {
		case r.typ == typ && r.sub == sub:
			s = 2
		case r.typ == typ && r.sub == "*":
			s = 1
		case r.typ == "*" && r.sub == "*":
			s = 0
		}
		if s > spec {
			best, spec = r.q, s
		}
	}
	return best
}

// Interface guards
var (
	_ caddy.Provisioner           = (*PublishHandler)(nil)
	_ caddyhttp.MiddlewareHandler = (*PublishHandler)(nil)
)
