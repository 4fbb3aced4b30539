//go:build applink_ifma && amd64 && !purego

package oauth1

import (
	"math/big"

	"github.com/caddy-applink/caddy-applink/internal/oauth1/rsapub"
)

// With -tags applink_ifma on amd64, keys of 1024 to 4096 bits go through
// rsapub's AVX-512 IFMA assembly on CPUs that have it.

// ifmaBuild reports whether this build holds the IFMA code at all.
const ifmaBuild = true

// ifmaModulus is a modulus prepared for rsapub.
type ifmaModulus = rsapub.Modulus

// newIFMAModulus returns nil where rsapub does not take n: a CPU without
// AVX-512 IFMA, or a key outside 1024 to 4096 bits.
func newIFMAModulus(n *big.Int) *ifmaModulus { return rsapub.NewModulus(n) }

// ifmaAvailable reports whether this machine runs the IFMA code.
func ifmaAvailable() bool { return rsapub.Available() }
