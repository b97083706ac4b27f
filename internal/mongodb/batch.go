package mongodb

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Group commit. The writes of a create (its claim, its request, its outbox entry, its
// ledger event, the outbox entry's removal and the saved ledger head) are each one
// document, and concurrent creates write to the same collections. A batcher sends the
// writes that concurrent callers make to one collection as one command: the first
// caller's write goes at once, and whatever arrives while a command is in flight goes in
// the next one. On the embedded store every command costs a round trip, a handler and
// its own SQLite transaction, and writers wait for each other's transactions in a
// sleeping busy handler; one insert of many documents is one transaction.
//
// Nothing about a write changes: each document is still inserted, deleted or replaced
// on its own, under the same unique indexes (an unordered insertMany is a sequence of
// single-document inserts, each of which may fail on its own key), and each caller gets
// its own document's outcome, a duplicate key as ECONFLICT. A caller returns only once
// its write is acknowledged, so write order across one caller's calls is unchanged.

// write is one caller's single-document write in a batch.
type write struct {
	ctx  context.Context
	doc  any // the document (insert, replace) or the _id (delete)
	id   any // the _id (replace)
	err  error
	done chan struct{}
}

// batcher sends concurrent writes of one kind to one collection as one command each
// round: send gets at most max writes and sets each one's err.
type batcher struct {
	max  int
	send func(ctx context.Context, ws []*write)
	// lane, when set, is held while a command is sent: the batchers that share it take
	// turns (see writeLane).
	lane *sync.Mutex

	mu    sync.Mutex
	queue []*write
	busy  bool // a goroutine is sending; it sends until the queue is empty
}

// do queues w and waits for its outcome, or for ctx to end (then w may still be written:
// as with a single command whose context ends in flight, the outcome is unknown).
func (b *batcher) do(ctx context.Context, w *write) error {
	if err := ctx.Err(); err != nil {
		return mapErr("write", err)
	}
	w.ctx, w.done = ctx, make(chan struct{})
	b.mu.Lock()
	b.queue = append(b.queue, w)
	start := !b.busy
	b.busy = true
	b.mu.Unlock()
	if start {
		go b.run()
	}
	select {
	case <-w.done:
		return w.err
	case <-ctx.Done():
		return mapErr("write", ctx.Err()) // a deadline is UNAVAILABLE; the write may still land
	}
}

// run sends the queue, max writes per command, until it is empty.
func (b *batcher) run() {
	for {
		b.mu.Lock()
		n := min(len(b.queue), b.max)
		if n == 0 {
			b.queue, b.busy = nil, false
			b.mu.Unlock()
			return
		}
		ws := make([]*write, n)
		copy(ws, b.queue)
		b.queue = append(b.queue[:0:0], b.queue[n:]...)
		b.mu.Unlock()
		b.sendLive(ws)
	}
}

// sendLive sends the writes whose callers still wait, under a context that ends when
// every one of those callers has stopped waiting.
func (b *batcher) sendLive(ws []*write) {
	live := ws[:0]
	for _, w := range ws {
		if err := w.ctx.Err(); err != nil {
			w.err = mapErr("write", err) // never sent
			close(w.done)
			continue
		}
		live = append(live, w)
	}
	if len(live) == 0 {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	var waiting atomic.Int64
	waiting.Store(int64(len(live)))
	stops := make([]func() bool, len(live))
	for i, w := range live {
		stops[i] = context.AfterFunc(w.ctx, func() {
			if waiting.Add(-1) == 0 {
				cancel()
			}
		})
	}
	if b.lane != nil {
		b.lane.Lock()
	}
	b.send(ctx, live)
	if b.lane != nil {
		b.lane.Unlock()
	}
	for i, w := range live {
		stops[i]()
		close(w.done)
	}
	cancel()
}

// writeLane makes the batchers of a store on FerretDB take turns. SQLite admits one
// writer at a time, and FerretDB runs each write command in SQLite transactions: a second
// command that writes while one does waits in SQLite's busy handler, which sleeps 1, 2,
// 5... ms whatever the first one's remaining time (the modernc build has usleep). Taking
// turns in the client instead hands the store to the next batch as soon as one is done,
// and lets more writes gather in each batch meanwhile. MongoDB writes concurrently: no lane.
// (Writes of other processes, and this process's writes that are not batched, still meet
// in the busy handler.)
func writeLane(ferretDB bool) *sync.Mutex {
	if !ferretDB {
		return nil
	}
	return new(sync.Mutex)
}

// Batch sizes: an insert command of FerretDB inserts its documents in one transaction;
// its update command keeps each statement's read open until the command ends (one
// SQLite connection each, from a pool of 100), so replacements go in small batches.
const (
	maxInsertBatch  = 256
	maxDeleteBatch  = 256
	maxReplaceBatch = 8
)

// insertBatcher inserts documents into col, each as InsertOne would.
func insertBatcher(col *mongo.Collection, op string, lane *sync.Mutex) *batcher {
	return &batcher{max: maxInsertBatch, lane: lane, send: func(ctx context.Context, ws []*write) {
		if len(ws) == 1 {
			_, err := col.InsertOne(ctx, ws[0].doc)
			ws[0].err = mapErr(op, err)
			return
		}
		docs := make([]any, len(ws))
		for i, w := range ws {
			docs[i] = w.doc
		}
		_, err := col.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
		spread(op, ws, err)
	}}
}

// deleteBatcher deletes documents of col by _id, each as DeleteOne would.
func deleteBatcher(col *mongo.Collection, op string, lane *sync.Mutex) *batcher {
	return &batcher{max: maxDeleteBatch, lane: lane, send: func(ctx context.Context, ws []*write) {
		if len(ws) == 1 {
			_, err := col.DeleteOne(ctx, bson.D{{Key: "_id", Value: ws[0].doc}})
			ws[0].err = mapErr(op, err)
			return
		}
		models := make([]mongo.WriteModel, len(ws))
		for i, w := range ws {
			models[i] = mongo.NewDeleteOneModel().SetFilter(bson.D{{Key: "_id", Value: w.doc}})
		}
		_, err := col.BulkWrite(ctx, models, options.BulkWrite().SetOrdered(false))
		spread(op, ws, err)
	}}
}

// replaceBatcher upserts whole documents of col by _id, each as replace does. The
// embedded store answers an update command with one error for all its statements, so
// when a batch fails each write is retried on its own.
func replaceBatcher(col *mongo.Collection, op string, lane *sync.Mutex) *batcher {
	return &batcher{max: maxReplaceBatch, lane: lane, send: func(ctx context.Context, ws []*write) {
		if len(ws) > 1 {
			models := make([]mongo.WriteModel, len(ws))
			for i, w := range ws {
				models[i] = mongo.NewReplaceOneModel().SetFilter(bson.D{{Key: "_id", Value: w.id}}).SetReplacement(w.doc).SetUpsert(true)
			}
			if _, err := col.BulkWrite(ctx, models, options.BulkWrite().SetOrdered(false)); err == nil {
				return
			}
		}
		for _, w := range ws {
			w.err = replace(ctx, col, op, w.id, w.doc)
		}
	}}
}

// spread gives each write its outcome of one command over all of them: a write error
// names its write by index and is that write's alone, mapped as for a single command (a
// duplicate key is ECONFLICT); any other error is every write's, mapped as mapErr does.
func spread(op string, ws []*write, err error) {
	if err == nil {
		return
	}
	var bwe mongo.BulkWriteException
	if !errors.As(err, &bwe) {
		for _, w := range ws {
			w.err = mapErr(op, err)
		}
		return
	}
	failed := make([]bool, len(ws))
	for _, we := range bwe.WriteErrors {
		if we.Index < 0 || we.Index >= len(ws) {
			continue
		}
		failed[we.Index] = true
		ws[we.Index].err = mapErr(op, mongo.WriteException{WriteErrors: []mongo.WriteError{we.WriteError}})
	}
	for i, w := range ws {
		if !failed[i] && (bwe.WriteConcernError != nil || len(bwe.WriteErrors) == 0) {
			w.err = fmt.Errorf("mongodb: %s: %w", op, err) // written, but not as durably as asked
		}
	}
}
