package oauth1

import (
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// The RSA-SHA1 test case of the OAuth wiki ("TestCases", section 9.3): a
// 1024-bit key, its certificate, the base string of GET
// http://photos.example.net/photos?file=vacaction.jpg&size=original (the
// typo is the wiki's) and the expected signature.
const (
	wikiPrivateKey = `-----BEGIN PRIVATE KEY-----
MIICdgIBADANBgkqhkiG9w0BAQEFAASCAmAwggJcAgEAAoGBALRiMLAh9iimur8V
A7qVvdqxevEuUkW4K+2KdMXmnQbG9Aa7k7eBjK1S+0LYmVjPKlJGNXHDGuy5Fw/d
7rjVJ0BLB+ubPK8iA/Tw3hLQgXMRRGRXXCn8ikfuQfjUS1uZSatdLB81mydBETlJ
hI6GH4twrbDJCR2Bwy/XWXgqgGRzAgMBAAECgYBYWVtleUzavkbrPjy0T5FMou8H
X9u2AC2ry8vD/l7cqedtwMPp9k7TubgNFo+NGvKsl2ynyprOZR1xjQ7WgrgVB+mm
uScOM/5HVceFuGRDhYTCObE+y1kxRloNYXnx3ei1zbeYLPCHdhxRYW7T0qcynNmw
rn05/KO2RLjgQNalsQJBANeA3Q4Nugqy4QBUCEC09SqylT2K9FrrItqL2QKc9v0Z
zO2uwllCbg0dwpVuYPYXYvikNHHg+aCWF+VXsb9rpPsCQQDWR9TT4ORdzoj+Nccn
qkMsDmzt0EfNaAOwHOmVJ2RVBspPcxt5iN4HI7HNeG6U5YsFBb+/GZbgfBT3kpNG
WPTpAkBI+gFhjfJvRw38n3g/+UeAkwMI2TJQS4n8+hid0uus3/zOjDySH3XHCUno
cn1xOJAyZODBo47E+67R4jV1/gzbAkEAklJaspRPXP877NssM5nAZMU0/O/NGCZ+
3jPgDUno6WbJn5cqm8MqWhW1xGkImgRk+fkDBquiq4gPiT898jusgQJAd5Zrr6Q8
AO/0isr/3aa6O6NLQxISLKcPDk2NOccAfS/xOtfOz4sJYM3+Bs4Io9+dZGSDCA54
Lw03eHTNQghS0A==
-----END PRIVATE KEY-----
`
	wikiCertificate = `-----BEGIN CERTIFICATE-----
MIIBpjCCAQ+gAwIBAgIBATANBgkqhkiG9w0BAQUFADAZMRcwFQYDVQQDDA5UZXN0
IFByaW5jaXBhbDAeFw03MDAxMDEwODAwMDBaFw0zODEyMzEwODAwMDBaMBkxFzAV
BgNVBAMMDlRlc3QgUHJpbmNpcGFsMIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKB
gQC0YjCwIfYoprq/FQO6lb3asXrxLlJFuCvtinTF5p0GxvQGu5O3gYytUvtC2JlY
zypSRjVxwxrsuRcP3e641SdASwfrmzyvIgP08N4S0IFzEURkV1wp/IpH7kH41Etb
mUmrXSwfNZsnQRE5SYSOhh+LcK2wyQkdgcMv11l4KoBkcwIDAQABMA0GCSqGSIb3
DQEBBQUAA4GBAGZLPEuJ5SiJ2ryq+CmEGOXfvlTtEL2nuGtr9PewxkgnOjZpUy+d
4TvuXJbNQc8f4AMWL/tO9w0Fk80rWKp9ea8/df4qMq5qlFWlx6yOLQxumNOmECKb
WpkUQDIDJEoFUzKMVuJf4KO/FJ345+BNLGgbJ6WujreoM1X/gYfdnJ/J
-----END CERTIFICATE-----
`
	wikiBaseString = "GET&http%3A%2F%2Fphotos.example.net%2Fphotos&file%3Dvacaction.jpg" +
		"%26oauth_consumer_key%3Ddpf43f3p2l4k3l03%26oauth_nonce%3D13917289812797014437" +
		"%26oauth_signature_method%3DRSA-SHA1%26oauth_timestamp%3D1196666512" +
		"%26oauth_version%3D1.0%26size%3Doriginal"
	wikiSignature = "jvTp/wX1TYtByB1m+Pbyo0lnCOLIsyGCH7wke8AUs3BpnwZJtAuEJkvQL2/9n4s5" +
		"wUmUl4aCI4BwpraNx4RtEXMe5qg5T1LVTGliMRpKasKsW//e+RinhejgCuzoH26d" +
		"yF8iY2ZZ/5D1ilgeijhV/vBka5twt399mXwaYdCwFYE="
)

func wikiKeys(t testing.TB) (*rsa.PrivateKey, *rsa.PublicKey) {
	t.Helper()
	block, _ := pem.Decode([]byte(wikiPrivateKey))
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	block, _ = pem.Decode([]byte(wikiCertificate))
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k.(*rsa.PrivateKey), cert.PublicKey.(*rsa.PublicKey)
}

func TestRSASHA1WikiVector(t *testing.T) {
	priv, pub := wikiKeys(t)
	if !priv.PublicKey.Equal(pub) {
		t.Fatal("wiki key and certificate do not match")
	}
	query, _ := ParseForm("file=vacaction.jpg&size=original")
	params := append(query,
		Param{"oauth_consumer_key", "dpf43f3p2l4k3l03"},
		Param{"oauth_signature_method", "RSA-SHA1"},
		Param{"oauth_timestamp", "1196666512"},
		Param{"oauth_nonce", "13917289812797014437"},
		Param{"oauth_version", "1.0"},
	)
	base := BaseString("GET", "http://photos.example.net/photos", params)
	if base != wikiBaseString {
		t.Fatalf("base string\n got %s\nwant %s", base, wikiBaseString)
	}
	// RSASSA-PKCS1-v1_5 is deterministic: the signature is reproducible.
	sig, err := SignRSASHA1(priv, base)
	if err != nil {
		t.Fatal(err)
	}
	if sig != wikiSignature {
		t.Errorf("signature\n got %s\nwant %s", sig, wikiSignature)
	}
	raw, _ := base64.StdEncoding.DecodeString(wikiSignature)
	if err := VerifyRSASHA1(pub, base, raw); err != nil {
		t.Errorf("VerifyRSASHA1(wiki vector): %v", err)
	}
}

func TestVerifyRSASHA1(t *testing.T) {
	k := testKey()
	base := "GET&https%3A%2F%2Fjira.example.com%2F&a%3D1"
	sig, err := SignRSASHA1(k, base)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(sig)
	if err != nil || len(raw) != 256 {
		t.Fatalf("signature %q is not 256 bytes of base64: %v", sig, err)
	}
	flipped := append([]byte(nil), raw...)
	flipped[100] ^= 1
	tests := []struct {
		name string
		key  *rsa.PublicKey
		base string
		sig  []byte
		ok   bool
	}{
		{"good", &k.PublicKey, base, raw, true},
		{"other base string", &k.PublicKey, base + "%26b%3D2", raw, false},
		{"other key", &otherKey().PublicKey, base, raw, false},
		{"flipped bit", &k.PublicKey, base, flipped, false},
		{"truncated", &k.PublicKey, base, raw[:255], false},
		{"empty", &k.PublicKey, base, nil, false},
	}
	for _, tt := range tests {
		err := VerifyRSASHA1(tt.key, tt.base, tt.sig)
		if (err == nil) != tt.ok {
			t.Errorf("%s: VerifyRSASHA1 = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}

func TestHMACSHA1(t *testing.T) {
	// OAuth Core 1.0 A.5.2 and RFC 5849 (errata) vectors.
	tests := []struct {
		cs, ts, base, want string
	}{
		{"kd94hf93k423kf44", "pfkkdhi9sl3r4s00", coreA51BaseString, "tR3+Ty81lMeYAr/Fid0kMTYa/WM="},
		{"j49sk3j29djd", "dh893hdasih9", rfc5849BaseString, "r6/TJjbCOr97/+UU0NsvSne7s5g="},
	}
	for _, tt := range tests {
		got := SignHMACSHA1(tt.cs, tt.ts, tt.base)
		if got != tt.want {
			t.Errorf("SignHMACSHA1(%q, %q) = %s, want %s", tt.cs, tt.ts, got, tt.want)
		}
		raw, _ := base64.StdEncoding.DecodeString(tt.want)
		if !VerifyHMACSHA1(tt.cs, tt.ts, tt.base, raw) {
			t.Error("VerifyHMACSHA1 refused a good signature")
		}
		if VerifyHMACSHA1(tt.cs, tt.ts, tt.base+"x", raw) {
			t.Error("VerifyHMACSHA1 accepted another base string")
		}
		if VerifyHMACSHA1(tt.cs+"x", tt.ts, tt.base, raw) {
			t.Error("VerifyHMACSHA1 accepted another consumer secret")
		}
		if VerifyHMACSHA1(tt.cs, "", tt.base, raw) {
			t.Error("VerifyHMACSHA1 accepted an empty token secret")
		}
		if VerifyHMACSHA1(tt.cs, tt.ts, tt.base, raw[:19]) {
			t.Error("VerifyHMACSHA1 accepted a truncated signature")
		}
	}
}

func TestHMACSHA1KeyIsEncoded(t *testing.T) {
	// RFC 5849 3.4.2: key = enc(client secret) & enc(token secret). A secret
	// containing "&" must not be confused with the separator: with raw
	// secrets, ("a&b", "") and ("a", "b&") would both give "a&b&".
	if SignHMACSHA1("a&b", "", "base") == SignHMACSHA1("a", "b&", "base") {
		t.Error("secrets are not percent-encoded before they are joined")
	}
	// "~" is unreserved and stays; "&", " " and UTF-8 are encoded.
	if got, want := SignHMACSHA1("a&b é", "t~", "base"), hmacRef("a%26b%20%C3%A9&t~", "base"); got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

// hmacRef is HMAC-SHA1 with a literal key, straight from the standard library.
func hmacRef(key, base string) string {
	m := hmac.New(sha1.New, []byte(key))
	m.Write([]byte(base))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func TestHMACSHA1Pooled(t *testing.T) {
	// Pooled keyed states must give the same MACs as fresh ones: reused many
	// times, for several keys, concurrently, and past the pool cap.
	secrets := []string{"a", "b", "a&b", "é", ""}
	bases := []string{"", "x", rfc5849BaseString, coreA51BaseString}
	check := func(t *testing.T) {
		for _, s := range secrets {
			for _, tok := range []string{"", "tok"} { // pooled, not pooled
				for _, b := range bases {
					want := hmacRef(PercentEncode(s)+"&"+PercentEncode(tok), b)
					for range 3 {
						if got := SignHMACSHA1(s, tok, b); got != want {
							t.Fatalf("SignHMACSHA1(%q, %q, %.20q) = %s, want %s", s, tok, b, got, want)
						}
					}
					raw, _ := base64.StdEncoding.DecodeString(want)
					if !VerifyHMACSHA1(s, tok, b, raw) {
						t.Fatalf("VerifyHMACSHA1(%q, %q) refused", s, tok)
					}
				}
			}
		}
	}
	check(t)
	if m := hmacPools.Load(); m == nil || (*m)["a&"] == nil {
		t.Fatal("the consumer-only key a& was not pooled")
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			check(t)
		}()
	}
	wg.Wait()

	// Keys with a token secret are never pooled.
	before := hmacPools.Load()
	_ = SignHMACSHA1("consumer", "per-user-token-secret", "b")
	if m := hmacPools.Load(); m != nil {
		for k := range *m {
			if strings.Contains(k, "per-user-token-secret") {
				t.Error("a token secret was cached in hmacPools")
			}
		}
	}
	if hmacPools.Load() != before {
		t.Error("signing with a token secret changed hmacPools")
	}

	saved := hmacPools.Load()
	full := map[string]*sync.Pool{}
	for i := range maxHMACPools {
		full[strconv.Itoa(i)] = &sync.Pool{}
	}
	hmacPools.Store(&full)
	defer hmacPools.Store(saved)
	if hmacPool([]byte("never-seen-key&")) != nil {
		t.Error("a pool was added past the cap")
	}
	if got, want := SignHMACSHA1("never-seen-key", "", "b"), hmacRef("never-seen-key&", "b"); got != want {
		t.Errorf("past the cap: %s, want %s", got, want)
	}
}
