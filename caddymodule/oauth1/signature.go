package oauth1

import (
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"encoding/base64"
	"io"
)

// Signature methods. Application links use RSA-SHA1; HMAC-SHA1 serves
// consumers configured with a shared secret. PLAINTEXT is never accepted.
const (
	RSASHA1  = "RSA-SHA1"
	HMACSHA1 = "HMAC-SHA1"
)

func sha1Sum(s string) []byte {
	h := sha1.New()
	_, _ = io.WriteString(h, s)
	return h.Sum(nil)
}

// SignRSASHA1 signs a base string with RSASSA-PKCS1-v1_5 over SHA-1 and
// returns the base64 signature (RFC 5849 section 3.4.3).
func SignRSASHA1(key *rsa.PrivateKey, base string) (string, error) {
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA1, sha1Sum(base))
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// VerifyRSASHA1 checks a raw (base64-decoded) RSA-SHA1 signature.
func VerifyRSASHA1(key *rsa.PublicKey, base string, sig []byte) error {
	return rsa.VerifyPKCS1v15(key, crypto.SHA1, sha1Sum(base), sig)
}

// SignHMACSHA1 signs a base string with HMAC-SHA1 keyed by
// enc(consumerSecret)&enc(tokenSecret) (RFC 5849 section 3.4.2).
func SignHMACSHA1(consumerSecret, tokenSecret, base string) string {
	return base64.StdEncoding.EncodeToString(hmacSHA1(consumerSecret, tokenSecret, base))
}

func hmacSHA1(consumerSecret, tokenSecret, base string) []byte {
	m := hmac.New(sha1.New, []byte(PercentEncode(consumerSecret)+"&"+PercentEncode(tokenSecret)))
	_, _ = io.WriteString(m, base)
	return m.Sum(nil)
}

// VerifyHMACSHA1 checks a raw HMAC-SHA1 signature in constant time.
func VerifyHMACSHA1(consumerSecret, tokenSecret, base string, sig []byte) bool {
	return hmac.Equal(hmacSHA1(consumerSecret, tokenSecret, base), sig)
}
