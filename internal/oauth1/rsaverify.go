package oauth1

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha1"

	"filippo.io/bigmod"
)

// preparedRSAKey is an RSA public key made ready for many verifications.
// crypto/rsa rebuilds the Montgomery form of the modulus from N on every
// VerifyPKCS1v15, about a third of the work of a 2048-bit verification;
// this keeps it, and runs the same arithmetic through filippo.io/bigmod,
// the standalone copy of the standard library's internal bigmod. Only a
// build with -tags applink_ifma holds assembly: there, on CPUs with
// AVX-512 IFMA, keys of 1024 to 4096 bits go through rsapub instead
// (rsaverify_ifma.go), about two and a half times as fast again at 2048
// bits. BenchmarkPreparedRSAKey times crypto/rsa, bigmod and, in that
// build, IFMA, per key size.
type preparedRSAKey struct {
	pub  *rsa.PublicKey // the key this was prepared from
	n    *bigmod.Modulus
	ifma *ifmaModulus // nil where rsapub does not take the key, and always in the default build
	size int          // of the modulus, in bytes
}

// sha1DigestInfo is the DER prefix of a PKCS #1 v1.5 SHA-1 DigestInfo
// (RFC 8017 section 9.2, note 1).
var sha1DigestInfo = []byte{0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14}

// prepareRSAKey returns nil for a key it does not take, for which callers
// fall back to crypto/rsa and its answer. It takes only what application
// links use: e = 65537 and an odd modulus of 1024 to 8192 bits.
func prepareRSAKey(pub *rsa.PublicKey) *preparedRSAKey {
	if pub == nil || pub.N == nil || pub.E != 65537 || pub.N.Bit(0) != 1 ||
		pub.N.BitLen() < 1024 || pub.N.BitLen() > 8192 {
		return nil
	}
	n, err := bigmod.NewModulus(pub.N.Bytes())
	if err != nil {
		return nil
	}
	return &preparedRSAKey{pub: pub, n: n, ifma: newIFMAModulus(pub.N), size: (pub.N.BitLen() + 7) / 8}
}

// verifySHA1 checks an RSASSA-PKCS1-v1_5 signature over a SHA-1 hash as
// crypto/rsa does: it builds the one encoded message a valid signature can
// have and compares it whole, parsing nothing (no room for the
// Bleichenbacher 2006 forgeries that sloppy parsers allow). A public key
// needs no constant time.
func (k *preparedRSAKey) verifySHA1(hashed, sig []byte) error {
	if len(hashed) != sha1.Size || len(sig) != k.size {
		return rsa.ErrVerification
	}
	var buf [512]byte // room for rsapub's result (up to 4096 bits), kept off the heap
	em, ok := k.exp65537(buf[:0], sig)
	if !ok {
		return rsa.ErrVerification
	}
	// EM = 0x00 || 0x01 || PS (0xff...) || 0x00 || DigestInfo || H
	t := len(sha1DigestInfo) + sha1.Size
	psEnd := len(em) - t - 1
	if len(em) != k.size || psEnd < 2+8 || em[0] != 0 || em[1] != 1 || em[psEnd] != 0 {
		return rsa.ErrVerification
	}
	for _, b := range em[2:psEnd] {
		if b != 0xff {
			return rsa.ErrVerification
		}
	}
	if !bytes.Equal(em[psEnd+1:psEnd+1+len(sha1DigestInfo)], sha1DigestInfo) || !bytes.Equal(em[len(em)-sha1.Size:], hashed) {
		return rsa.ErrVerification
	}
	return nil
}

// exp65537 returns sig^65537 mod n as size bytes, in into's array where
// it fits, or false for a signature that is not a number below n.
func (k *preparedRSAKey) exp65537(into, sig []byte) ([]byte, bool) {
	if ifmaBuild && k.ifma != nil && cap(into) >= k.size { // constant false in the default build
		em := into[:k.size]
		return em, k.ifma.Exp65537(em, sig)
	}
	s, err := bigmod.NewNat().SetBytes(sig, k.n) // refuses s >= n
	if err != nil {
		return nil, false
	}
	return bigmod.NewNat().ExpShortVarTime(s, 65537, k.n).Bytes(k.n), true
}

// verifyRSASHA1With checks sig over base with key, through prepared when
// it was prepared from key, else through crypto/rsa.
func verifyRSASHA1With(prepared *preparedRSAKey, key *rsa.PublicKey, base, sig []byte) error {
	sum := sha1.Sum(base)
	return verifyRSASHA1Sum(prepared, key, sum[:], sig)
}

// verifyRSASHA1Sum is verifyRSASHA1With on the SHA-1 of the base string.
func verifyRSASHA1Sum(prepared *preparedRSAKey, key *rsa.PublicKey, sum, sig []byte) error {
	if prepared != nil && prepared.pub == key {
		return prepared.verifySHA1(sum, sig)
	}
	return rsa.VerifyPKCS1v15(key, crypto.SHA1, sum, sig)
}
