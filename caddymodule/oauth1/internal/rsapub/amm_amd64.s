//go:build !purego

#include "textflag.h"

// func amm52x40(out, a, b, n *[40]uint64, k0 uint64)
//
// Almost Montgomery multiplication in radix 2^52 (Gueron and Krasnov,
// "Accelerating Big Integer Arithmetic Using Intel IFMA Extensions", 2016):
// out = (a*b + m*n) / 2^2080 for the m that makes the division exact.
// a, b and n hold 40 limbs below 2^52 each (VPMADD52 reads 52 bits of a
// limb, IMULQ all 64: a wider limb would break m); out holds 40 lanes below
// 2^60 (each round adds under 2^54 to a lane) that the caller carries into
// 52-bit limbs.
//
// The accumulator lives in Z10-Z14, lane j for limb j. Each of the 40
// rounds adds the low halves of a*b[i] and m*n, which clears limb 0,
// shifts the accumulator down one limb, and adds the high halves, which
// belong one limb up. The high halves are summed in Z18-Z22 alongside, and
// limb 0, m and limb 0's carry are worked out in general registers, so
// that the chain from one round to the next is only: move limb 0 out,
// compute m, broadcast it, one multiply-add, the shift and an add.
//
// Nothing here is secret (RSA public-key operation), so it branches and
// times freely.
TEXT ·amm52x40(SB), NOSPLIT, $0-40
	MOVQ out+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), BX
	MOVQ n+24(FP), DX
	MOVQ k0+32(FP), R8
	MOVQ $0xfffffffffffff, R9 // 2^52 - 1
	MOVQ 0(SI), R12           // a[0]
	MOVQ 0(DX), R14           // n[0]
	XORQ R10, R10             // carry out of limb 0, not yet in Z10

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
	// limb 0 + lo(a[0]*b[i]), then m = that * k0 mod 2^52, where
	// k0 = -n^-1 mod 2^52, and the carry limb 0 will then pass up
	MOVQ (BX), R11
	IMULQ R12, R11
	ANDQ R9, R11
	VMOVQ X10, AX
	ADDQ R10, AX
	ADDQ R11, AX
	MOVQ AX, R13
	IMULQ R8, AX
	ANDQ R9, AX
	VPBROADCASTQ AX, Z17 // m
	IMULQ R14, AX
	ANDQ R9, AX
	ADDQ R13, AX
	SHRQ $52, AX
	MOVQ AX, R10

	VPBROADCASTQ (BX), Z16 // b[i]
	VPMADD52LUQ Z16, Z0, Z10
	VPMADD52LUQ Z16, Z1, Z11
	VPMADD52LUQ Z16, Z2, Z12
	VPMADD52LUQ Z16, Z3, Z13
	VPMADD52LUQ Z16, Z4, Z14
	VPXORQ Z18, Z18, Z18
	VPXORQ Z19, Z19, Z19
	VPXORQ Z20, Z20, Z20
	VPXORQ Z21, Z21, Z21
	VPXORQ Z22, Z22, Z22
	VPMADD52HUQ Z16, Z0, Z18
	VPMADD52HUQ Z16, Z1, Z19
	VPMADD52HUQ Z16, Z2, Z20
	VPMADD52HUQ Z16, Z3, Z21
	VPMADD52HUQ Z16, Z4, Z22

	VPMADD52LUQ Z17, Z5, Z10
	VPMADD52LUQ Z17, Z6, Z11
	VPMADD52LUQ Z17, Z7, Z12
	VPMADD52LUQ Z17, Z8, Z13
	VPMADD52LUQ Z17, Z9, Z14
	VPMADD52HUQ Z17, Z5, Z18
	VPMADD52HUQ Z17, Z6, Z19
	VPMADD52HUQ Z17, Z7, Z20
	VPMADD52HUQ Z17, Z8, Z21
	VPMADD52HUQ Z17, Z9, Z22

	// limb 0 is now a multiple of 2^52 (its carry is in R10): drop it
	VALIGNQ $1, Z10, Z11, Z10
	VALIGNQ $1, Z11, Z12, Z11
	VALIGNQ $1, Z12, Z13, Z12
	VALIGNQ $1, Z13, Z14, Z13
	VALIGNQ $1, Z14, Z15, Z14
	VPADDQ Z18, Z10, Z10
	VPADDQ Z19, Z11, Z11
	VPADDQ Z20, Z12, Z12
	VPADDQ Z21, Z13, Z13
	VPADDQ Z22, Z14, Z14

	ADDQ $8, BX
	DECQ CX
	JNZ round

	VMOVQ R10, X23
	VPADDQ Z23, Z10, Z10
	VMOVDQU64 Z10, 0(DI)
	VMOVDQU64 Z11, 64(DI)
	VMOVDQU64 Z12, 128(DI)
	VMOVDQU64 Z13, 192(DI)
	VMOVDQU64 Z14, 256(DI)
	VZEROUPPER
	RET
