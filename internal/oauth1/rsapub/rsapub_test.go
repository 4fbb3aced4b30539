package rsapub

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"math/big"
	mathrand "math/rand/v2"
	"testing"
)

func needIFMA(tb testing.TB) {
	tb.Helper()
	if !Available() {
		tb.Skip("no AVX-512 IFMA code here (built without -tags applink_ifma, or with purego, or a CPU without it); the callers' bigmod path is tested instead")
	}
}

// randomModulus is an odd number of exactly bits bits: the arithmetic
// needs no primes, and random moduli reach more limb patterns than keys.
func randomModulus(rng *mathrand.Rand, bits int) *big.Int {
	b := make([]byte, (bits+7)/8)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	n := new(big.Int).SetBytes(b)
	n.SetBit(n, bits-1, 1)
	for i := bits; i < len(b)*8; i++ {
		n.SetBit(n, i, 0)
	}
	return n.SetBit(n, 0, 1)
}

// randBelow is a number in [0, n), near enough uniform for a test.
func randBelow(rng *mathrand.Rand, n *big.Int) *big.Int {
	b := make([]byte, len(n.Bytes())+8)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return new(big.Int).Mod(new(big.Int).SetBytes(b), n)
}

const natBytes = maxLimbs * limbBits / 8 // 520: 2n can pass 512 bytes

func limbsOf(x *big.Int) *nat {
	var l nat
	toLimbs(&l, x.FillBytes(make([]byte, natBytes)))
	return &l
}

func bigOf(l *nat) *big.Int {
	b := make([]byte, natBytes)
	fromLimbs(b, l)
	return new(big.Int).SetBytes(b)
}

// edgeSizes are the ends of each width's range, and common key sizes.
var edgeSizes = []int{1024, 1246, 1247, 1537, 2047, 2048, 2078, 2079, 3072, 3326, 3327, 4095, 4096}

func TestWidthChoice(t *testing.T) {
	needIFMA(t)
	rng := mathrand.New(mathrand.NewPCG(11, 12))
	want := map[int]int{1024: 24, 1246: 24, 1247: 40, 1537: 40, 2047: 40, 2048: 40, 2078: 40,
		2079: 64, 3072: 64, 3326: 64, 3327: 80, 4095: 80, 4096: 80}
	for _, bits := range edgeSizes {
		m := NewModulus(randomModulus(rng, bits))
		if m == nil || m.limbs != want[bits] || m.Size() != (bits+7)/8 {
			t.Errorf("%d bits: prepared %+v, want %d limbs", bits, m != nil, want[bits])
		}
	}
}

func TestLimbsRoundTrip(t *testing.T) {
	rng := mathrand.New(mathrand.NewPCG(1, 2))
	for size := range natBytes + 1 {
		in := make([]byte, size)
		for i := range in {
			in[i] = byte(rng.Uint32())
		}
		var l nat
		toLimbs(&l, in)
		for i, v := range l {
			if v > limbMask {
				t.Fatalf("limb %d = %#x is over 52 bits", i, v)
			}
		}
		out := make([]byte, size)
		fromLimbs(out, &l)
		if !bytes.Equal(in, out) {
			t.Fatalf("round trip of %d bytes:\n in %x\nout %x", size, in, out)
		}
		if bigOf(&l).Cmp(new(big.Int).SetBytes(in)) != 0 {
			t.Fatalf("limbs of %x do not add up to it", in)
		}
	}
}

// testModuli are, for each size, a random modulus and the extremes of
// limb patterns: all ones, and a top bit and a bottom bit alone.
func testModuli(rng *mathrand.Rand, bits int) []*big.Int {
	one := big.NewInt(1)
	top := new(big.Int).Lsh(one, uint(bits-1))
	allOnes := new(big.Int).Sub(new(big.Int).Lsh(one, uint(bits)), one)
	return []*big.Int{randomModulus(rng, bits), allOnes, top.Add(top, one)}
}

// TestAMMExact checks single multiplications on inputs below 2n, the
// range Exp65537 feeds them: the lanes must carry to exactly
// (a*b + m*n)/R with m = -a*b/n mod R, and that must be below 2n.
func TestAMMExact(t *testing.T) {
	needIFMA(t)
	rng := mathrand.New(mathrand.NewPCG(3, 4))
	for _, bits := range edgeSizes {
		for _, n := range testModuli(rng, bits) {
			m := NewModulus(n)
			if m == nil {
				t.Fatalf("%d-bit modulus refused", bits)
			}
			r := new(big.Int).Lsh(big.NewInt(1), uint(m.limbs*limbBits))
			nInv := new(big.Int).ModInverse(n, r)
			twoN := new(big.Int).Lsh(n, 1)
			one := big.NewInt(1)
			edge := []*big.Int{big.NewInt(0), one, new(big.Int).Sub(n, one), n, new(big.Int).Sub(twoN, one)}
			for i := range 60 {
				var a, b *big.Int
				if i < len(edge)*len(edge) {
					a, b = edge[i/len(edge)], edge[i%len(edge)]
				} else {
					a, b = randBelow(rng, twoN), randBelow(rng, twoN)
				}
				var lanes, got nat
				m.amm(&lanes, limbsOf(a), limbsOf(b), &m.n, m.k0)
				if !m.carry(&got, &lanes) {
					t.Fatalf("%d bits: a*b overflowed its width\na=%x\nb=%x", bits, a, b)
				}
				ab := new(big.Int).Mul(a, b)
				mm := new(big.Int).Mul(ab, nInv)
				mm.Neg(mm).Mod(mm, r)
				want := mm.Mul(mm, n).Add(mm, ab)
				want.Rsh(want, uint(m.limbs*limbBits))
				if g := bigOf(&got); g.Cmp(want) != 0 || g.Cmp(twoN) >= 0 {
					t.Fatalf("%d bits: amm(a, b) = %x, want %x (below 2n)\na=%x\nb=%x\nn=%x", bits, g, want, a, b, n)
				}
			}
		}
	}
}

func TestExp65537AgainstBig(t *testing.T) {
	needIFMA(t)
	rng := mathrand.New(mathrand.NewPCG(5, 6))
	e := big.NewInt(65537)
	for _, bits := range append([]int{1100, 1999, 2500, 3500}, edgeSizes...) {
		for _, n := range testModuli(rng, bits) {
			m := NewModulus(n)
			size := (bits + 7) / 8
			one := big.NewInt(1)
			edge := []*big.Int{big.NewInt(0), one, big.NewInt(2), new(big.Int).Sub(n, one)}
			for i := range 12 {
				s := randBelow(rng, n)
				if i < len(edge) {
					s = edge[i]
				}
				got := make([]byte, size)
				if !m.Exp65537(got, s.FillBytes(make([]byte, size))) {
					t.Fatalf("%d bits: s=%x refused", bits, s)
				}
				want := new(big.Int).Exp(s, e, n).FillBytes(make([]byte, size))
				if !bytes.Equal(got, want) {
					t.Fatalf("%d bits: s^65537 mod n\n got %x\nwant %x\ns=%x\nn=%x", bits, got, want, s, n)
				}
			}
		}
	}
}

// TestExp65537FinalSubtraction reaches the one subtraction at the end,
// which only a result of exactly n needs: s^65537 = 0 mod n, possible
// only for an n that is not squarefree, such as 3^k with s = 3.
func TestExp65537FinalSubtraction(t *testing.T) {
	needIFMA(t)
	for _, k := range []int64{700, 1200, 1900, 2500} { // 1110 to 3963 bits
		n := new(big.Int).Exp(big.NewInt(3), big.NewInt(k), nil)
		m := NewModulus(n)
		s := big.NewInt(3).FillBytes(make([]byte, m.Size()))
		got := bytes.Repeat([]byte{0xaa}, m.Size())
		if !m.Exp65537(got, s) || !bytes.Equal(got, make([]byte, m.Size())) {
			t.Fatalf("3^65537 mod 3^%d = %x, want 0", k, got)
		}
	}
}

func TestExp65537Refuses(t *testing.T) {
	needIFMA(t)
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	m := NewModulus(k.N)
	n := k.N.FillBytes(make([]byte, 256))
	nPlus1 := new(big.Int).Add(k.N, big.NewInt(1)).FillBytes(make([]byte, 256))
	ones := bytes.Repeat([]byte{0xff}, 256)
	for name, s := range map[string][]byte{"n": n, "n+1": nPlus1, "all ones": ones,
		"short": n[1:], "long": append([]byte{0}, n...), "empty": nil} {
		dst := bytes.Repeat([]byte{0xaa}, 256)
		if m.Exp65537(dst, s) {
			t.Errorf("%s: accepted", name)
		}
		if !bytes.Equal(dst, bytes.Repeat([]byte{0xaa}, 256)) {
			t.Errorf("%s: refused but wrote into dst", name)
		}
	}
	if m.Exp65537(make([]byte, 255), make([]byte, 256)) {
		t.Error("short dst: accepted")
	}
}

func TestNewModulusRefuses(t *testing.T) {
	rng := mathrand.New(mathrand.NewPCG(7, 8))
	even := randomModulus(rng, 2048)
	even.SetBit(even, 0, 0)
	for name, n := range map[string]*big.Int{
		"nil": nil, "even": even, "1023 bits": randomModulus(rng, 1023),
		"512 bits": randomModulus(rng, 512), "4097 bits": randomModulus(rng, 4097),
		"8192 bits": randomModulus(rng, 8192),
	} {
		if NewModulus(n) != nil {
			t.Errorf("%s: prepared", name)
		}
	}
}

// FuzzExp65537 compares the IFMA exponentiation with math/big on any
// signature bytes, against a fixed modulus of each width.
func FuzzExp65537(f *testing.F) {
	needIFMA(f)
	rng := mathrand.New(mathrand.NewPCG(9, 10))
	var moduli []*big.Int
	for _, bits := range []int{1024, 2048, 3072, 4096} {
		moduli = append(moduli, randomModulus(rng, bits))
	}
	f.Add(uint8(0), []byte{1})
	f.Add(uint8(1), bytes.Repeat([]byte{0xff}, 255))
	f.Add(uint8(2), moduli[2].Bytes())
	f.Add(uint8(3), moduli[3].Bytes())
	f.Fuzz(func(t *testing.T, which uint8, in []byte) {
		n := moduli[int(which)%len(moduli)]
		m := NewModulus(n)
		size := m.Size()
		s := make([]byte, size)
		copy(s[max(0, size-len(in)):], in)
		got := make([]byte, size)
		ok := m.Exp65537(got, s)
		sb := new(big.Int).SetBytes(s)
		if ok != (sb.Cmp(n) < 0) {
			t.Fatalf("ok = %v for s=%x", ok, s)
		}
		if ok {
			want := new(big.Int).Exp(sb, big.NewInt(65537), n).FillBytes(make([]byte, size))
			if !bytes.Equal(got, want) {
				t.Fatalf("s^65537 mod n\n got %x\nwant %x\ns=%x", got, want, s)
			}
		}
	})
}

func BenchmarkExp65537(b *testing.B) {
	needIFMA(b)
	rng := mathrand.New(mathrand.NewPCG(13, 14))
	for _, bits := range []int{1024, 2048, 3072, 4096} {
		n := randomModulus(rng, bits)
		m := NewModulus(n)
		s := randBelow(rng, n).FillBytes(make([]byte, m.Size()))
		dst := make([]byte, m.Size())
		b.Run(fmt.Sprint(bits), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !m.Exp65537(dst, s) {
					b.Fatal("refused")
				}
			}
		})
	}
}

// TestExp65537Allocs holds the exponentiation to no heap allocation: its
// numbers live on the stack only while every width is called directly.
func TestExp65537Allocs(t *testing.T) {
	needIFMA(t)
	n := randomModulus(mathrand.New(mathrand.NewPCG(15, 16)), 2048)
	m := NewModulus(n)
	s := make([]byte, m.Size())
	s[len(s)-1] = 7
	dst := make([]byte, m.Size())
	if allocs := testing.AllocsPerRun(100, func() { m.Exp65537(dst, s) }); allocs != 0 {
		t.Errorf("Exp65537 allocates %v times a call, want 0", allocs)
	}
}
