package testenv

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	coderws "github.com/coder/websocket"
	"github.com/stretchr/testify/require"
)

// Subprotocols of GraphQL over websockets.
const (
	TransportWS = "graphql-transport-ws" // the current protocol
	LegacyWS    = "graphql-ws"           // subscriptions-transport-ws, still used by older clients
)

// WS is a raw GraphQL websocket client for tests, speaking either subprotocol.
type WS struct {
	t     testing.TB
	Conn  *coderws.Conn
	Proto string
}

// DialWS opens a websocket to an http(s) URL of /query with the subprotocol and origin.
func DialWS(t testing.TB, httpURL, proto, origin string) (*WS, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	}
	c, resp, err := coderws.Dial(ctx, "ws"+strings.TrimPrefix(httpURL, "http"), &coderws.DialOptions{Subprotocols: []string{proto}, HTTPHeader: h})
	if err != nil {
		return nil, resp, err
	}
	c.SetReadLimit(1 << 20)
	ws := &WS{t: t, Conn: c, Proto: proto}
	t.Cleanup(func() { _ = c.CloseNow() })
	return ws, resp, nil
}

// Msg is one protocol message.
type Msg struct {
	Type    string          `json:"type"`
	ID      string          `json:"id,omitempty"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// Send writes a message.
func (w *WS) Send(typ, id string, payload any) {
	w.t.Helper()
	m := map[string]any{"type": typ}
	if id != "" {
		m["id"] = id
	}
	if payload != nil {
		m["payload"] = payload
	}
	b, err := json.Marshal(m)
	require.NoError(w.t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(w.t, w.Conn.Write(ctx, coderws.MessageText, b))
}

// Read reads the next message that is not a keep-alive, within timeout.
func (w *WS) Read(timeout time.Duration) (Msg, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		_, b, err := w.Conn.Read(ctx)
		if err != nil {
			return Msg{}, err
		}
		var m Msg
		if err := json.Unmarshal(b, &m); err != nil {
			return Msg{}, err
		}
		if m.Type == "ka" || m.Type == "ping" || m.Type == "pong" {
			continue
		}
		return m, nil
	}
}

// Init sends connection_init with the token (if any) and expects connection_ack.
func (w *WS) Init(token string) {
	w.t.Helper()
	var payload map[string]any
	if token != "" {
		payload = map[string]any{"Authorization": "Bearer " + token}
	}
	w.Send("connection_init", "", payload)
	m, err := w.Read(10 * time.Second)
	require.NoError(w.t, err)
	require.Equal(w.t, "connection_ack", m.Type, "payload: %s", m.Payload)
}

// Start starts an operation (subscribe, or start on the legacy protocol).
func (w *WS) Start(id, query string, vars map[string]any) {
	typ := "subscribe"
	if w.Proto == LegacyWS {
		typ = "start"
	}
	w.Send(typ, id, map[string]any{"query": query, "variables": vars})
}

// Next reads the next result of an operation; it returns the data payload.
func (w *WS) Next(timeout time.Duration) (Msg, error) {
	m, err := w.Read(timeout)
	if err != nil {
		return m, err
	}
	return m, nil
}

// CloseStatus reads until the server closes and returns the close code.
func (w *WS) CloseStatus(timeout time.Duration) coderws.StatusCode {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		if _, _, err := w.Conn.Read(ctx); err != nil {
			if s := coderws.CloseStatus(err); s != -1 {
				return s
			}
			w.t.Logf("websocket ended without a close frame: %v", err)
			return -1
		}
	}
}

// DialWSSmallBuffer opens a websocket whose socket receive buffer is tiny, so that a client
// that stops reading makes the server's writes block quickly (a stalled client).
func DialWSSmallBuffer(t testing.TB, httpURL, proto string) (*WS, error) {
	t.Helper()
	d := &net.Dialer{Control: func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 2048) })
		if err != nil {
			return err
		}
		return serr
	}}
	client := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := coderws.Dial(ctx, "ws"+strings.TrimPrefix(httpURL, "http"), &coderws.DialOptions{Subprotocols: []string{proto}, HTTPClient: client})
	if err != nil {
		return nil, err
	}
	c.SetReadLimit(1 << 20)
	ws := &WS{t: t, Conn: c, Proto: proto}
	t.Cleanup(func() { _ = c.CloseNow() })
	return ws, nil
}

// Result reads the next message of an operation and returns its data; an "error"
// message, or a "next"/"data" carrying errors, returns them as an error value.
func (w *WS) Result(timeout time.Duration) (json.RawMessage, []Error, error) {
	m, err := w.Read(timeout)
	if err != nil {
		return nil, nil, err
	}
	switch m.Type {
	case "next", "data":
		var p struct {
			Data   json.RawMessage `json:"data"`
			Errors []Error         `json:"errors"`
		}
		if err := json.Unmarshal(m.Payload, &p); err != nil {
			return nil, nil, err
		}
		return p.Data, p.Errors, nil
	case "error":
		var errs []Error
		if err := json.Unmarshal(m.Payload, &errs); err != nil {
			var one Error
			_ = json.Unmarshal(m.Payload, &one)
			errs = []Error{one}
		}
		return nil, errs, nil
	}
	return nil, nil, &unexpected{m.Type}
}

type unexpected struct{ typ string }

func (u *unexpected) Error() string { return "unexpected message " + u.typ }
