package provider

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"errors"
)

// Sealer encrypts token secrets at rest (AES-256-GCM). Only HMAC-SHA1
// consumers need a token secret back in plain text; for RSA-SHA1 consumers
// the secret is never stored at all.
type Sealer struct{ aead cipher.AEAD }

// NewSealer derives the key from a passphrase or key string of at least 16
// bytes (SHA-256 of it).
func NewSealer(key string) (*Sealer, error) {
	if len(key) < 16 {
		return nil, errors.New("the state encryption key must be at least 16 characters")
	}
	sum := sha256.Sum256([]byte("caddy-applink state v1\x00" + key))
	block, err := aes.NewCipher(sum[:])
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts plain, binding it to id (the token ID) so a sealed secret
// cannot be moved to another token record.
func (s *Sealer) Seal(id, plain string) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return s.aead.Seal(nonce, nonce, []byte(plain), []byte(id)), nil
}

// Open decrypts what Seal produced for the same id.
func (s *Sealer) Open(id string, sealed []byte) (string, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return "", errors.New("sealed secret too short")
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], []byte(id))
	if err != nil {
		return "", errors.New("sealed secret does not open with this key")
	}
	return string(plain), nil
}
