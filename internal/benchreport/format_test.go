package benchreport

import (
	"testing"
	"time"
)

func TestDuration(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "-"},
		{-time.Second, "-"},
		{1500 * time.Nanosecond, "2 µs"},
		{999 * time.Microsecond, "999 µs"},
		{time.Millisecond, "1.00 ms"},
		{9994 * time.Microsecond, "9.99 ms"},
		{10 * time.Millisecond, "10.0 ms"},
		{999 * time.Millisecond, "999.0 ms"},
		{time.Second, "1.00 s"},
		{90 * time.Second, "90.00 s"},
	} {
		if got := Duration(tc.d); got != tc.want {
			t.Errorf("Duration(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}
