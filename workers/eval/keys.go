package eval

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"hash"
	"math"
	"math/bits"
	"sort"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/propolis/propolis/internal/errs"
	"github.com/propolis/propolis/policy/expr"
)

// Key is one version of a named secret key.
type Key struct {
	ID      string
	Version int
	Secret  []byte
}

// Keyring holds the keys of the keyed functions. Each key id has versions; one is active:
// new values are tokenized and encrypted under it, and older versions stay readable so that
// encrypted values can still be decrypted after a rotation.
type Keyring interface {
	// Active is the version of key id that values are written under now.
	Active(id string) (Key, error)
	// Version is one version of key id, for decryption.
	Version(id string, version int) (Key, error)
}

// KeySpec is one key version as configuration lists it. Exactly one version of an id may be
// marked Active; when none is, the highest version is active, so a rotation is the addition
// of a new version.
type KeySpec struct {
	ID      string `yaml:"id" json:"id"`
	Version int    `yaml:"version" json:"version"`
	Secret  []byte `yaml:"secret" json:"secret"`
	Active  bool   `yaml:"active" json:"active"`
}

// StaticKeyring is a Keyring built once from configuration.
type StaticKeyring struct {
	versions map[string]map[int]Key
	active   map[string]int
}

// MinSecret is the shortest key secret accepted (bytes).
const MinSecret = 16

// NewStaticKeyring validates specs: key ids of letters, digits, '_' and '-' (they are printed
// into tokens), versions >= 1 and unique per id, secrets of at least MinSecret bytes, at most
// one active version per id.
func NewStaticKeyring(specs []KeySpec) (*StaticKeyring, error) {
	k := &StaticKeyring{versions: map[string]map[int]Key{}, active: map[string]int{}}
	marked := map[string]bool{}
	for _, s := range specs {
		if !validKeyID(s.ID) {
			return nil, errs.Invalid("key id %q: use letters, digits, '_' and '-'", s.ID)
		}
		if s.Version < 1 {
			return nil, errs.Invalid("key %s: version %d must be >= 1", s.ID, s.Version)
		}
		if len(s.Secret) < MinSecret {
			return nil, errs.Invalid("key %s v%d: secret shorter than %d bytes", s.ID, s.Version, MinSecret)
		}
		if k.versions[s.ID] == nil {
			k.versions[s.ID] = map[int]Key{}
		}
		if _, dup := k.versions[s.ID][s.Version]; dup {
			return nil, errs.Invalid("key %s: version %d listed twice", s.ID, s.Version)
		}
		k.versions[s.ID][s.Version] = Key{ID: s.ID, Version: s.Version, Secret: append([]byte(nil), s.Secret...)}
		if s.Active {
			if marked[s.ID] {
				return nil, errs.Invalid("key %s: more than one active version", s.ID)
			}
			marked[s.ID] = true
			k.active[s.ID] = s.Version
		} else if !marked[s.ID] && s.Version > k.active[s.ID] {
			k.active[s.ID] = s.Version
		}
	}
	return k, nil
}

func validKeyID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c == '_' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func (k *StaticKeyring) Active(id string) (Key, error) {
	v, ok := k.active[id]
	if !ok {
		return Key{}, errs.NotFound("key %q", id)
	}
	return k.versions[id][v], nil
}

func (k *StaticKeyring) Version(id string, version int) (Key, error) {
	key, ok := k.versions[id][version]
	if !ok {
		return Key{}, errs.NotFound("key %q version %d", id, version)
	}
	return key, nil
}

// IDs lists the key ids, sorted.
func (k *StaticKeyring) IDs() []string {
	out := make([]string, 0, len(k.versions))
	for id := range k.versions {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// subkey derives an independent key per purpose, so one secret never keys two constructions.
func subkey(secret []byte, purpose string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("propolis/" + purpose))
	return m.Sum(nil)
}

func (c *compiler) key(name string, e *expr.Call, argIdx int) (Key, error) {
	id := c.env.DefaultKey
	if len(e.Args) > argIdx {
		id, _ = stringLit(e.Args[argIdx])
	}
	if id == "" {
		return Key{}, invalidf("%s(): no key id and no default key", name)
	}
	if c.env.Keys == nil {
		return Key{}, errs.Unavailable("eval: %s(): no keyring configured", name)
	}
	k, err := c.env.Keys.Active(id)
	if err != nil {
		return Key{}, errs.Unavailable("eval: %s(): %w", name, err)
	}
	return k, nil
}

func (c *compiler) keyed(e *expr.Call, n *callNode) (node, error) {
	in := n.args[0].typ()
	text := func(c *evalCtx, a arrow.Array) (*array.String, error) { return textArray(c.mem, a, in) }
	switch e.Name {
	case "tokenize":
		k, err := c.key(e.Name, e, 1)
		if err != nil {
			return nil, err
		}
		n.args = n.args[:1]
		t := newTokenizer(k)
		n.fn = func(c *evalCtx, a []arrow.Array) (arrow.Array, error) {
			s, err := text(c, a[0])
			if err != nil {
				return nil, err
			}
			defer s.Release()
			return t.tokenize(c.mem, s), nil
		}
	case "encrypt":
		k, err := c.key(e.Name, e, 1)
		if err != nil {
			return nil, err
		}
		n.args = n.args[:1]
		enc, err := newSIV(k)
		if err != nil {
			return nil, err
		}
		n.fn = func(c *evalCtx, a []arrow.Array) (arrow.Array, error) {
			s, err := text(c, a[0])
			if err != nil {
				return nil, err
			}
			defer s.Release()
			return mapStrings(c.mem, s, func(v string, buf []byte) ([]byte, bool) {
				return enc.seal(buf, unsafeBytes(v)), true
			}), nil
		}
	case "fpe_digits":
		keep, _ := intLit(e.Args[1])
		k, err := c.key(e.Name, e, 2)
		if err != nil {
			return nil, err
		}
		n.args = n.args[:1]
		f := &fpe{key: subkey(k.Secret, "fpe_digits"), header: "fpe." + k.ID + ".v" + strconv.Itoa(k.Version)}
		n.fn = func(c *evalCtx, a []arrow.Array) (arrow.Array, error) {
			s, err := text(c, a[0])
			if err != nil {
				return nil, err
			}
			defer s.Release()
			mac := hmac.New(sha256.New, f.key)
			return mapStrings(c.mem, s, func(v string, buf []byte) ([]byte, bool) {
				return f.apply(mac, buf, v, int(keep)), true
			}), nil
		}
	case "dp_noise":
		if len(c.env.NoiseSecret) < MinSecret {
			return nil, errs.Unavailable("eval: dp_noise(): no noise secret of at least %d bytes configured", MinSecret)
		}
		eps, err := strconv.ParseFloat(e.Args[1].String(), 64)
		if err != nil || eps <= 0 || math.IsInf(eps, 0) {
			return nil, invalidf("dp_noise(): epsilon %s must be a positive number", e.Args[1])
		}
		scale := 1 / eps
		column := e.Args[0].String()
		secret := subkey(c.env.NoiseSecret, "dp_noise")
		n.args = n.args[:1]
		n.argTypes = []expr.Type{expr.TDouble}
		n.fn = func(c *evalCtx, a []arrow.Array) (arrow.Array, error) {
			x := a[0].(*array.Float64)
			mac := hmac.New(sha256.New, secret)
			b := array.NewFloat64Builder(c.mem)
			defer b.Release()
			b.Reserve(c.n)
			var sum []byte
			var buf [8]byte
			for i := 0; i < c.n; i++ {
				if x.IsNull(i) {
					b.UnsafeAppendBoolToBitmap(false)
					continue
				}
				mac.Reset()
				writeField(mac, c.pos.File)
				binary.BigEndian.PutUint64(buf[:], uint64(c.row(i)))
				mac.Write(buf[:])
				writeField(mac, column)
				sum = mac.Sum(sum[:0])
				b.UnsafeAppend(x.Value(i) + laplace(sum, scale))
			}
			return b.NewArray(), nil
		}
	}
	return n, nil
}

func writeField(h hash.Hash, s string) {
	var l [4]byte
	binary.BigEndian.PutUint32(l[:], uint32(len(s)))
	h.Write(l[:])
	h.Write([]byte(s))
}

// laplace draws Laplace(0, scale) from 53 uniform bits of sum, by inverting the CDF.
func laplace(sum []byte, scale float64) float64 {
	u := (float64(binary.BigEndian.Uint64(sum)>>11) + 0.5) / (1 << 53) // (0, 1)
	u -= 0.5
	if u < 0 {
		return scale * math.Log(1+2*u)
	}
	return -scale * math.Log(1-2*u)
}

// --- tokenize ---------------------------------------------------------------------------

// Tokens read tok.<keyid>.v<version>.<base64url of HMAC-SHA256(subkey, text)>: the same text
// under the same key version gives the same token in every table and column.
type tokenizer struct {
	key    []byte
	header string
}

func newTokenizer(k Key) *tokenizer {
	return &tokenizer{key: subkey(k.Secret, "tokenize"), header: "tok." + k.ID + ".v" + strconv.Itoa(k.Version) + "."}
}

func (t *tokenizer) tokenize(mem memory.Allocator, s *array.String) arrow.Array {
	n := s.Len()
	b := array.NewStringBuilder(mem)
	defer b.Release()
	b.Reserve(n)
	width := len(t.header) + base64.RawURLEncoding.EncodedLen(sha256.Size)
	b.ReserveData(n * width)
	mac := hmac.New(sha256.New, t.key)
	out := make([]byte, width)
	copy(out, t.header)
	var sum []byte
	for i := 0; i < n; i++ {
		if s.IsNull(i) {
			b.AppendNull()
			continue
		}
		mac.Reset()
		mac.Write(unsafeBytes(s.Value(i)))
		sum = mac.Sum(sum[:0])
		base64.RawURLEncoding.Encode(out[len(t.header):], sum)
		b.BinaryBuilder.Append(out)
	}
	return b.NewArray()
}

// --- encrypt ----------------------------------------------------------------------------

// siv is deterministic authenticated encryption in the SIV construction (Rogaway and
// Shrimpton): the IV is a MAC of the header and plaintext (HMAC-SHA256, truncated to 16
// bytes) and the plaintext is encrypted with AES-256-CTR under that IV. Equal plaintexts give
// equal ciphertexts (joins still work, bytes are stable), and any change to a token fails the
// IV check on decryption. Tokens read enc.<keyid>.v<version>.<base64url(iv || ciphertext)>.
type siv struct {
	mac    []byte
	block  cipher.Block
	header string
}

func newSIV(k Key) (*siv, error) {
	block, err := aes.NewCipher(subkey(k.Secret, "encrypt/enc"))
	if err != nil {
		return nil, err
	}
	return &siv{mac: subkey(k.Secret, "encrypt/mac"), block: block, header: "enc." + k.ID + ".v" + strconv.Itoa(k.Version) + "."}, nil
}

func (s *siv) iv(plain []byte) []byte {
	m := hmac.New(sha256.New, s.mac)
	m.Write([]byte(s.header))
	m.Write(plain)
	return m.Sum(nil)[:aes.BlockSize]
}

func (s *siv) seal(buf, plain []byte) []byte {
	iv := s.iv(plain)
	raw := make([]byte, aes.BlockSize+len(plain))
	copy(raw, iv)
	cipher.NewCTR(s.block, iv).XORKeyStream(raw[aes.BlockSize:], plain)
	buf = append(buf, s.header...)
	return base64.RawURLEncoding.AppendEncode(buf, raw)
}

// Decrypt returns the text an encrypt() token was made from, with the key version the token
// names (so values encrypted before a rotation still decrypt). Callers check the detokenize
// privilege first. A malformed or tampered token is errs.Invalid; an unknown key, errs.NotFound.
func Decrypt(keys Keyring, token string) (string, error) {
	parts := strings.SplitN(token, ".", 4)
	if len(parts) != 4 || parts[0] != "enc" || !validKeyID(parts[1]) || !strings.HasPrefix(parts[2], "v") {
		return "", errs.Invalid("not an encrypt() token")
	}
	version, err := strconv.Atoi(parts[2][1:])
	if err != nil || version < 1 {
		return "", errs.Invalid("not an encrypt() token: bad key version")
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[3])
	if err != nil || len(raw) < aes.BlockSize {
		return "", errs.Invalid("not an encrypt() token: bad payload")
	}
	if keys == nil {
		return "", errs.Unavailable("decrypt: no keyring configured")
	}
	k, err := keys.Version(parts[1], version)
	if err != nil {
		return "", err
	}
	s, err := newSIV(k)
	if err != nil {
		return "", err
	}
	iv, ct := raw[:aes.BlockSize], raw[aes.BlockSize:]
	plain := make([]byte, len(ct))
	cipher.NewCTR(s.block, iv).XORKeyStream(plain, ct)
	if !hmac.Equal(iv, s.iv(plain)) {
		return "", errs.Invalid("encrypt() token fails authentication (tampered, or another key's)")
	}
	return string(plain), nil
}

// --- fpe_digits -------------------------------------------------------------------------

// fpe replaces the digits of a string, other than its last keep digits, with digits
// enciphered under the key, keeping length and every non-digit in place. The cipher is a
// balanced Feistel network over the decimal value of the digits, 10 rounds, shaped like NIST
// FF1 (SP 800-38G) but with HMAC-SHA256 as round function and a tweak binding the key
// version, the string's shape (where its non-digits are) and the kept digits. It is not FF1
// itself because FF1 refuses domains under a million values, and masks keep the last digits
// of short values (a 9-digit number keeping 4 enciphers 5): here such short domains work, but
// are small, which is the policy author's trade-off. Being a permutation per tweak, it is
// reversible in principle by the key holder and injective: distinct inputs of one shape and
// tail stay distinct.
type fpe struct {
	key    []byte
	header string
}

const fpeChunk = 36 // digits per Feistel block (two halves of at most 18 digits fit uint64)

func (f *fpe) apply(mac hash.Hash, buf []byte, v string, keep int) []byte {
	digits := make([]byte, 0, len(v))
	shape := make([]byte, 0, len(v))
	for i := 0; i < len(v); i++ {
		if c := v[i]; c >= '0' && c <= '9' {
			digits = append(digits, c)
			shape = append(shape, 'd')
		} else {
			shape = append(shape, c)
		}
	}
	cut := max(len(digits)-keep, 0)
	tweak := make([]byte, 0, len(f.header)+len(shape)+len(digits)+8)
	tweak = append(tweak, f.header...)
	tweak = append(tweak, 0)
	tweak = append(tweak, shape...)
	tweak = append(tweak, 0)
	tweak = append(tweak, digits[cut:]...)
	for start, chunk := 0, 0; start < cut; start, chunk = start+fpeChunk, chunk+1 {
		end := min(start+fpeChunk, cut)
		feistel(mac, tweak, chunk, digits[start:end])
	}
	k := 0
	for i := 0; i < len(v); i++ {
		if c := v[i]; c >= '0' && c <= '9' {
			buf = append(buf, digits[k])
			k++
		} else {
			buf = append(buf, c)
		}
	}
	return buf
}

var pow10u = [...]uint64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19}

// feistel enciphers d (ASCII digits, at most fpeChunk) in place.
func feistel(mac hash.Hash, tweak []byte, chunk int, d []byte) {
	n := len(d)
	u, v := n/2, n-n/2
	num := func(s []byte) uint64 {
		var x uint64
		for _, c := range s {
			x = x*10 + uint64(c-'0')
		}
		return x
	}
	a, b := num(d[:u]), num(d[u:])
	la, lb := u, v
	var sum []byte
	var hdr [16]byte
	for round := 0; round < 10; round++ {
		m := la // the new half has A's length
		mac.Reset()
		mac.Write(tweak)
		binary.BigEndian.PutUint32(hdr[0:], uint32(chunk))
		binary.BigEndian.PutUint32(hdr[4:], uint32(round<<16|lb<<8|m))
		binary.BigEndian.PutUint64(hdr[8:], b)
		mac.Write(hdr[:])
		sum = mac.Sum(sum[:0])
		mod := pow10u[m]
		y := bits.Rem64(binary.BigEndian.Uint64(sum[:8])%mod, binary.BigEndian.Uint64(sum[8:16]), mod)
		c, carry := bits.Add64(a, y, 0)
		if carry != 0 || c >= mod {
			c -= mod
		}
		a, b = b, c
		la, lb = lb, m
	}
	// Write A || B back with their lengths (which, after an even number of rounds, are u, v).
	for i := la - 1; i >= 0; i-- {
		d[i] = byte('0' + a%10)
		a /= 10
	}
	for i := n - 1; i >= la; i-- {
		d[i] = byte('0' + b%10)
		b /= 10
	}
}
