//go:build !purego

package rsapub

import "golang.org/x/sys/cpu"

// haveIFMA reports whether this CPU and OS run the AVX-512 IFMA code.
var haveIFMA = cpu.X86.HasAVX512F && cpu.X86.HasAVX512IFMA

//go:noescape
func amm52x40(out, a, b, n *[limbs]uint64, k0 uint64)
