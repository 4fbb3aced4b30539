package rsakey

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var key2048 = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

var ecKey = sync.OnceValue(func() *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
})

// smallKey builds a 512-bit RSA key by hand: crypto/rsa refuses to generate
// one, but such keys exist in old configurations and must be refused here.
var smallKey = sync.OnceValue(func() *rsa.PrivateKey {
	e := big.NewInt(65537)
	one := big.NewInt(1)
	for {
		p, _ := rand.Prime(rand.Reader, 256)
		q, _ := rand.Prime(rand.Reader, 256)
		phi := new(big.Int).Mul(new(big.Int).Sub(p, one), new(big.Int).Sub(q, one))
		d := new(big.Int).ModInverse(e, phi)
		if d == nil || p.Cmp(q) == 0 {
			continue
		}
		k := &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: new(big.Int).Mul(p, q), E: 65537}, D: d, Primes: []*big.Int{p, q}}
		k.Precompute()
		return k
	}
})

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// parseCase is an input that must parse to the test's key.
type parseCase struct{ name, in string }

// checkParses runs a subtest per case: parse (called what) must accept it
// and give a key that is the test's (same).
func checkParses[K any](t *testing.T, what string, parse func([]byte) (K, error), same func(K) bool, tests []parseCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parse([]byte(tt.in))
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			if !same(got) {
				t.Error("parsed a different key")
			}
		})
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func selfSigned(pub, priv any) []byte {
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "applink test"},
		NotBefore:    time.Unix(0, 0),
		NotAfter:     time.Unix(4e9, 0),
	}
	return must(x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv))
}

func wrap64(s string, nl string) string {
	var b strings.Builder
	for len(s) > 64 {
		b.WriteString(s[:64] + nl)
		s = s[64:]
	}
	b.WriteString(s)
	return b.String()
}

func TestParsePublic(t *testing.T) {
	k := key2048()
	pub := &k.PublicKey
	pkix := must(x509.MarshalPKIXPublicKey(pub))
	pkcs1 := x509.MarshalPKCS1PublicKey(pub)
	b64 := base64.StdEncoding.EncodeToString(pkix)
	cert := selfSigned(pub, k)

	tests := []parseCase{
		{"PKIX PEM", string(pemBlock("PUBLIC KEY", pkix))},
		{"PKCS#1 PEM", string(pemBlock("RSA PUBLIC KEY", pkcs1))},
		{"PKCS#1 DER inside a PUBLIC KEY block", string(pemBlock("PUBLIC KEY", pkcs1))},
		{"certificate PEM", string(pemBlock("CERTIFICATE", cert))},
		{"PEM with CRLF line ends", strings.ReplaceAll(string(pemBlock("PUBLIC KEY", pkix)), "\n", "\r\n")},
		{"PEM after explanatory text", "Public-Key: (2048 bit)\nModulus: ...\n" + string(pemBlock("PUBLIC KEY", pkix))},
		{"PEM with surrounding blank lines", "\n\n  " + string(pemBlock("PUBLIC KEY", pkix)) + "\n\n"},
		{"consumer-info base64 DER, one line", b64},
		{"base64 DER wrapped at 64", wrap64(b64, "\n")},
		{"base64 DER wrapped with CRLF and indented", "  " + wrap64(b64, "\r\n    ") + "\n"},
		{"base64 PKCS#1 DER", base64.StdEncoding.EncodeToString(pkcs1)},
	}
	checkParses(t, "ParsePublic", ParsePublic, func(got *rsa.PublicKey) bool { return got.Equal(pub) }, tests)
}

// TestParsePublicWikiCertificate: the OAuth wiki's RSA-SHA1 test
// certificate and key (1024 bits), in testdata, read with Load*.
func TestParsePublicWikiCertificate(t *testing.T) {
	pub, err := LoadPublic("testdata/wiki-cert.pem")
	if err != nil {
		t.Fatal(err)
	}
	priv, err := LoadPrivate("testdata/wiki-key.pem")
	if err != nil {
		t.Fatal(err)
	}
	if pub.N.BitLen() != 1024 || !priv.PublicKey.Equal(pub) {
		t.Errorf("wiki certificate (%d bits) does not match the wiki key", pub.N.BitLen())
	}
}

func TestParsePublicRejects(t *testing.T) {
	ec := &ecKey().PublicKey
	ecPKIX := must(x509.MarshalPKIXPublicKey(ec))
	edPub, edPriv := must2(ed25519.GenerateKey(rand.Reader))
	small := &smallKey().PublicKey
	smallPKIX := must(x509.MarshalPKIXPublicKey(small))
	rsaPriv := x509.MarshalPKCS1PrivateKey(key2048())

	tests := []struct {
		name    string
		in      string
		errText string
	}{
		{"ECDSA PKIX PEM", string(pemBlock("PUBLIC KEY", ecPKIX)), "not RSA"},
		{"ECDSA base64 DER", base64.StdEncoding.EncodeToString(ecPKIX), "not RSA"},
		{"ECDSA certificate", string(pemBlock("CERTIFICATE", selfSigned(ec, ecKey()))), "not RSA"},
		{"Ed25519 PEM", string(pemBlock("PUBLIC KEY", must(x509.MarshalPKIXPublicKey(edPub)))), "not RSA"},
		{"Ed25519 certificate", string(pemBlock("CERTIFICATE", selfSigned(edPub, edPriv))), "not RSA"},
		{"512-bit PKIX PEM", string(pemBlock("PUBLIC KEY", smallPKIX)), "too small"},
		{"512-bit PKCS#1 PEM", string(pemBlock("RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(small))), "too small"},
		{"512-bit base64 DER", base64.StdEncoding.EncodeToString(smallPKIX), "too small"},
		{"private key given as public", string(pemBlock("RSA PRIVATE KEY", rsaPriv)), "not a public key"},
		{"empty", "", "not an X.509"},
		{"not base64", "this is not a key", "not PEM and not base64"},
		{"base64 of garbage", base64.StdEncoding.EncodeToString([]byte("garbage")), "not an X.509"},
		{"truncated DER", base64.StdEncoding.EncodeToString(must(x509.MarshalPKIXPublicKey(&key2048().PublicKey))[:100]), "not an X.509"},
		{"broken PEM", "-----BEGIN PUBLIC KEY-----\n!!!\n-----END PUBLIC KEY-----\n", "invalid PEM"},
		{"garbage in a PUBLIC KEY block", string(pemBlock("PUBLIC KEY", []byte("garbage"))), "not an X.509"},
		{"garbage in a certificate", string(pemBlock("CERTIFICATE", []byte("garbage"))), "certificate: "},
		{"garbage in an RSA PUBLIC KEY block", string(pemBlock("RSA PUBLIC KEY", []byte("garbage"))), "PKCS#1 RSA public key: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := ParsePublic([]byte(tt.in))
			if err == nil {
				t.Fatalf("ParsePublic accepted it: %d-bit key", k.N.BitLen())
			}
			if !strings.Contains(err.Error(), tt.errText) {
				t.Errorf("error %q does not say %q", err, tt.errText)
			}
		})
	}
}

func must2[A, B any](a A, b B, err error) (A, B) {
	if err != nil {
		panic(err)
	}
	return a, b
}

func TestParsePrivate(t *testing.T) {
	k := key2048()
	pkcs8 := must(x509.MarshalPKCS8PrivateKey(k))
	tests := []parseCase{
		{"PKCS#1", string(pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(k)))},
		{"PKCS#8", string(pemBlock("PRIVATE KEY", pkcs8))},
		{"EncodePrivatePEM", string(must(EncodePrivatePEM(k)))},
		{"after other text", "Bag Attributes\n  friendlyName: applink\n" + string(pemBlock("PRIVATE KEY", pkcs8))},
	}
	checkParses(t, "ParsePrivate", ParsePrivate, func(got *rsa.PrivateKey) bool { return got.Equal(k) }, tests)
}

func TestParsePrivateRejects(t *testing.T) {
	legacy := pem.EncodeToMemory(&pem.Block{
		Type:    "RSA PRIVATE KEY",
		Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00112233445566778899AABBCCDDEEFF"},
		Bytes:   []byte("ciphertext, not DER"),
	})
	small := smallKey()
	tests := []struct {
		name    string
		in      []byte
		errText string
	}{
		{"no PEM", []byte("MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"), "no PEM block"},
		{"empty", nil, "no PEM block"},
		{"public key", pemBlock("PUBLIC KEY", must(x509.MarshalPKIXPublicKey(&key2048().PublicKey))), "not an RSA private key"},
		{"EC PRIVATE KEY", pemBlock("EC PRIVATE KEY", must(x509.MarshalECPrivateKey(ecKey()))), "not an RSA private key"},
		{"ECDSA PKCS#8", pemBlock("PRIVATE KEY", must(x509.MarshalPKCS8PrivateKey(ecKey()))), "not RSA"},
		{"encrypted PKCS#8", pemBlock("ENCRYPTED PRIVATE KEY", []byte("whatever")), "encrypted"},
		{"legacy encrypted PEM", legacy, "encrypted"},
		{"512-bit PKCS#1", pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(small)), "too small"},
		{"512-bit PKCS#8", pemBlock("PRIVATE KEY", must(x509.MarshalPKCS8PrivateKey(small))), "too small"},
		{"garbage PKCS#1", pemBlock("RSA PRIVATE KEY", []byte("garbage")), "RSA PRIVATE KEY PEM block: "},
		{"garbage PKCS#8", pemBlock("PRIVATE KEY", []byte("garbage")), "PRIVATE KEY PEM block: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := ParsePrivate(tt.in)
			if err == nil {
				t.Fatalf("ParsePrivate accepted it: %d-bit key", k.N.BitLen())
			}
			if !strings.Contains(err.Error(), tt.errText) {
				t.Errorf("error %q does not say %q", err, tt.errText)
			}
		})
	}
}

func TestConsumerInfoString(t *testing.T) {
	pub := &key2048().PublicKey
	s, err := ConsumerInfoString(pub)
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(s, "\r\n -") {
		t.Errorf("consumer-info key %q has armour or line breaks", s)
	}
	der, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	if k, err := x509.ParsePKIXPublicKey(der); err != nil || !pub.Equal(k) {
		t.Errorf("not SubjectPublicKeyInfo DER of the key: %v", err)
	}
	back, err := ParsePublic([]byte(s))
	if err != nil || !back.Equal(pub) {
		t.Errorf("round trip: %v", err)
	}
}

func TestEncodePEM(t *testing.T) {
	k := key2048()
	pubPEM, err := EncodePublicPEM(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(pubPEM), "-----BEGIN PUBLIC KEY-----\n") {
		t.Errorf("public PEM %q", pubPEM[:30])
	}
	if back, err := ParsePublic(pubPEM); err != nil || !back.Equal(&k.PublicKey) {
		t.Errorf("public round trip: %v", err)
	}
	privPEM, err := EncodePrivatePEM(k)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(privPEM), "-----BEGIN PRIVATE KEY-----\n") {
		t.Errorf("private PEM is not PKCS#8")
	}
	if back, err := ParsePrivate(privPEM); err != nil || !back.Equal(k) {
		t.Errorf("private round trip: %v", err)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	k := key2048()
	pubPath := filepath.Join(dir, "pub.pem")
	privPath := filepath.Join(dir, "priv.pem")
	badPath := filepath.Join(dir, "bad.pem")
	if err := os.WriteFile(pubPath, must(EncodePublicPEM(&k.PublicKey)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(privPath, must(EncodePrivatePEM(k)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(badPath, []byte("nope"), 0o600); err != nil {
		t.Fatal(err)
	}
	if pub, err := LoadPublic(pubPath); err != nil || !pub.Equal(&k.PublicKey) {
		t.Errorf("LoadPublic: %v", err)
	}
	if priv, err := LoadPrivate(privPath); err != nil || !priv.Equal(k) {
		t.Errorf("LoadPrivate: %v", err)
	}
	for _, f := range []func(string) error{
		func(p string) error { _, err := LoadPublic(p); return err },
		func(p string) error { _, err := LoadPrivate(p); return err },
	} {
		if err := f(badPath); err == nil || !strings.Contains(err.Error(), badPath) {
			t.Errorf("bad file: error %v does not name the file", err)
		}
		if err := f(filepath.Join(dir, "missing")); !os.IsNotExist(err) {
			t.Errorf("missing file: %v", err)
		}
	}
	// A private key file given as the public key is refused.
	if _, err := LoadPublic(privPath); err == nil {
		t.Error("LoadPublic accepted a private key file")
	}
}

func TestGenerate(t *testing.T) {
	k, err := Generate(2048)
	if err != nil {
		t.Fatal(err)
	}
	if k.N.BitLen() != 2048 {
		t.Errorf("%d bits", k.N.BitLen())
	}
	if _, err := Generate(512); err == nil {
		t.Error("Generate(512) succeeded")
	}
	if MinBits != 1024 {
		t.Errorf("MinBits = %d", MinBits)
	}
}

// TestFingerprint: the fingerprint is the SHA-256 of the key's
// SubjectPublicKeyInfo as the PEM file holds it, so an operator can
// compute it with `openssl pkey -pubin -outform DER | sha256sum`.
func TestFingerprint(t *testing.T) {
	data, err := os.ReadFile("../../examples/keys/demo-consumer.pub.pem")
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	sum := sha256.Sum256(block.Bytes)
	pub, err := ParsePublic(data)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := Fingerprint(pub), "sha256:"+hex.EncodeToString(sum[:8]); got != want {
		t.Errorf("Fingerprint %s, want %s", got, want)
	}
}
