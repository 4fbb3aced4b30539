//go:build !purego

#include "textflag.h"

// func amm52x40(out, a, b, n *[40]uint64, k0 uint64)
//
// Almost Montgomery multiplication in radix 2^52 (Gueron and Krasnov,
// "Accelerating Big Integer Arithmetic Using Intel IFMA Extensions", 2016):
// out = (a*b + m*n) / 2^2080 for the m that makes the division exact.
// a, b and n hold 40 limbs of 52 bits each; out holds 40 lanes of up to 64
// bits that the caller carries into 52-bit limbs. The accumulator lives in
// Z10-Z14 (lane j = limb j). Each of the 40 rounds adds the low halves of
// a*b[i], clears limb 0 with the low halves of m*n, shifts the accumulator
// down one limb (carrying limb 0's top bits), and then adds the high
// halves, which belong one limb up and so land where the shift put them.
// Nothing here is secret (RSA public-key operation), so it branches and
// times freely.
TEXT ·amm52x40(SB), NOSPLIT, $0-40
	MOVQ out+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), BX
	MOVQ n+24(FP), DX
	MOVQ k0+32(FP), R8
	MOVQ $0xfffffffffffff, R9 // 2^52 - 1

	VMOVDQU64 0(SI), Z0
	VMOVDQU64 64(SI), Z1
	VMOVDQU64 128(SI), Z2
	VMOVDQU64 192(SI), Z3
	VMOVDQU64 256(SI), Z4
	VMOVDQU64 0(DX), Z5
	VMOVDQU64 64(DX), Z6
	VMOVDQU64 128(DX), Z7
	VMOVDQU64 192(DX), Z8
	VMOVDQU64 256(DX), Z9
	VPXORQ Z10, Z10, Z10
	VPXORQ Z11, Z11, Z11
	VPXORQ Z12, Z12, Z12
	VPXORQ Z13, Z13, Z13
	VPXORQ Z14, Z14, Z14
	VPXORQ Z15, Z15, Z15 // stays zero: shifted in at the top

	MOVQ $40, CX

round:
	VPBROADCASTQ (BX), Z16 // b[i]
	VPMADD52LUQ Z16, Z0, Z10
	VPMADD52LUQ Z16, Z1, Z11
	VPMADD52LUQ Z16, Z2, Z12
	VPMADD52LUQ Z16, Z3, Z13
	VPMADD52LUQ Z16, Z4, Z14

	// m = limb0 * k0 mod 2^52, where k0 = -n^-1 mod 2^52
	VMOVQ X10, AX
	IMULQ R8, AX
	ANDQ R9, AX
	VPBROADCASTQ AX, Z17
	VPMADD52LUQ Z17, Z5, Z10
	VPMADD52LUQ Z17, Z6, Z11
	VPMADD52LUQ Z17, Z7, Z12
	VPMADD52LUQ Z17, Z8, Z13
	VPMADD52LUQ Z17, Z9, Z14

	// limb 0 is now a multiple of 2^52: keep its carry, shift down a limb
	VMOVQ X10, AX
	SHRQ $52, AX
	VALIGNQ $1, Z10, Z11, Z10
	VALIGNQ $1, Z11, Z12, Z11
	VALIGNQ $1, Z12, Z13, Z12
	VALIGNQ $1, Z13, Z14, Z13
	VALIGNQ $1, Z14, Z15, Z14
	VMOVQ AX, X18
	VPADDQ Z18, Z10, Z10

	VPMADD52HUQ Z16, Z0, Z10
	VPMADD52HUQ Z16, Z1, Z11
	VPMADD52HUQ Z16, Z2, Z12
	VPMADD52HUQ Z16, Z3, Z13
	VPMADD52HUQ Z16, Z4, Z14
	VPMADD52HUQ Z17, Z5, Z10
	VPMADD52HUQ Z17, Z6, Z11
	VPMADD52HUQ Z17, Z7, Z12
	VPMADD52HUQ Z17, Z8, Z13
	VPMADD52HUQ Z17, Z9, Z14

	ADDQ $8, BX
	DECQ CX
	JNZ round

	VMOVDQU64 Z10, 0(DI)
	VMOVDQU64 Z11, 64(DI)
	VMOVDQU64 Z12, 128(DI)
	VMOVDQU64 Z13, 192(DI)
	VMOVDQU64 Z14, 256(DI)
	VZEROUPPER
	RET
