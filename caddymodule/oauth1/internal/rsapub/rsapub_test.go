package rsapub

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"math/big"
	mathrand "math/rand/v2"
	"testing"
)

func needIFMA(tb testing.TB) {
	tb.Helper()
	if !Available() {
		tb.Skip("no AVX-512 IFMA code here (a CPU without it, or -tags purego); the callers' fallback is tested instead")
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

func limbsOf(x *big.Int) *[limbs]uint64 {
	var l [limbs]uint64
	toLimbs(&l, x.FillBytes(make([]byte, limbs*limbBits/8))) // 2n can pass 256 bytes
	return &l
}

func bigOf(l *[limbs]uint64) *big.Int {
	b := make([]byte, limbs*limbBits/8)
	fromLimbs(b, l)
	return new(big.Int).SetBytes(b)
}

func TestLimbsRoundTrip(t *testing.T) {
	rng := mathrand.New(mathrand.NewPCG(1, 2))
	for range 200 {
		size := 1 + rng.IntN(maxBytes)
		in := make([]byte, size)
		for i := range in {
			in[i] = byte(rng.Uint32())
		}
		var l [limbs]uint64
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

// TestAMMAgainstBig checks one multiplication on inputs below 2n, the
// range Exp65537 feeds it: the result must be a*b/R mod n and below 2n.
func TestAMMAgainstBig(t *testing.T) {
	needIFMA(t)
	rng := mathrand.New(mathrand.NewPCG(3, 4))
	for _, bits := range []int{1537, 1600, 2040, 2047, 2048} {
		n := randomModulus(rng, bits)
		m := NewModulus(n)
		if m == nil {
			t.Fatalf("%d-bit modulus refused", bits)
		}
		twoN := new(big.Int).Lsh(n, 1)
		rInv := new(big.Int).ModInverse(new(big.Int).Lsh(big.NewInt(1), limbs*limbBits), n)
		edge := []*big.Int{big.NewInt(0), big.NewInt(1), new(big.Int).Sub(n, big.NewInt(1)),
			n, new(big.Int).Sub(twoN, big.NewInt(1))}
		for i := range 300 {
			var a, b *big.Int
			if i < len(edge)*len(edge) {
				a, b = edge[i/len(edge)], edge[i%len(edge)]
			} else {
				a = randBelow(rng, twoN)
				b = randBelow(rng, twoN)
			}
			var lanes, got [limbs]uint64
			amm52x40(&lanes, limbsOf(a), limbsOf(b), &m.n, m.k0)
			if !carry(&got, &lanes) {
				t.Fatalf("%d bits: a*b overflowed 2080 bits\na=%x\nb=%x", bits, a, b)
			}
			g := bigOf(&got)
			want := new(big.Int).Mul(a, b)
			want.Mul(want, rInv).Mod(want, n)
			if new(big.Int).Mod(g, n).Cmp(want) != 0 || g.Cmp(twoN) >= 0 {
				t.Fatalf("%d bits: amm(a, b) = %x, want %x (mod n, below 2n)\na=%x\nb=%x", bits, g, want, a, b)
			}
		}
	}
}

// randBelow is a number in [0, n), near enough uniform for a test.
func randBelow(rng *mathrand.Rand, n *big.Int) *big.Int {
	b := make([]byte, len(n.Bytes())+8)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return new(big.Int).Mod(new(big.Int).SetBytes(b), n)
}

func TestExp65537AgainstBig(t *testing.T) {
	needIFMA(t)
	rng := mathrand.New(mathrand.NewPCG(5, 6))
	e := big.NewInt(65537)
	for _, bits := range []int{1537, 1999, 2047, 2048} {
		for range 4 {
			n := randomModulus(rng, bits)
			m := NewModulus(n)
			size := (bits + 7) / 8
			if m.Size() != size {
				t.Fatalf("Size() = %d for %d bits", m.Size(), bits)
			}
			edge := []*big.Int{big.NewInt(0), big.NewInt(1), big.NewInt(2), new(big.Int).Sub(n, big.NewInt(1))}
			for i := range 50 {
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
	n := new(big.Int).Exp(big.NewInt(3), big.NewInt(1200), nil) // 1902 bits
	m := NewModulus(n)
	s := big.NewInt(3).FillBytes(make([]byte, m.Size()))
	got := bytes.Repeat([]byte{0xaa}, m.Size())
	if !m.Exp65537(got, s) || !bytes.Equal(got, make([]byte, m.Size())) {
		t.Fatalf("3^65537 mod 3^1200 = %x, want 0", got)
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
		"nil": nil, "even": even, "1536 bits": randomModulus(rng, 1536),
		"1024 bits": randomModulus(rng, 1024), "2049 bits": randomModulus(rng, 2049),
		"4096 bits": randomModulus(rng, 4096),
	} {
		if NewModulus(n) != nil {
			t.Errorf("%s: prepared", name)
		}
	}
}

// FuzzExp65537 compares the IFMA exponentiation with math/big on any
// signature bytes against a fixed 2048-bit modulus.
func FuzzExp65537(f *testing.F) {
	needIFMA(f)
	n := randomModulus(mathrand.New(mathrand.NewPCG(9, 10)), 2048)
	m := NewModulus(n)
	f.Add([]byte{1})
	f.Add(bytes.Repeat([]byte{0xff}, 255))
	f.Add(n.Bytes())
	f.Fuzz(func(t *testing.T, in []byte) {
		s := make([]byte, 256)
		copy(s[max(0, 256-len(in)):], in)
		got := make([]byte, 256)
		ok := m.Exp65537(got, s)
		sb := new(big.Int).SetBytes(s)
		if ok != (sb.Cmp(n) < 0) {
			t.Fatalf("ok = %v for s=%x", ok, s)
		}
		if ok {
			want := new(big.Int).Exp(sb, big.NewInt(65537), n).FillBytes(make([]byte, 256))
			if !bytes.Equal(got, want) {
				t.Fatalf("s^65537 mod n\n got %x\nwant %x\ns=%x", got, want, s)
			}
		}
	})
}

func BenchmarkExp65537(b *testing.B) {
	needIFMA(b)
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	m := NewModulus(k.N)
	s := new(big.Int).Sub(k.N, big.NewInt(12345)).FillBytes(make([]byte, 256))
	dst := make([]byte, 256)
	b.ReportAllocs()
	for b.Loop() {
		if !m.Exp65537(dst, s) {
			b.Fatal("refused")
		}
	}
}
