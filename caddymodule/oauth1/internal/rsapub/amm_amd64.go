//go:build !purego

package rsapub

import "golang.org/x/sys/cpu"

//go:generate go run gen_amm.go

// haveIFMA reports whether this CPU and OS run the AVX-512 IFMA code.
var haveIFMA = cpu.X86.HasAVX512F && cpu.X86.HasAVX512IFMA

// widths, narrowest first: 1246, 2078, 3326 and 4158 bits at most.
var widths = [...]width{{24, amm52x24}, {40, amm52x40}, {64, amm52x64}, {80, amm52x80}}

//go:noescape
func amm52x24(out, a, b, n *nat, k0 uint64)

//go:noescape
func amm52x40(out, a, b, n *nat, k0 uint64)

//go:noescape
func amm52x64(out, a, b, n *nat, k0 uint64)

//go:noescape
func amm52x80(out, a, b, n *nat, k0 uint64)
