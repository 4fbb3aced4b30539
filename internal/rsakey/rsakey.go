// Package rsakey reads and writes the RSA keys of application links in the
// forms Atlassian and OpenSSL use: PEM (PKIX "PUBLIC KEY", PKCS#1 "RSA PUBLIC
// KEY", X.509 certificates; PKCS#1 or PKCS#8 private keys) and the bare
// base64 DER that /plugins/servlet/oauth/consumer-info publishes.
package rsakey

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
)

// MinBits is the smallest modulus accepted. Old Atlassian instances generated
// 1024-bit keys, and Go refuses anything smaller.
const MinBits = 1024

// ParsePublic reads a public key from PEM or from base64 DER (with or without
// PEM armour and line breaks, as consumer-info parsers accept).
func ParsePublic(data []byte) (*rsa.PublicKey, error) {
	text := strings.TrimSpace(string(data))
	// Contains, not HasPrefix: "openssl x509 -text" and similar tools put
	// explanatory text before the PEM block, which pem.Decode skips.
	if strings.Contains(text, "-----BEGIN") {
		block, _ := pem.Decode([]byte(text))
		if block == nil {
			return nil, errors.New("invalid PEM")
		}
		switch block.Type {
		case "CERTIFICATE":
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("certificate: %w", err)
			}
			return checkPublic(cert.PublicKey)
		case "RSA PUBLIC KEY":
			k, err := x509.ParsePKCS1PublicKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("PKCS#1 RSA public key: %w", err)
			}
			return checkPublic(k)
		case "PUBLIC KEY":
			return parsePublicDER(block.Bytes)
		default:
			return nil, fmt.Errorf("PEM block %q is not a public key", block.Type)
		}
	}
	der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(text), ""))
	if err != nil {
		return nil, fmt.Errorf("not PEM and not base64 DER: %w", err)
	}
	return parsePublicDER(der)
}

func parsePublicDER(der []byte) (*rsa.PublicKey, error) {
	if k, err := x509.ParsePKIXPublicKey(der); err == nil {
		return checkPublic(k)
	}
	k, err := x509.ParsePKCS1PublicKey(der)
	if err != nil {
		return nil, errors.New("not an X.509 SubjectPublicKeyInfo or PKCS#1 RSA public key")
	}
	return checkPublic(k)
}

func checkPublic(k any) (*rsa.PublicKey, error) {
	pub, ok := k.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("key is %T, not RSA (application links sign with RSA-SHA1)", k)
	}
	if pub.N.BitLen() < MinBits {
		return nil, fmt.Errorf("RSA key of %d bits is too small (minimum %d)", pub.N.BitLen(), MinBits)
	}
	return pub, nil
}

// ParsePrivate reads a PEM private key (PKCS#1 "RSA PRIVATE KEY" or PKCS#8
// "PRIVATE KEY").
func ParsePrivate(data []byte) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block found")
	}
	var key any
	var err error
	switch block.Type {
	case "ENCRYPTED PRIVATE KEY":
		return nil, errors.New("encrypted PKCS#8 private keys are not supported; decrypt it with: openssl pkey -in key.pem -out plain.pem")
	case "RSA PRIVATE KEY":
		if strings.Contains(block.Headers["Proc-Type"], "ENCRYPTED") {
			return nil, errors.New("encrypted PEM private keys are not supported; decrypt it with: openssl pkey -in key.pem -out plain.pem")
		}
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf(`PEM block %q is not an RSA private key (want "RSA PRIVATE KEY" or "PRIVATE KEY")`, block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("%s PEM block: %w", block.Type, err)
	}
	priv, ok := key.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("key is %T, not RSA", key)
	}
	if _, err := checkPublic(&priv.PublicKey); err != nil {
		return nil, err
	}
	return priv, nil
}

// LoadPublic reads a public key file; errors name the file.
func LoadPublic(path string) (*rsa.PublicKey, error) { return load(path, ParsePublic) }

// LoadPrivate reads a private key file; errors name the file.
func LoadPrivate(path string) (*rsa.PrivateKey, error) { return load(path, ParsePrivate) }

// load reads the file at path and parses it; parse errors name the file.
func load[K any](path string, parse func([]byte) (K, error)) (K, error) {
	var none K
	data, err := os.ReadFile(path)
	if err != nil {
		return none, err
	}
	k, err := parse(data)
	if err != nil {
		return none, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// ConsumerInfoString renders a public key as consumer-info publishes it:
// base64 of the X.509 SubjectPublicKeyInfo DER, no armour, no newlines.
func ConsumerInfoString(pub *rsa.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(der), nil
}

// Fingerprint names a public key briefly, for logs, metrics and the
// operator comparing keys during a rotation: "sha256:" and the first 16
// hex digits of the SHA-256 of its SubjectPublicKeyInfo DER (what
// consumer-info publishes, decoded).
func Fingerprint(pub *rsa.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "unknown"
	}
	sum := sha256.Sum256(der)
	return "sha256:" + hex.EncodeToString(sum[:8])
}

// Generate creates a key pair of the given size.
func Generate(bits int) (*rsa.PrivateKey, error) {
	return rsa.GenerateKey(rand.Reader, bits)
}

// EncodePrivatePEM renders a private key as PKCS#8 PEM.
func EncodePrivatePEM(k *rsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// EncodePublicPEM renders a public key as PKIX PEM.
func EncodePublicPEM(k *rsa.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}
