package graph

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/partnersupport/api/internal/domain"
)

// requireMalformedCursor fails unless err is the one refusal of a bad cursor: a coded
// INVALID about "after" that says no more than that the cursor is malformed.
func requireMalformedCursor(t *testing.T, err error) {
	t.Helper()
	e, ok := domain.AsError(err)
	if !ok || e.Code != domain.EINVALID || len(e.Field) != 1 || e.Field[0] != "after" || e.Message != "malformed cursor" {
		t.Fatalf("want the one coded INVALID about after, got %#v", err)
	}
}

// FuzzDecodeRequestCursor: a request cursor from a client is decoded into a cursor within
// bounds that encodes back to itself, or refused with the one coded INVALID about "after".
func FuzzDecodeRequestCursor(f *testing.F) {
	valid := encodeRequestCursor(domain.SupportRequest{ID: domain.RequestID("acc_x", "key-00000001"), CreatedAt: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)})
	for _, s := range []string{valid, valid + "A", valid[:len(valid)-1], "", "=", "!!!!",
		base64.RawURLEncoding.EncodeToString([]byte("0|req_")),
		base64.RawURLEncoding.EncodeToString([]byte("-1|req_abc")),
		base64.RawURLEncoding.EncodeToString([]byte("9223372036854775807|req_abc")),
		base64.RawURLEncoding.EncodeToString([]byte("9223372036854775808|req_abc")),
		base64.RawURLEncoding.EncodeToString([]byte("1|acc_abc")),
		base64.RawURLEncoding.EncodeToString([]byte("1|req_a|b")),
		base64.RawURLEncoding.EncodeToString([]byte("+1|req_abc")),
		base64.RawURLEncoding.EncodeToString([]byte("1|req_" + strings.Repeat("a", 60))),
		base64.StdEncoding.EncodeToString([]byte("1|req_abc")),
		strings.Repeat("A", 129)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := decodeRequestCursor(s)
		if err != nil {
			requireMalformedCursor(t, err)
			return
		}
		if c == nil || !strings.HasPrefix(c.ID, "req_") || len(c.ID) > 64 || c.CreatedAt.Before(time.Unix(0, 0)) || len(s) > 128 {
			t.Fatalf("accepted %q as %+v", s, c)
		}
		again, err := decodeRequestCursor(encodeRequestCursor(domain.SupportRequest{ID: c.ID, CreatedAt: c.CreatedAt}))
		if err != nil || *again != *c {
			t.Fatalf("%q: %+v does not round-trip: %+v, %v", s, c, again, err)
		}
	})
}

// FuzzDecodeSeq: a ledger cursor is "s" and a base-36 sequence number.
func FuzzDecodeSeq(f *testing.F) {
	for _, s := range []string{"s0", "s1", "sz", "s1y2p0ij32e8e7", encodeSeq(1 << 62), "", "s", "x1", "s-1", "s+1",
		"S1", "s 1", "s1\x00", "s" + strings.Repeat("z", 15), "s" + strings.Repeat("z", 16), "s1ğ", "\xffs1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, c string) {
		n, err := decodeSeq(c)
		if err != nil {
			requireMalformedCursor(t, err)
			return
		}
		if n < 0 || len(c) > 16 || c[0] != 's' {
			t.Fatalf("accepted %q as %d", c, n)
		}
		if m, err := decodeSeq(encodeSeq(n)); err != nil || m != n {
			t.Fatalf("%q: %d does not round-trip: %d, %v", c, n, m, err)
		}
	})
}

// FuzzSeqRoundTrip: every sequence number the ledger hands out decodes to itself.
func FuzzSeqRoundTrip(f *testing.F) {
	for _, n := range []int64{0, 1, 35, 36, 1 << 40, 1<<63 - 1} {
		f.Add(n)
	}
	f.Fuzz(func(t *testing.T, n int64) {
		if n < 0 {
			return
		}
		m, err := decodeSeq(encodeSeq(n))
		if err != nil || m != n {
			t.Fatalf("%d: got %d, %v", n, m, err)
		}
	})
}
