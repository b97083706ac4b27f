package httpapi_test

import (
	"context"
	"testing"
	"time"

	coderws "github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnersupport/api/internal/httpapi"
	"github.com/partnersupport/api/internal/testenv"
)

const balanceSub = `subscription { incidentBalanceChanged(tenantId: "contoso") { seq } }`

// TestTransportWSCloseCodes speaks graphql-transport-ws in raw frames and breaks the
// protocol one way at a time: the server closes with the code the protocol defines.
func TestTransportWSCloseCodes(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	tok := e.Token(lee)
	dial := func(t *testing.T) *testenv.WS {
		ws, _, err := testenv.DialWS(t, e.Server.URL+"/query", testenv.TransportWS, "")
		require.NoError(t, err)
		return ws
	}
	raw := func(t *testing.T, ws *testenv.WS, frame string) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		require.NoError(t, ws.Conn.Write(ctx, coderws.MessageText, []byte(frame)))
	}
	cases := []struct {
		name string
		code coderws.StatusCode
		do   func(t *testing.T, ws *testenv.WS)
	}{
		{"subscribe before connection_init", httpapi.CloseUnauthorized, func(t *testing.T, ws *testenv.WS) {
			ws.Start("1", balanceSub, nil)
		}},
		{"complete before connection_init", httpapi.CloseUnauthorized, func(t *testing.T, ws *testenv.WS) {
			ws.Send("complete", "1", nil)
		}},
		{"a second connection_init", httpapi.CloseTooManyInitRequests, func(t *testing.T, ws *testenv.WS) {
			ws.Init(tok)
			ws.Send("connection_init", "", map[string]any{"Authorization": "Bearer " + tok})
		}},
		{"two subscriptions with one id", httpapi.CloseSubscriberExists, func(t *testing.T, ws *testenv.WS) {
			ws.Init(tok)
			ws.Start("same", balanceSub, nil)
			ws.Start("same", balanceSub, nil)
		}},
		{"an unknown message type", httpapi.CloseInvalidMessage, func(t *testing.T, ws *testenv.WS) {
			ws.Init(tok)
			ws.Send("start", "1", map[string]any{"query": balanceSub})
		}},
		{"a message that is not JSON", httpapi.CloseInvalidMessage, func(t *testing.T, ws *testenv.WS) {
			ws.Init(tok)
			raw(t, ws, "hello")
		}},
		{"a message with no type", httpapi.CloseInvalidMessage, func(t *testing.T, ws *testenv.WS) {
			raw(t, ws, `{"id": "1"}`)
		}},
		{"a JSON array", httpapi.CloseInvalidMessage, func(t *testing.T, ws *testenv.WS) {
			raw(t, ws, `[1]`)
		}},
		{"subscribe without an id", httpapi.CloseInvalidMessage, func(t *testing.T, ws *testenv.WS) {
			ws.Init(tok)
			ws.Send("subscribe", "", map[string]any{"query": balanceSub})
		}},
		{"subscribe without a query", httpapi.CloseInvalidMessage, func(t *testing.T, ws *testenv.WS) {
			ws.Init(tok)
			ws.Send("subscribe", "1", map[string]any{"variables": map[string]any{}})
		}},
		{"a server message sent by the client", httpapi.CloseInvalidMessage, func(t *testing.T, ws *testenv.WS) {
			ws.Init(tok)
			ws.Send("next", "1", map[string]any{"data": nil})
		}},
		{"a bad token", 4403, func(t *testing.T, ws *testenv.WS) {
			ws.Send("connection_init", "", map[string]any{"Authorization": "Bearer not-a-token"})
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ws := dial(t)
			tc.do(t, ws)
			assert.Equal(t, tc.code, ws.CloseStatus(10*time.Second))
		})
	}

	t.Run("an id used again once its subscription completed", func(t *testing.T) {
		ws := dial(t)
		ws.Init(tok)
		ws.Start("again", balanceSub, nil)
		testenv.WaitFor(t, 10*time.Second, "the subscription to start", func() bool { return e.App.Feed.Subscribers() == 1 })
		ws.Send("complete", "again", nil)
		testenv.WaitFor(t, 10*time.Second, "the subscription to end", func() bool { return e.App.Feed.Subscribers() == 0 })
		ws.Start("again", balanceSub, nil)
		testenv.WaitFor(t, 10*time.Second, "the subscription to start again", func() bool { return e.App.Feed.Subscribers() == 1 })
		ws.Send("ping", "", nil)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, b, err := ws.Conn.Read(ctx)
		require.NoError(t, err, "the connection stays open")
		assert.JSONEq(t, `{"type":"pong"}`, string(b))
	})

	t.Run("no connection_init within 10 s", func(t *testing.T) {
		ws := dial(t)
		assert.Equal(t, coderws.StatusCode(httpapi.CloseInitTimeout), ws.CloseStatus(30*time.Second))
	})
}
