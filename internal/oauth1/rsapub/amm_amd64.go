//go:build applink_ifma && amd64 && !purego

package rsapub

import "golang.org/x/sys/cpu"

// haveIFMA reports whether this CPU and OS run the AVX-512 IFMA code.
var haveIFMA = cpu.X86.HasAVX512F && cpu.X86.HasAVX512IFMA

// widths, narrowest first: 1246, 2078, 3326 and 4158 bits at most.
var widths = [...]width{{24}, {40}, {64}, {80}}

// amm runs the multiplication of w's width. The calls are direct so that
// the compiler sees go:noescape, and the numbers stay on the stack.
func (w width) amm(out, a, b, n *nat, k0 uint64) {
	switch w.limbs {
	case 24:
		amm52x24(out, a, b, n, k0)
	case 40:
		amm52x40(out, a, b, n, k0)
	case 64:
		amm52x64(out, a, b, n, k0)
	case 80:
		amm52x80(out, a, b, n, k0)
	default:
		panic("rsapub: no multiplication for this width")
	}
}

//go:noescape
func amm52x24(out, a, b, n *nat, k0 uint64)

//go:noescape
func amm52x40(out, a, b, n *nat, k0 uint64)

//go:noescape
func amm52x64(out, a, b, n *nat, k0 uint64)

//go:noescape
func amm52x80(out, a, b, n *nat, k0 uint64)
