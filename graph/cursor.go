package graph

import (
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/partnersupport/api/graph/model"
	"github.com/partnersupport/api/internal/domain"
)

// Cursors are opaque to clients: base64url of "createdAt-unix-nanos|id".

func encodeRequestCursor(r domain.SupportRequest) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(r.CreatedAt.UnixNano(), 10) + "|" + r.ID))
}

// decodeRequestCursor reads a request cursor; anything malformed is a coded INVALID.
func decodeRequestCursor(s string) (*domain.RequestCursor, error) {
	bad := domain.Errorf(domain.EINVALID, "", "malformed cursor").WithField("after")
	if len(s) > 128 {
		return nil, bad
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, bad
	}
	ts, id, ok := strings.Cut(string(b), "|")
	n, err := strconv.ParseInt(ts, 10, 64)
	if !ok || err != nil || n < 0 || !strings.HasPrefix(id, "req_") || len(id) > 64 {
		return nil, bad
	}
	return &domain.RequestCursor{CreatedAt: time.Unix(0, n).UTC(), ID: id}, nil
}

func pageSize(first *int) int {
	if first == nil {
		return 20
	}
	return *first
}

// pageInfo is the PageInfo of a forward page (first/after) with these edge cursors. An
// after cursor comes from an earlier page, so there is a previous page; without one, the
// page is the first.
func pageInfo(cursors []string, hasMore bool, after *string) *model.PageInfo {
	p := &model.PageInfo{HasNextPage: hasMore, HasPreviousPage: after != nil}
	if n := len(cursors); n > 0 {
		p.StartCursor, p.EndCursor = &cursors[0], &cursors[n-1]
	}
	return p
}

// decodeAuditCursor reads an audit trail cursor, an event's ID (19 digits of time, a dash,
// 10 hex digits); anything else is a coded INVALID.
func decodeAuditCursor(s string) (string, error) {
	ts, rnd, ok := strings.Cut(s, "-")
	if !ok || len(ts) != 19 || len(rnd) != 10 || strings.Trim(ts, "0123456789") != "" || strings.Trim(rnd, "0123456789abcdef") != "" {
		return "", domain.Errorf(domain.EINVALID, "", "malformed cursor").WithField("after")
	}
	return s, nil
}
