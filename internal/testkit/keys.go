package testkit

import (
	"crypto/rsa"
	"os"
	"path/filepath"
	"sync"

	"github.com/caddy-applink/caddy-applink/internal/rsakey"
)

// KeyPair is a fresh 2048-bit RSA key and the PEM files holding it.
type KeyPair struct {
	Key      *rsa.PrivateKey
	PrivFile string // dir/name.pem, mode 0600
	PubFile  string // dir/name.pub.pem
}

// Public is the public half of the key.
func (k KeyPair) Public() *rsa.PublicKey { return &k.Key.PublicKey }

// WriteKeyPair generates a key and writes it to dir as name.pem and
// name.pub.pem.
func WriteKeyPair(dir, name string) (KeyPair, error) {
	key, err := rsakey.Generate(2048)
	if err != nil {
		return KeyPair{}, err
	}
	k := KeyPair{Key: key, PrivFile: filepath.Join(dir, name+".pem"), PubFile: filepath.Join(dir, name+".pub.pem")}
	priv, err := rsakey.EncodePrivatePEM(key)
	if err != nil {
		return KeyPair{}, err
	}
	pub, err := rsakey.EncodePublicPEM(&key.PublicKey)
	if err != nil {
		return KeyPair{}, err
	}
	if err := os.WriteFile(k.PrivFile, priv, 0o600); err != nil {
		return KeyPair{}, err
	}
	if err := os.WriteFile(k.PubFile, pub, 0o644); err != nil {
		return KeyPair{}, err
	}
	return k, nil
}

// SharedKeyPair returns a function that gives the same key pair every time
// (one per test binary; RSA key generation is slow), written on the first
// call to a directory of its own: in the data directory of
// RunWithOwnDataDir when there is one, so that it goes with it. It panics if
// the key cannot be made.
func SharedKeyPair(name string) func() KeyPair {
	return sync.OnceValue(func() KeyPair {
		dir, err := os.MkdirTemp(ownDataDir, "applink-keys")
		if err != nil {
			panic(err)
		}
		k, err := WriteKeyPair(dir, name)
		if err != nil {
			panic(err)
		}
		return k
	})
}
