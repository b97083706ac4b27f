package graph

import (
	"context"
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

// pager builds one kind of Relay connection, written once per kind: how an after cursor
// reads (decode) and is written (cursor), and the edge and connection types (edge, conn).
// P is the use case's position, N the node, E the edge and C the connection.
type pager[P, N, E, C any] struct {
	decode func(string) (P, error)
	cursor func(N) string
	edge   func(cursor string, n N) E
	conn   func(edges []E, info *model.PageInfo) C
}

// page reads the page after the after cursor (the first page without one) as the
// signed-in account, and builds its connection.
func (pg pager[P, N, E, C]) page(ctx context.Context, after *string, read func(ctx context.Context, a domain.Account, from P) ([]N, bool, error)) (C, error) {
	var zero C
	a, err := caller(ctx)
	if err != nil {
		return zero, err
	}
	var from P
	if after != nil {
		if from, err = pg.decode(*after); err != nil {
			return zero, err
		}
	}
	nodes, more, err := read(ctx, a, from)
	if err != nil {
		return zero, err
	}
	edges, cursors := make([]E, len(nodes)), make([]string, len(nodes))
	for i, n := range nodes {
		cursors[i] = pg.cursor(n)
		edges[i] = pg.edge(cursors[i], n)
	}
	return pg.conn(edges, pageInfo(cursors, more, after)), nil
}

var (
	requestPages = pager[*domain.RequestCursor, domain.SupportRequest, model.SupportRequestEdge, model.SupportRequestConnection]{
		decode: decodeRequestCursor, cursor: encodeRequestCursor,
		edge: func(c string, q domain.SupportRequest) model.SupportRequestEdge {
			return model.SupportRequestEdge{Cursor: c, Node: &q}
		},
		conn: func(es []model.SupportRequestEdge, pi *model.PageInfo) model.SupportRequestConnection {
			return model.SupportRequestConnection{Edges: es, PageInfo: pi}
		},
	}
	providerPages = pager[*domain.RequestCursor, domain.SupportRequest, model.ProviderRequestEdge, model.ProviderRequestConnection]{
		decode: decodeRequestCursor, cursor: encodeRequestCursor,
		edge: func(c string, q domain.SupportRequest) model.ProviderRequestEdge {
			return model.ProviderRequestEdge{Cursor: c, Node: &model.ProviderRequest{SupportRequest: q}}
		},
		conn: func(es []model.ProviderRequestEdge, pi *model.PageInfo) model.ProviderRequestConnection {
			return model.ProviderRequestConnection{Edges: es, PageInfo: pi}
		},
	}
	ledgerPages = pager[int64, domain.Event, model.LedgerEdge, model.LedgerConnection]{
		decode: decodeSeq, cursor: func(e domain.Event) string { return encodeSeq(e.Seq) },
		edge: func(c string, e domain.Event) model.LedgerEdge { return model.LedgerEdge{Cursor: c, Node: &e} },
		conn: func(es []model.LedgerEdge, pi *model.PageInfo) model.LedgerConnection {
			return model.LedgerConnection{Edges: es, PageInfo: pi}
		},
	}
	auditPages = pager[string, domain.AuditEvent, model.AuditEdge, model.AuditConnection]{
		decode: decodeAuditCursor, cursor: func(e domain.AuditEvent) string { return e.ID },
		edge: func(c string, e domain.AuditEvent) model.AuditEdge { return model.AuditEdge{Cursor: c, Node: &e} },
		conn: func(es []model.AuditEdge, pi *model.PageInfo) model.AuditConnection {
			return model.AuditConnection{Edges: es, PageInfo: pi}
		},
	}
)

// encodeSeq and decodeSeq make opaque ledger cursors: "s" and the event's sequence number
// in base 36.
func encodeSeq(seq int64) string { return "s" + strconv.FormatInt(seq, 36) }

// decodeSeq reads a ledger cursor; anything malformed is a coded INVALID.
func decodeSeq(c string) (int64, error) {
	if len(c) < 2 || len(c) > 16 || c[0] != 's' {
		return 0, domain.Errorf(domain.EINVALID, "", "malformed cursor").WithField("after")
	}
	n, err := strconv.ParseInt(c[1:], 36, 64)
	if err != nil || n < 0 {
		return 0, domain.Errorf(domain.EINVALID, "", "malformed cursor").WithField("after")
	}
	return n, nil
}
