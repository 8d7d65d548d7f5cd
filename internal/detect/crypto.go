package detect

import "crypto/sha256"

// cryptoDetector finds Bitcoin addresses (CRYPTO): legacy P2PKH ("1...") and
// P2SH ("3...") addresses, validated by their Base58Check checksum (the first
// four bytes of a double SHA-256), and SegWit addresses ("bc1..."),
// validated by their Bech32 (BIP 173, witness version 0) or Bech32m
// (BIP 350, versions 1-16) checksum and program length.
type cryptoDetector struct{}

func (cryptoDetector) Name() string { return "crypto" }

func (cryptoDetector) Entities() []Entity { return []Entity{Crypto} }

func (cryptoDetector) Triggers() []Trigger {
	return []Trigger{
		{Bytes: "13", Boundary: AfterNonWord, Lookahead: []string{base58Alphabet, base58Alphabet}},
		{Bytes: "bB", Boundary: AfterNonWord, Lookahead: []string{"cC", "1"}},
	}
}

const scoreCrypto = 1.0

func (cryptoDetector) Detect(text string, at int, dst []Span) []Span {
	if text[at] == 'b' || text[at] == 'B' {
		if end, ok := bech32Address(text, at); ok {
			return append(dst, Span{Crypto, at, end, scoreCrypto})
		}
		return dst
	}
	// Base58: the whole word must be base58 and 26-35 characters long.
	end := at
	for end < len(text) && end-at <= 35 && base58Value[text[end]] >= 0 {
		end++
	}
	if n := end - at; n < 26 || n > 35 || wordAt(text, end) {
		return dst
	}
	if base58Check(text[at:end]) {
		return append(dst, Span{Crypto, at, end, scoreCrypto})
	}
	return dst
}

const base58Alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

var base58Value = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i := 0; i < len(base58Alphabet); i++ {
		t[base58Alphabet[i]] = int8(i)
	}
	return t
}()

// base58Check decodes s (a Bitcoin address) to its 25 bytes and verifies
// the version byte (0x00 P2PKH, 0x05 P2SH) and the checksum.
func base58Check(s string) bool {
	var b [25]byte
	for i := 0; i < len(s); i++ {
		carry := int(base58Value[s[i]])
		for k := len(b) - 1; k >= 0; k-- {
			carry += 58 * int(b[k])
			b[k] = byte(carry)
			carry >>= 8
		}
		if carry != 0 {
			return false // more than 25 bytes
		}
	}
	// Each leading '1' encodes one leading zero byte; the encoding is
	// canonical only if the counts agree.
	ones, zeros := 0, 0
	for ones < len(s) && s[ones] == '1' {
		ones++
	}
	for zeros < len(b) && b[zeros] == 0 {
		zeros++
	}
	if ones != zeros {
		return false
	}
	if b[0] != 0x00 && b[0] != 0x05 {
		return false
	}
	h := sha256.Sum256(b[:21])
	h = sha256.Sum256(h[:])
	return h[0] == b[21] && h[1] == b[22] && h[2] == b[23] && h[3] == b[24]
}

const bech32Charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"

var bech32Value = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i := 0; i < len(bech32Charset); i++ {
		t[bech32Charset[i]] = int8(i)
		if c := bech32Charset[i]; isLower(c) {
			t[c-'a'+'A'] = int8(i) // upper-case form
		}
	}
	return t
}()

// bech32Address reads "bc1" and a Bech32/Bech32m data part at i and returns
// its end if the checksum, witness version and program length are valid.
func bech32Address(text string, i int) (int, bool) {
	if len(text)-i < 14 || text[i+2] != '1' {
		return 0, false
	}
	upper := text[i] == 'B'
	if (upper && text[i+1] != 'C') || (!upper && text[i+1] != 'c') {
		return 0, false
	}
	const maxLen = 90 // BIP 173
	end := i + 3
	for end < len(text) && end-i <= maxLen && bech32Value[text[end]] >= 0 {
		if c := text[end]; isLetter(c) && isUpper(c) != upper {
			return 0, false // mixed case is invalid (BIP 173)
		}
		end++
	}
	data := text[i+3 : end]
	if end-i > maxLen || len(data) < 6+1 || wordAt(text, end) {
		return 0, false
	}
	// Checksum over the expanded human-readable part "bc" and the data.
	chk := uint32(1)
	for _, v := range [...]byte{'b' >> 5, 'c' >> 5, 0, 'b' & 31, 'c' & 31} {
		chk = bech32Polymod(chk, v)
	}
	for k := 0; k < len(data); k++ {
		chk = bech32Polymod(chk, byte(bech32Value[data[k]]))
	}
	version := bech32Value[data[0]]
	switch {
	case version == 0 && chk != 1:
		return 0, false
	case version > 0 && (version > 16 || chk != 0x2bc830a3):
		return 0, false
	}
	// Witness program: the 5-bit groups between version and checksum,
	// regrouped into bytes, 2 to 40 bytes (20 or 32 for version 0).
	bits := (len(data) - 1 - 6) * 5
	if bits%8 >= 5 {
		return 0, false // BIP 173: at most 4 bits of padding
	}
	n := bits / 8
	if n < 2 || n > 40 || (version == 0 && n != 20 && n != 32) {
		return 0, false
	}
	return end, true
}

func bech32Polymod(chk uint32, v byte) uint32 {
	gen := [5]uint32{0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3}
	top := chk >> 25
	chk = (chk&0x1ffffff)<<5 ^ uint32(v)
	for i := range 5 {
		if (top>>i)&1 == 1 {
			chk ^= gen[i]
		}
	}
	return chk
}
