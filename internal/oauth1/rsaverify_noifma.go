//go:build !applink_ifma || !amd64 || purego

package oauth1

import "math/big"

// The default build holds no assembly: every prepared key goes through
// filippo.io/bigmod, the standard library's own arithmetic. The IFMA code
// is opt-in, with -tags applink_ifma (rsaverify_ifma.go).

// ifmaBuild reports whether this build holds the IFMA code at all.
const ifmaBuild = false

// ifmaModulus stands in for rsapub.Modulus; there is never one.
type ifmaModulus struct{}

func (*ifmaModulus) Exp65537(dst, s []byte) bool {
	panic("oauth1: no IFMA code in this build")
}

func newIFMAModulus(*big.Int) *ifmaModulus { return nil }

func ifmaAvailable() bool { return false }
