// Package manifest holds the two documents an Atlassian application
// publishes about itself for application links: consumer-info (its consumer
// key and RSA public key) and the applinks manifest. The applink_publish
// handler serves them; `applink check` reads a remote's.
package manifest

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/xml"
	"strconv"
	"strings"
)

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
var AuthTypes = []string{
	"com.atlassian.applinks.api.auth.types.OAuthAuthenticationProvider",
	"com.atlassian.applinks.api.auth.types.TwoLeggedOAuthAuthenticationProvider",
	"com.atlassian.applinks.api.auth.types.TwoLeggedOAuthWithImpersonationAuthenticationProvider",
}

var TypeIDs = map[string]bool{
	"generic": true, "jira": true, "confluence": true, "stash": true,
	"bamboo": true, "fecru": true, "refapp": true, "crowd": true,
}

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
	BuildNumber     int64    `xml:"BuildNumber" json:"BuildNumber"`
	ApplinksVersion string   `xml:"applinksVersion" json:"applinksVersion"`
	Inbound         []string `xml:"inboundAuthenticationTypes" json:"inboundAuthenticationTypes"`
	Outbound        []string `xml:"outboundAuthenticationTypes" json:"outboundAuthenticationTypes"`
	PublicSignup    bool     `xml:"publicSignup" json:"publicSignup"`
	URL             string   `xml:"url" json:"url"`
	IconURL         string   `xml:"iconUrl,omitempty" json:"iconUrl,omitempty"`
}

func RenderXML(v any, decl string) ([]byte, error) {
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

// BuildNumber numbers a version as Jira numbers its builds (9.12.2 is
// 912002): major*100000 + minor*1000 + patch; 0 if it is not numeric.
func BuildNumber(version string) int64 {
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
