package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sync"

	"github.com/99designs/gqlgen/graphql/handler/transport"
)

// The close codes of the graphql-transport-ws protocol
// (https://github.com/enisdenjo/graphql-ws/blob/master/PROTOCOL.md).
const (
	CloseInvalidMessage      = 4400
	CloseUnauthorized        = 4401
	CloseInitTimeout         = 4408
	CloseSubscriberExists    = 4409
	CloseTooManyInitRequests = 4429
)

const transportWSProtocol = "graphql-transport-ws"

// wsProtocol enforces the graphql-transport-ws protocol on one connection, with the close
// codes the protocol defines. gqlgen's transport closes every violation with 1002 (or 1000),
// lets a second subscribe with an active id through, and has no setting for any of it; so
// each message a client sends is checked here, before gqlgen reads it, and the connection is
// closed with the protocol's code when it breaks the protocol. What the server sends is
// watched for the acknowledgement and for the end of each subscription.
type wsProtocol struct {
	mu       sync.Mutex
	initSeen bool
	acked    bool
	active   map[string]struct{}
	// stopping counts, per id, subscriptions the client completed whose end gqlgen has not
	// sent yet: gqlgen still sends their last result and a complete, which the protocol does
	// not expect after the client's complete, so they are dropped.
	stopping map[string]int
	closed   bool // closed here: gqlgen's own close that follows is not sent
}

// clientMessage is a message of the protocol as a client sends it; every field is checked.
type clientMessage struct {
	Type    *string         `json:"type"`
	ID      *string         `json:"id"`
	Payload json.RawMessage `json:"payload"`
}

// check returns the close code and reason for a message that breaks the protocol, 0 when
// the message may go on to gqlgen.
func (p *wsProtocol) check(b []byte) (int, string) {
	var m clientMessage
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&m); err != nil || m.Type == nil || dec.More() {
		return CloseInvalidMessage, "Invalid message received"
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	switch *m.Type {
	case "connection_init":
		if p.initSeen {
			return CloseTooManyInitRequests, "Too many initialisation requests"
		}
		if !isObjectOrAbsent(m.Payload) {
			return CloseInvalidMessage, "Invalid message received: the payload must be an object"
		}
		p.initSeen = true
	case "ping", "pong":
		if !isObjectOrAbsent(m.Payload) {
			return CloseInvalidMessage, "Invalid message received: the payload must be an object"
		}
	case "subscribe":
		if !p.acked {
			return CloseUnauthorized, "Unauthorized"
		}
		if m.ID == nil || *m.ID == "" {
			return CloseInvalidMessage, "Invalid message received: subscribe needs an id"
		}
		var payload struct {
			Query *string `json:"query"`
		}
		if len(m.Payload) == 0 || m.Payload[0] != '{' || json.Unmarshal(m.Payload, &payload) != nil || payload.Query == nil {
			return CloseInvalidMessage, "Invalid message received: subscribe needs a payload with a query"
		}
		if _, ok := p.active[*m.ID]; ok {
			return CloseSubscriberExists, fmt.Sprintf("Subscriber for %s already exists", *m.ID)
		}
		p.active[*m.ID] = struct{}{}
	case "complete":
		if !p.acked {
			return CloseUnauthorized, "Unauthorized"
		}
		if m.ID == nil || *m.ID == "" {
			return CloseInvalidMessage, "Invalid message received: complete needs an id"
		}
		if _, ok := p.active[*m.ID]; ok {
			delete(p.active, *m.ID)
			p.stopping[*m.ID]++
		}
	default:
		return CloseInvalidMessage, "Invalid message received"
	}
	return 0, ""
}

func isObjectOrAbsent(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || bytes.Equal(raw, []byte("null")) || raw[0] == '{'
}

// sent notes what the server sends: the acknowledgement opens subscribing, and a complete or
// an error ends a subscription, whose id may then be used again. It reports false for a
// message of a subscription the client completed, which is not sent.
func (p *wsProtocol) sent(b []byte) bool {
	var m struct {
		Type string `json:"type"`
		ID   string `json:"id"`
	}
	if json.Unmarshal(b, &m) != nil {
		return true
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	end := m.Type == "complete" || m.Type == "error"
	if m.ID != "" && p.stopping[m.ID] > 0 {
		if end {
			if p.stopping[m.ID]--; p.stopping[m.ID] == 0 {
				delete(p.stopping, m.ID)
			}
		}
		return false
	}
	switch {
	case m.Type == "connection_ack":
		p.acked = true
	case end:
		delete(p.active, m.ID)
	}
	return true
}

// NextReader implements transport.WebsocketConn: on graphql-transport-ws, a message that
// breaks the protocol closes the connection with the protocol's code and never reaches
// gqlgen.
func (c *trackedConn) NextReader() (int, io.Reader, error) {
	typ, r, err := c.WebsocketConn.NextReader()
	if err != nil || c.proto == nil {
		return typ, r, err
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return typ, nil, err
	}
	if code, reason := c.proto.check(b); code != 0 {
		c.closeWith(code, reason)
		return typ, nil, transport.ErrWebsocketClosed
	}
	return typ, bytes.NewReader(b), nil
}

// WriteJSON implements transport.WebsocketConn.
func (c *trackedConn) WriteJSON(v any) error {
	if c.proto == nil {
		return c.WebsocketConn.WriteJSON(v)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if !c.proto.sent(b) {
		return nil
	}
	return c.WebsocketConn.WriteJSON(json.RawMessage(b))
}

// WriteClose implements transport.WebsocketConn. On graphql-transport-ws, gqlgen's close
// for a missing connection_init becomes the protocol's 4408; after a close sent here,
// gqlgen's own is not sent.
func (c *trackedConn) WriteClose(code int, reason string) error {
	if c.proto == nil {
		return c.WebsocketConn.WriteClose(code, reason)
	}
	c.proto.mu.Lock()
	closed := c.proto.closed
	c.proto.closed = true
	c.proto.mu.Unlock()
	if closed {
		return nil
	}
	if code == transport.WebsocketCloseProtocolError && reason == "connection initialisation timeout" {
		code, reason = CloseInitTimeout, "Connection initialisation timeout"
	}
	return c.WebsocketConn.WriteClose(code, reason)
}

func (c *trackedConn) closeWith(code int, reason string) {
	_ = c.WriteClose(code, reason)
	_ = c.Close()
}
