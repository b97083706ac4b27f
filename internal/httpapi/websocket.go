package httpapi

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/transport"

	"github.com/partnersupport/api/internal/feed"
)

// CloseGoingAway is the close code sent to every websocket when the server shuts down,
// so clients reconnect (to another instance) with their last cursor.
const CloseGoingAway = 1001

// wsTracker wraps the websocket implementation to remember open connections, so that
// shutdown can close each with 1001 (going away) instead of dropping it.
type wsTracker struct {
	inner transport.WebsocketImplementation
	mu    sync.Mutex
	conns map[*trackedConn]struct{}
}

func newWSTracker(inner transport.WebsocketImplementation) *wsTracker {
	return &wsTracker{inner: inner, conns: map[*trackedConn]struct{}{}}
}

// Accept implements transport.WebsocketImplementation.
func (t *wsTracker) Accept(w http.ResponseWriter, r *http.Request, o transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	c, err := t.inner.Accept(w, r, o)
	if err != nil {
		return nil, err
	}
	tc := &trackedConn{WebsocketConn: c, t: t}
	if c.Subprotocol() == transportWSProtocol {
		tc.proto = &wsProtocol{active: map[string]struct{}{}, stopping: map[string]int{}}
	}
	if ref, ok := r.Context().Value(connRefKey{}).(*connRef); ok {
		ref.set(tc)
	}
	t.mu.Lock()
	t.conns[tc] = struct{}{}
	t.mu.Unlock()
	return tc, nil
}

// closeAll sends 1001 to every open websocket and closes it.
func (t *wsTracker) closeAll(reason string) {
	t.mu.Lock()
	conns := make([]*trackedConn, 0, len(t.conns))
	for c := range t.conns {
		conns = append(conns, c)
	}
	t.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = c.WriteClose(CloseGoingAway, reason)
			_ = c.Close()
		}()
	}
	wg.Wait()
}

// trackedConn forwards to the real connection, including the optional read limit and
// deadline interfaces the transport looks for.
type trackedConn struct {
	transport.WebsocketConn
	t    *wsTracker
	once sync.Once
	// proto enforces graphql-transport-ws (wsprotocol.go); nil on the legacy protocol.
	proto *wsProtocol
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.t.mu.Lock()
		delete(c.t.conns, c)
		c.t.mu.Unlock()
	})
	return c.WebsocketConn.Close()
}

func (c *trackedConn) SetReadLimit(limit int64) {
	if l, ok := c.WebsocketConn.(transport.WebsocketReadLimiter); ok {
		l.SetReadLimit(limit)
	}
}

func (c *trackedConn) SetReadDeadline(t time.Time) error {
	if d, ok := c.WebsocketConn.(transport.WebsocketReadDeadliner); ok {
		return d.SetReadDeadline(t)
	}
	return nil
}

var _ io.Closer = (*trackedConn)(nil)

// connRef lets code running on a websocket's operations (which see only a context derived
// from the upgrade request) close that websocket with a reason.
type connRef struct {
	mu   sync.Mutex
	conn *trackedConn
}

type connRefKey struct{}

func (r *connRef) set(c *trackedConn) {
	r.mu.Lock()
	r.conn = c
	r.mu.Unlock()
}

// withConnRef gives websocket upgrade requests a connRef in their context.
func withConnRef(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") == "" {
			next.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), connRefKey{}, &connRef{})))
	})
}

// Close codes for a subscription the server ends.
const (
	CloseTryAgainLater = 1013 // the client fell behind: reconnect with the last cursor
)

// CloseStream closes the websocket the context's operation runs on, if any: 1013 (try
// again later) when the client fell behind, 1001 when the server is going away. Over SSE
// the stream simply ends.
func CloseStream(ctx context.Context, why error) {
	ref, ok := ctx.Value(connRefKey{}).(*connRef)
	if !ok {
		return
	}
	ref.mu.Lock()
	c := ref.conn
	ref.mu.Unlock()
	if c == nil {
		return
	}
	code, reason := CloseGoingAway, "server shutting down"
	if errors.Is(why, feed.ErrSlow) {
		code, reason = CloseTryAgainLater, "slow consumer: you fell behind; reconnect with your last cursor"
	}
	_ = c.WriteClose(code, reason)
	_ = c.Close()
}
