package login

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
)

// MinKeyLen is the shortest key NewSessions and NewCSRF accept, in bytes.
const MinKeyLen = 32

// prepareKey returns the root key: key itself, or 32 random bytes when key
// is empty (ephemeral = true). A non-empty key shorter than MinKeyLen is an
// error: a guessable key lets anyone forge sessions.
func prepareKey(key []byte, what string) (root []byte, ephemeral bool, err error) {
	if len(key) == 0 {
		root = make([]byte, 32)
		if _, err := rand.Read(root); err != nil {
			return nil, false, fmt.Errorf("%s: random key: %w", what, err)
		}
		return root, true, nil
	}
	if len(key) < MinKeyLen {
		return nil, false, fmt.Errorf("%s: key is %d bytes, at least %d are needed (e.g. 32 random bytes)", what, len(key), MinKeyLen)
	}
	return append([]byte(nil), key...), false, nil
}

// deriveKey derives a sub-key for one use from the root key, so that one
// configured key can serve sessions and CSRF tokens without a MAC of one
// ever being valid as the other.
func deriveKey(root []byte, label string) []byte {
	m := hmac.New(sha256.New, root)
	m.Write([]byte("caddy-applink/login/v1/" + label))
	return m.Sum(nil)
}

// b64 decodes what this package encodes: unpadded base64url, strictly (a
// value with non-zero padding bits is refused, so each value has one
// spelling).
var b64 = base64.RawURLEncoding.Strict()
