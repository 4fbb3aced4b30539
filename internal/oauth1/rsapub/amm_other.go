//go:build !amd64 || purego

package rsapub

const haveIFMA = false

// widths is empty: there is no IFMA code for this platform.
var widths [0]width

func (w width) amm(out, a, b, n *nat, k0 uint64) {
	panic("rsapub: no AVX-512 IFMA code for this platform")
}
