//go:build !amd64 || purego

package rsapub

const haveIFMA = false

func amm52x40(out, a, b, n *[limbs]uint64, k0 uint64) {
	panic("rsapub: no AVX-512 IFMA code for this platform")
}
