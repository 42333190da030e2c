package scan

import (
	"bytes"
	"math/rand"
	"testing"

	"github.com/apache/arrow-go/v18/parquet/compress"
)

// TestFastSnappyIsSnappy: the fast encoder's output decodes with the standard codec.
func TestFastSnappyIsSnappy(t *testing.T) {
	base, err := compress.GetCodec(compress.Codecs.Snappy)
	if err != nil {
		t.Fatal(err)
	}
	fast := fastSnappy{base}
	r := rand.New(rand.NewSource(1))
	for _, n := range []int{0, 1, 100, 65536, 1 << 20} {
		src := make([]byte, n)
		for i := range src {
			src[i] = "abcdefgh"[r.Intn(8)] // compressible, like Parquet pages
		}
		enc := fast.Encode(nil, src)
		dec, err := compress.Decode(base, nil, enc)
		if err != nil || !bytes.Equal(dec, src) {
			t.Fatalf("%d bytes: round trip failed: %v", n, err)
		}
		if again := fast.Encode(nil, src); !bytes.Equal(again, enc) {
			t.Fatalf("%d bytes: the encoding is not deterministic", n)
		}
	}
}
