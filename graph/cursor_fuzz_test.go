package graph

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/partnersupport/api/internal/domain"
)

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
			e, ok := domain.AsError(err)
			if !ok || e.Code != domain.EINVALID || len(e.Field) != 1 || e.Field[0] != "after" || e.Message != "malformed cursor" {
				t.Fatalf("want the one coded INVALID about after, got %#v", err)
			}
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
