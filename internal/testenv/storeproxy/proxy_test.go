package storeproxy

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"
)

// opMsgOf builds an OP_MSG with a body section and, when seq is set, a document sequence.
func opMsgOf(t *testing.T, body bson.D, seq bool) []byte {
	t.Helper()
	doc, err := bson.Marshal(body)
	require.NoError(t, err)
	msg := make([]byte, 20)
	binary.LittleEndian.PutUint32(msg[12:], opMsg)
	if seq { // a kind-1 section first, as a driver may send for inserts
		one, _ := bson.Marshal(bson.D{{Key: "_id", Value: 1}})
		sec := append([]byte("documents\x00"), one...)
		size := make([]byte, 4)
		binary.LittleEndian.PutUint32(size, uint32(4+len(sec)))
		msg = append(append(append(msg, 1), size...), sec...)
	}
	msg = append(append(msg, 0), doc...)
	binary.LittleEndian.PutUint32(msg[0:], uint32(len(msg)))
	return msg
}

func TestCommandNamesTheCollection(t *testing.T) {
	c, ok := command(opMsgOf(t, bson.D{{Key: "find", Value: "links"}, {Key: "filter", Value: bson.D{{Key: "accountId", Value: "a"}}}, {Key: "$db", Value: "x"}}, false))
	require.True(t, ok)
	assert.Equal(t, Command{"find", "links"}, c)
	c, ok = command(opMsgOf(t, bson.D{{Key: "getMore", Value: int64(42)}, {Key: "collection", Value: "claims"}}, false))
	require.True(t, ok)
	assert.Equal(t, Command{"getMore", "claims"}, c)
	c, ok = command(opMsgOf(t, bson.D{{Key: "insert", Value: "claims"}}, true))
	require.True(t, ok)
	assert.Equal(t, Command{"insert", "claims"}, c)
	c, ok = command(opMsgOf(t, bson.D{{Key: "ping", Value: 1}}, false))
	require.True(t, ok)
	assert.Equal(t, "ping", c.String())
	_, ok = command(opMsgOf(t, bson.D{{Key: "hello", Value: 1}}, false))
	assert.False(t, ok, "handshakes and monitoring are not counted")
}

func TestDeltaAndSorted(t *testing.T) {
	a, b := Command{"find", "links"}, Command{"aggregate", "claims"}
	d := Delta(map[Command]int64{a: 2}, map[Command]int64{a: 5, b: 5})
	assert.Equal(t, map[Command]int64{a: 3, b: 5}, d)
	assert.Equal(t, []Command{b, a}, Sorted(d))
}
