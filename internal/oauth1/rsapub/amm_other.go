//go:build !applink_ifma || !amd64 || purego

package rsapub

const haveIFMA = false

// widths is empty: this build has no IFMA code (it is built only with
// -tags applink_ifma on amd64, and not with purego).
var widths [0]width

func (w width) amm(out, a, b, n *nat, k0 uint64) {
	panic("rsapub: no AVX-512 IFMA code in this build")
}
