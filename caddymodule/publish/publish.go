// Package publish is the `applink_publish` handler
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
package publish

import (
	"crypto/rsa"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-applink/caddy-applink/internal/oauth1"
	"github.com/caddy-applink/caddy-applink/internal/rsakey"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Handler serves consumer-info and the applinks manifest.
type Handler struct {
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

	// The manifest's <version>. Default "1.0.0". <buildNumber> is derived
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
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.applink_publish",
		New: func() caddy.Module { return new(Handler) },
	}
}

// The endpoints, relative to the base URL's context path.
const (
	ConsumerInfoPath = "/plugins/servlet/oauth/consumer-info"
	ManifestPath     = "/rest/applinks/1.0/manifest"
)

// Content types, exactly as Atlassian's servlets send them.
const (
	ConsumerInfoType = "application/xml;charset=UTF-8"
	ManifestXMLType  = "application/xml"
	ManifestJSONType = "application/json"
)

// ApplinksVersion is the manifest's <applinksVersion>: an applinks 5.x
// release, the line from which links are OAuth only (no Trusted
// Applications, no Basic access).
const ApplinksVersion = "5.4.0"

// Authentication provider classes the manifest lists, inbound (what a
// remote may use to call us) and outbound (what we use to call it).
var authTypes = []string{
	"com.atlassian.applinks.api.auth.types.OAuthAuthenticationProvider",
	"com.atlassian.applinks.api.auth.types.TwoLeggedOAuthAuthenticationProvider",
	"com.atlassian.applinks.api.auth.types.TwoLeggedOAuthWithImpersonationAuthenticationProvider",
}

var typeIDs = map[string]bool{
	"generic": true, "jira": true, "confluence": true, "stash": true,
	"bamboo": true, "fecru": true, "refapp": true, "crowd": true,
}

var uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// ConsumerInfo is the document of /plugins/servlet/oauth/consumer-info.
type ConsumerInfo struct {
	XMLName     xml.Name `xml:"consumer"`
	Key         string   `xml:"key"`
	Name        string   `xml:"name"`
	PublicKey   string   `xml:"publicKey"`
	Description string   `xml:"description,omitempty"`
	Callback    string   `xml:"callback,omitempty"`
}

// Manifest is the document of /rest/applinks/1.0/manifest; the JSON
// variant uses the same names.
type Manifest struct {
	XMLName         xml.Name `xml:"manifest" json:"-"`
	ID              string   `xml:"id" json:"id"`
	Name            string   `xml:"name" json:"name"`
	TypeID          string   `xml:"typeId" json:"typeId"`
	Version         string   `xml:"version" json:"version"`
	BuildNumber     int64    `xml:"buildNumber" json:"buildNumber"`
	ApplinksVersion string   `xml:"applinksVersion" json:"applinksVersion"`
	Inbound         []string `xml:"inboundAuthenticationTypes" json:"inboundAuthenticationTypes"`
	Outbound        []string `xml:"outboundAuthenticationTypes" json:"outboundAuthenticationTypes"`
	PublicSignup    bool     `xml:"publicSignup" json:"publicSignup"`
	URL             string   `xml:"url" json:"url"`
	IconURL         string   `xml:"iconUrl,omitempty" json:"iconUrl,omitempty"`
}

// Provision loads the key and renders both documents.
func (h *Handler) Provision(ctx caddy.Context) error {
	repl := caddy.NewReplacer()
	rawBase := repl.ReplaceKnown(h.BaseURL, "")
	if rawBase == "" {
		return errors.New("applink_publish: base_url is required")
	}
	base, err := oauth1.ParseBaseURL(rawBase)
	if err != nil {
		return fmt.Errorf("applink_publish: %w", err)
	}
	key := repl.ReplaceKnown(h.ConsumerKey, "")
	if key == "" {
		return errors.New("applink_publish: consumer_key is required")
	}
	pub, err := h.publicKey(repl)
	if err != nil {
		return err
	}
	pubStr, err := rsakey.ConsumerInfoString(pub)
	if err != nil {
		return fmt.Errorf("applink_publish: encoding the public key: %w", err)
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
		appID = ApplicationIDFor(key)
	} else if !uuidPattern.MatchString(appID) {
		return fmt.Errorf("applink_publish: application_id %q is not a UUID", appID)
	}
	typeID := h.TypeID
	if typeID == "" {
		typeID = "generic"
	}
	if !typeIDs[typeID] {
		return fmt.Errorf("applink_publish: type_id %q is not an application type (generic, jira, confluence, stash, bamboo, fecru, refapp, crowd)", typeID)
	}
	version := h.Version
	if version == "" {
		version = "1.0.0"
	}

	h.consumerInfoPath = base.ContextPath() + ConsumerInfoPath
	h.manifestPath = base.ContextPath() + ManifestPath

	h.consumerInfo, err = renderXML(ConsumerInfo{Key: key, Name: name, PublicKey: pubStr, Description: desc}, "")
	if err != nil {
		return fmt.Errorf("applink_publish: rendering consumer-info: %w", err)
	}
	m := Manifest{
		ID:              appID,
		Name:            name,
		TypeID:          typeID,
		Version:         version,
		BuildNumber:     buildNumber(version),
		ApplinksVersion: ApplinksVersion,
		Inbound:         authTypes,
		Outbound:        authTypes,
		PublicSignup:    false,
		URL:             url,
		IconURL:         repl.ReplaceKnown(h.IconURL, ""),
	}
	h.manifestXML, err = renderXML(m, ` standalone="yes"`)
	if err != nil {
		return fmt.Errorf("applink_publish: rendering the manifest: %w", err)
	}
	h.manifestJSON, err = json.Marshal(m)
	if err != nil {
		return fmt.Errorf("applink_publish: rendering the manifest: %w", err)
	}
	return nil
}

func (h *Handler) publicKey(repl *caddy.Replacer) (*rsa.PublicKey, error) {
	priv := repl.ReplaceKnown(h.PrivateKeyFile, "")
	pub := repl.ReplaceKnown(h.PublicKeyFile, "")
	switch {
	case priv != "" && pub != "":
		return nil, errors.New("applink_publish: set private_key_file or public_key_file, not both")
	case priv != "":
		k, err := rsakey.LoadPrivate(priv)
		if err != nil {
			return nil, fmt.Errorf("applink_publish: private_key_file: %w", err)
		}
		return &k.PublicKey, nil
	case pub != "":
		k, err := rsakey.LoadPublic(pub)
		if err != nil {
			return nil, fmt.Errorf("applink_publish: public_key_file: %w", err)
		}
		return k, nil
	}
	return nil, errors.New("applink_publish: private_key_file or public_key_file is required")
}

func renderXML(v any, decl string) ([]byte, error) {
	out, err := xml.MarshalIndent(v, "", "    ")
	if err != nil {
		return nil, err
	}
	head := `<?xml version="1.0" encoding="UTF-8"` + decl + "?>\n"
	return append(append([]byte(head), out...), '\n'), nil
}

// ApplicationIDFor derives the default manifest id from a consumer key:
// the name-based UUID (version 5, RFC 9562) of
// "caddy-applink:consumer:<key>" in the URL namespace.
func ApplicationIDFor(consumerKey string) string {
	// 6ba7b811-9dad-11d1-80b4-00c04fd430c8, the URL namespace.
	ns := []byte{0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}
	sum := sha1.New()
	sum.Write(ns)
	sum.Write([]byte("caddy-applink:consumer:" + consumerKey))
	u := sum.Sum(nil)[:16]
	u[6] = u[6]&0x0f | 0x50 // version 5
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	h := hex.EncodeToString(u)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// buildNumber numbers a version as Jira numbers its builds (9.12.2 is
// 912002): major*100000 + minor*1000 + patch; 0 if it is not numeric.
func buildNumber(version string) int64 {
	parts := strings.SplitN(version, ".", 4)
	weights := []int64{100000, 1000, 1}
	var n int64
	for i, p := range parts {
		if i == len(weights) {
			break
		}
		v, err := strconv.ParseInt(p, 10, 64)
		if err != nil || v < 0 || i > 0 && v >= 1000 || v > 1<<40 {
			return 0
		}
		n += v * weights[i]
	}
	return n
}

// ServeHTTP answers the two endpoints and passes everything else on.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return next.ServeHTTP(w, r)
	}
	var body []byte
	var ctype string
	switch r.URL.Path {
	case h.consumerInfoPath:
		body, ctype = h.consumerInfo, ConsumerInfoType
	case h.manifestPath:
		body, ctype = h.manifestXML, ManifestXMLType
		if prefersJSON(r.Header.Values("Accept")) {
			body, ctype = h.manifestJSON, ManifestJSONType
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
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
