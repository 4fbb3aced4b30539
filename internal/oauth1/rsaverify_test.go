package oauth1

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"golang.org/x/sys/cpu"
)

// The prepared-key verifier must say exactly what crypto/rsa says. These
// tests build encoded messages by hand, sign them with the raw private-key
// operation, and compare both verifiers' verdicts, for well-formed
// signatures and for every malformation a lax PKCS #1 v1.5 parser lets
// through (Bleichenbacher 2006 and its variants).

func generatedKey(bits int) func() *rsa.PrivateKey {
	return sync.OnceValue(func() *rsa.PrivateKey {
		k, err := rsa.GenerateKey(rand.Reader, bits)
		if err != nil {
			panic(err)
		}
		return k
	})
}

// storedKey reads a test-only key from testdata: a 3072- or 4096-bit key
// takes seconds to generate.
func storedKey(name string) func() *rsa.PrivateKey {
	return sync.OnceValue(func() *rsa.PrivateKey {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			panic(err)
		}
		block, _ := pem.Decode(b)
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			panic(err)
		}
		return k.(*rsa.PrivateKey)
	})
}

// One key for each of rsapub's widths, and sizes that are not a whole
// number of 64-bit words, nor of bytes.
var (
	key1024 = generatedKey(1024)
	key1545 = generatedKey(1545)
	key2047 = generatedKey(2047)
	key3072 = storedKey("rsa3072-test-only.pem")
	key4096 = storedKey("rsa4096-test-only.pem")
)

// keySizes are the keys the differential tests run over (testKey is 2048).
func keySizes() []*rsa.PrivateKey {
	return []*rsa.PrivateKey{key1024(), key1545(), key2047(), testKey(), key3072(), key4096()}
}

// rawSign returns em^d mod n as a k-byte signature: a "signature" of any
// encoded message, well-formed or not. em must be below n.
func rawSign(k *rsa.PrivateKey, em []byte) []byte {
	m := new(big.Int).SetBytes(em)
	s := new(big.Int).Exp(m, k.D, k.N)
	return s.FillBytes(make([]byte, k.Size()))
}

// encodeEM builds 00 01 ff.. 00 || prefix || hash, k bytes long, with
// psLen bytes of padding (the rest, if any, is left as trailing garbage).
func encodeEM(k int, psLen int, prefix, hash, trailer []byte) []byte {
	em := []byte{0, 1}
	em = append(em, bytes.Repeat([]byte{0xff}, psLen)...)
	em = append(em, 0)
	em = append(em, prefix...)
	em = append(em, hash...)
	em = append(em, trailer...)
	if len(em) < k {
		em = append(em, make([]byte, k-len(em))...)
	}
	return em[:k]
}

// agree checks that both verifiers give the same verdict, and returns it.
func agree(t testing.TB, k *rsa.PublicKey, hashed, sig []byte) bool {
	t.Helper()
	p := prepareRSAKey(k)
	if p == nil {
		t.Fatalf("a %d-bit key with e=%d was not prepared", k.N.BitLen(), k.E)
	}
	std := rsa.VerifyPKCS1v15(k, crypto.SHA1, hashed, sig) == nil
	fast := p.verifySHA1(hashed, sig) == nil
	if std != fast {
		t.Fatalf("crypto/rsa says %v, the prepared key says %v, for signature %x over %x", std, fast, sig, hashed)
	}
	if p.ifma != nil { // the same key through bigmod, as on CPUs without IFMA
		bigmodOnly := *p
		bigmodOnly.ifma = nil
		if slow := bigmodOnly.verifySHA1(hashed, sig) == nil; slow != std {
			t.Fatalf("crypto/rsa says %v, the prepared key without IFMA says %v, for signature %x over %x", std, slow, sig, hashed)
		}
	}
	return fast
}

func TestPreparedRSAKeyAgreesWithCryptoRSA(t *testing.T) {
	for _, k := range keySizes() {
		size := k.Size()
		h := sha1.Sum([]byte("GET&https%3A%2F%2Fjira.example.com%2F&a%3D1"))
		sha256Info := []byte{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}
		noNull := []byte{0x30, 0x1f, 0x30, 0x07, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x04, 0x14}
		full := size - 3 - len(sha1DigestInfo) - sha1.Size
		h256 := sha256.Sum256([]byte("x"))
		other := sha1.Sum([]byte("other"))
		tests := []struct {
			name string
			em   []byte
			ok   bool
		}{
			{"well formed", encodeEM(size, full, sha1DigestInfo, h[:], nil), true},
			{"other hash", encodeEM(size, full, sha1DigestInfo, other[:], nil), false},
			{"short padding, garbage after the hash", encodeEM(size, 8, sha1DigestInfo, h[:], []byte("garbage")), false},
			{"short padding, zeros after the hash", encodeEM(size, full-4, sha1DigestInfo, h[:], nil), false},
			{"DigestInfo without the NULL", encodeEM(size, full+2, noNull, h[:], nil), false},
			{"SHA-256 DigestInfo", encodeEM(size, size-3-len(sha256Info)-32, sha256Info, h256[:], nil), false},
			{"no DigestInfo", encodeEM(size, size-3-sha1.Size, nil, h[:], nil), false},
		}
		bad := func(name string, mutate func(em []byte)) {
			em := encodeEM(size, full, sha1DigestInfo, h[:], nil)
			mutate(em)
			tests = append(tests, struct {
				name string
				em   []byte
				ok   bool
			}{name, em, false})
		}
		bad("block type 2", func(em []byte) { em[1] = 2 })
		bad("block type 0", func(em []byte) { em[1] = 0 })
		bad("0xfe in the padding", func(em []byte) { em[20] = 0xfe })
		bad("no zero separator", func(em []byte) { em[2+full] = 0xff })
		bad("separator early", func(em []byte) { em[2+full-1] = 0 })
		bad("DigestInfo length byte", func(em []byte) { em[2+full+2]++ })
		bad("OID byte", func(em []byte) { em[2+full+9] ^= 1 })
		for _, tt := range tests {
			sig := rawSign(k, tt.em)
			if got := agree(t, &k.PublicKey, h[:], sig); got != tt.ok {
				t.Errorf("%d bits, %s: verified %v, want %v", k.N.BitLen(), tt.name, got, tt.ok)
			}
		}
		// Signatures that are not numbers below n of the right length.
		good := rawSign(k, encodeEM(size, full, sha1DigestInfo, h[:], nil))
		n := k.N.FillBytes(make([]byte, size))
		nPlus1 := new(big.Int).Add(k.N, big.NewInt(1)).FillBytes(make([]byte, size))
		for name, sig := range map[string][]byte{
			"n":          n,
			"n+1":        nPlus1,
			"zero":       make([]byte, size),
			"one":        append(make([]byte, size-1), 1),
			"all ones":   bytes.Repeat([]byte{0xff}, size),
			"short":      good[1:],
			"long":       append([]byte{0}, good...),
			"empty":      nil,
			"good + n":   new(big.Int).Add(new(big.Int).SetBytes(good), k.N).Bytes(),
			"first flip": append([]byte{good[0] ^ 1}, good[1:]...),
		} {
			if agree(t, &k.PublicKey, h[:], sig) {
				t.Errorf("%d bits, signature %s verified", k.N.BitLen(), name)
			}
		}
		// The real signer's output verifies.
		real, err := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA1, h[:])
		if err != nil || !bytes.Equal(real, good) || !agree(t, &k.PublicKey, h[:], real) {
			t.Errorf("%d bits: crypto/rsa's own signature: %v", k.N.BitLen(), err)
		}
	}
}

// TestPreparedRSAKeyScope checks which keys take the fast path; the rest
// are verified by crypto/rsa alone.
func TestPreparedRSAKeyScope(t *testing.T) {
	k := testKey()
	odd := func(e int) *rsa.PublicKey { return &rsa.PublicKey{N: k.N, E: e} }
	even := &rsa.PublicKey{N: new(big.Int).Add(k.N, big.NewInt(1)), E: 65537}
	small := &rsa.PublicKey{N: new(big.Int).Rsh(k.N, 1100), E: 65537}
	if small.N.Bit(0) == 0 {
		small.N.Add(small.N, big.NewInt(1))
	}
	for name, c := range map[string]struct {
		pub  *rsa.PublicKey
		want bool
	}{
		"2048 bits, e=65537": {&k.PublicKey, true},
		"1024 bits":          {&key1024().PublicKey, true},
		"e=3":                {odd(3), false},
		"even modulus":       {even, false},
		"948 bits":           {small, false},
		"nil":                {nil, false},
	} {
		if got := prepareRSAKey(c.pub) != nil; got != c.want {
			t.Errorf("%s: prepared %v, want %v", name, got, c.want)
		}
	}
	// Built with -tags applink_ifma, on CPUs with AVX-512 IFMA, keys of
	// 1024 to 4096 bits take rsapub; larger ones, and every key in the
	// default build, bigmod.
	for _, k := range keySizes() {
		if got, want := prepareRSAKey(&k.PublicKey).ifma != nil, ifmaAvailable(); got != want {
			t.Errorf("%d bits: through IFMA %v, want %v", k.N.BitLen(), got, want)
		}
	}
	large := &rsa.PublicKey{N: new(big.Int).Lsh(k.N, 2100), E: 65537}
	large.N.SetBit(large.N, 0, 1)
	if p := prepareRSAKey(large); p == nil || p.ifma != nil {
		t.Errorf("a %d-bit key: prepared %v, through IFMA %v; want bigmod alone", large.N.BitLen(), p != nil, p != nil && p.ifma != nil)
	}
	// A consumer whose key changes is verified with the new one.
	c := &Consumer{PublicKey: &k.PublicKey}
	if p := c.preparedKey(); p == nil || p.pub != &k.PublicKey {
		t.Fatal("not prepared")
	}
	c.PublicKey = &otherKey().PublicKey
	if p := c.preparedKey(); p == nil || p.pub != c.PublicKey {
		t.Fatal("a changed key kept the old preparation")
	}
}

// TestPreparedRSAKeyPath checks that the build runs the arithmetic it is
// meant to, so that the differential tests above test that: bigmod alone
// in the default build, and IFMA with -tags applink_ifma wherever the CPU
// has it (golang.org/x/sys/cpu asked here independently of rsapub).
func TestPreparedRSAKeyPath(t *testing.T) {
	cpuHas := runtime.GOARCH == "amd64" && cpu.X86.HasAVX512F && cpu.X86.HasAVX512IFMA
	switch {
	case !ifmaBuild && ifmaAvailable():
		t.Fatal("the default build reports IFMA code")
	case ifmaBuild && ifmaAvailable() != cpuHas:
		t.Fatalf("built with applink_ifma: IFMA in use %v, the CPU has it %v", ifmaAvailable(), cpuHas)
	}
	p := prepareRSAKey(&testKey().PublicKey)
	switch {
	case p.ifma != nil:
		t.Log("2048-bit keys verify through rsapub (AVX-512 IFMA), and are also checked through bigmod")
	case ifmaBuild:
		t.Log("built with applink_ifma, but this CPU lacks AVX-512 IFMA: keys verify through bigmod")
	default:
		t.Log("default build: keys verify through bigmod")
	}
}

// FuzzPreparedRSAKey signs fuzzer-made encoded messages (a well-formed
// one with a region overwritten) and raw fuzzer bytes as signatures, and
// checks that the prepared key and crypto/rsa agree on every one.
func FuzzPreparedRSAKey(f *testing.F) {
	f.Add(uint8(0), []byte{})
	f.Add(uint8(1), []byte{2})
	f.Add(uint8(100), []byte{0, 0x30})
	f.Add(uint8(110), []byte{0x30, 0x21, 0x30, 0x09})
	f.Add(uint8(255), bytes.Repeat([]byte{0xff}, 128))
	k := key1024()
	size := k.Size()
	h := sha1.Sum([]byte("base string"))
	full := size - 3 - len(sha1DigestInfo) - sha1.Size
	f.Fuzz(func(t *testing.T, at uint8, patch []byte) {
		em := encodeEM(size, full, sha1DigestInfo, h[:], nil)
		copy(em[min(int(at), size):], patch)
		em[0] = 0 // below n
		agree(t, &k.PublicKey, h[:], rawSign(k, em))
		agree(t, &k.PublicKey, h[:], patch)
		k2048 := &testKey().PublicKey // through IFMA where the build and the CPU have it
		agree(t, k2048, h[:], append(make([]byte, max(0, k2048.Size()-len(patch))), patch...))
	})
}

// BenchmarkPreparedRSAKey compares, per key size, crypto/rsa with the
// prepared key through bigmod and, built with -tags applink_ifma on a CPU
// that has it, through IFMA:
//
//	go test -run '^$' -bench PreparedRSAKey -count 5 ./internal/oauth1/
//	go test -run '^$' -bench PreparedRSAKey -count 5 -tags applink_ifma ./internal/oauth1/
func BenchmarkPreparedRSAKey(b *testing.B) {
	h := sha1.Sum([]byte("base string"))
	for _, k := range keySizes() {
		sig, _ := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA1, h[:])
		p := prepareRSAKey(&k.PublicKey)
		bigmodOnly := *p
		bigmodOnly.ifma = nil
		b.Run(fmt.Sprintf("%d/crypto-rsa", k.N.BitLen()), func(b *testing.B) {
			for b.Loop() {
				if rsa.VerifyPKCS1v15(&k.PublicKey, crypto.SHA1, h[:], sig) != nil {
					b.Fatal("refused")
				}
			}
		})
		b.Run(fmt.Sprintf("%d/bigmod", k.N.BitLen()), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if bigmodOnly.verifySHA1(h[:], sig) != nil {
					b.Fatal("refused")
				}
			}
		})
		if p.ifma != nil {
			b.Run(fmt.Sprintf("%d/ifma", k.N.BitLen()), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if p.verifySHA1(h[:], sig) != nil {
						b.Fatal("refused")
					}
				}
			})
		}
	}
}
