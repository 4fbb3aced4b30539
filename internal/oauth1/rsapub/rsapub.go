// Package rsapub runs the RSA public-key operation, s^65537 mod n, for
// moduli of 1024 to 4096 bits with AVX-512 IFMA, which multiplies 52-bit
// limbs eight at a time, on CPUs that have it (Ice Lake and later Xeons,
// Zen 4 and later). It is the bulk of verifying an RSA-SHA1 request, and
// here about four times as fast as crypto/rsa at 2048 bits, fifteen at
// 3072 (BenchmarkPreparedRSAKey in package oauth1, run with -tags
// applink_ifma; BenchmarkExp65537 times the exponentiation alone).
//
// The package holds assembly only when built with -tags applink_ifma on
// amd64 (and not purego); otherwise NewModulus returns nil, and callers
// use filippo.io/bigmod.
//
// A public-key operation handles nothing secret, so this code is not
// constant-time. Verification is only as sound as this arithmetic, so it
// is checked against math/big: single multiplications against their exact
// value, whole exponentiations on random and edge-case moduli of every
// width, and a fuzz target.
package rsapub

import (
	"encoding/binary"
	"math/big"
)

// The assembly is generated, and kept in the repository: it is compiled
// only with -tags applink_ifma (amm_amd64.go), but this directive sits in
// a file of every build, for go generate honours build constraints.
//
//go:generate go run gen_amm.go

const (
	maxLimbs = 80 // 52-bit limbs of the widest multiplication: 4160 bits
	limbBits = 52
	limbMask = 1<<limbBits - 1
	minBits  = 1024
	maxBits  = 4096
)

// nat is a number in 52-bit limbs, least significant first; a Modulus uses
// the first limbs of it, the rest stay zero.
type nat [maxLimbs]uint64

// width is the limb count of one of the generated multiplications
// (gen_amm.go, called through amm), for moduli below 2^(52*limbs-2),
// which keeps every product below 2n.
type width struct{ limbs int }

// Modulus is an odd modulus prepared for exponentiation: its limbs, the
// Montgomery constants for R = 2^(52*limbs), and its size in bytes.
type Modulus struct {
	width
	n    nat
	rr   nat    // R^2 mod n, to bring a number into Montgomery form
	k0   uint64 // -n^-1 mod 2^52
	size int
}

// Available reports whether this machine runs the IFMA code.
func Available() bool { return haveIFMA }

// NewModulus prepares n, or returns nil when this package does not take
// it: the CPU lacks AVX-512 IFMA, or n is even or not 1024 to 4096 bits.
func NewModulus(n *big.Int) *Modulus {
	if !haveIFMA || n == nil || n.Bit(0) != 1 || n.BitLen() < minBits || n.BitLen() > maxBits {
		return nil
	}
	m := &Modulus{size: (n.BitLen() + 7) / 8}
	for _, w := range widths {
		if n.BitLen() <= w.limbs*limbBits-2 {
			m.width = w
			break
		}
	}
	if m.limbs == 0 {
		return nil
	}
	toLimbs(&m.n, n.FillBytes(make([]byte, m.size)))
	rr := new(big.Int).Lsh(big.NewInt(1), uint(2*m.limbs*limbBits))
	toLimbs(&m.rr, rr.Mod(rr, n).FillBytes(make([]byte, m.size)))
	// Newton's iteration doubles the correct low bits of n0^-1 each step,
	// from the 3 that n0 itself gets right (n0*n0 = 1 mod 8 for odd n0).
	n0 := m.n[0]
	inv := n0
	for range 5 {
		inv *= 2 - n0*inv
	}
	m.k0 = -inv & limbMask
	return m
}

// Size is the length in bytes of the modulus, and of the signatures and
// results that go with it.
func (m *Modulus) Size() int { return m.size }

// Exp65537 writes s^65537 mod n into dst, both Size() bytes big-endian.
// It returns false, writing nothing, when s or dst has the wrong length or
// s >= n, which no valid signature is.
func (m *Modulus) Exp65537(dst, s []byte) bool {
	if len(s) != m.size || len(dst) != m.size {
		return false
	}
	var x, base, t nat
	toLimbs(&x, s)
	if !m.less(&x, &m.n) {
		return false
	}
	// Into Montgomery form (s*R mod n), 16 squarings and one multiplication
	// for the exponent 2^16 + 1, and out again by multiplying by 1.
	m.amm(&t, &x, &m.rr, &m.n, m.k0)
	if !m.carry(&base, &t) {
		return false
	}
	x = base
	for range 16 {
		m.amm(&t, &x, &x, &m.n, m.k0)
		if !m.carry(&x, &t) {
			return false
		}
	}
	m.amm(&t, &x, &base, &m.n, m.k0)
	if !m.carry(&x, &t) {
		return false
	}
	one := nat{1}
	m.amm(&t, &x, &one, &m.n, m.k0)
	if !m.carry(&x, &t) {
		return false
	}
	// Every product above is below 2n; the last, below n+1. One
	// subtraction brings it under n; a second would mean a fault.
	if !m.less(&x, &m.n) {
		m.subtract(&x, &m.n)
		if !m.less(&x, &m.n) {
			return false
		}
	}
	fromLimbs(dst, &x)
	return true
}

// carry folds the lanes of an amm result into 52-bit limbs. It reports
// false if the value does not fit in the width, which the bounds of the
// multiplication rule out; the callers then refuse.
func (w width) carry(dst, lanes *nat) bool {
	var c uint64
	for i, v := range lanes[:w.limbs] {
		v += c
		dst[i] = v & limbMask
		c = v >> limbBits
	}
	return c == 0
}

// less reports whether x < y, both in normalized limbs.
func (w width) less(x, y *nat) bool {
	for i := w.limbs - 1; i >= 0; i-- {
		if x[i] != y[i] {
			return x[i] < y[i]
		}
	}
	return false
}

// subtract sets x to x - y for x >= y, in normalized limbs.
func (w width) subtract(x, y *nat) {
	var borrow uint64
	for i := range w.limbs {
		v := x[i] - y[i] - borrow
		x[i] = v & limbMask
		borrow = v >> 63
	}
}

// toLimbs splits big-endian bytes into 52-bit limbs. b holds at most 520
// bytes (4160 bits); callers pass at most 512.
func toLimbs(dst *nat, b []byte) {
	var words [maxLimbs*limbBits/64 + 1]uint64 // little-endian, with a spare
	used := limbsFor(len(b))
	for i := 0; len(b) > 0; i++ {
		if len(b) >= 8 {
			words[i] = binary.BigEndian.Uint64(b[len(b)-8:])
			b = b[:len(b)-8]
			continue
		}
		for _, c := range b {
			words[i] = words[i]<<8 | uint64(c)
		}
		b = nil
	}
	for i := range used {
		bit := i * limbBits
		w, shift := bit/64, bit%64
		v := words[w] >> shift
		if shift > 64-limbBits && w+1 < len(words) {
			v |= words[w+1] << (64 - shift)
		}
		dst[i] = v & limbMask
	}
	clear(dst[used:])
}

// limbsFor is how many limbs hold a number of size bytes.
func limbsFor(size int) int { return (size*8 + limbBits - 1) / limbBits }

// fromLimbs writes normalized limbs as len(dst) big-endian bytes; the
// value must fit.
func fromLimbs(dst []byte, x *nat) {
	var words [maxLimbs*limbBits/64 + 1]uint64
	for i, v := range x[:limbsFor(len(dst))] {
		bit := i * limbBits
		w, shift := bit/64, bit%64
		words[w] |= v << shift
		if shift > 64-limbBits {
			words[w+1] |= v >> (64 - shift)
		}
	}
	i := len(dst)
	for _, w := range words {
		if i < 8 {
			for ; i > 0; i-- {
				dst[i-1] = byte(w)
				w >>= 8
			}
			break
		}
		binary.BigEndian.PutUint64(dst[i-8:i], w)
		i -= 8
	}
}
