// Copyright 2021 FerretDB Inc.
//
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//
//     http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
// See the License for the specific language governing permissions and
// limitations under the License.

package fsql

import (
	"container/list"
	"context"
	"database/sql"
	"strings"
	"sync"
)

// Not upstream (PATCHES.md, 13).
//
// Every Query and Exec of a *sql.DB makes the driver prepare its statement and finalize it
// afterwards: for SQLite, parsing and planning the SQL again on every call, a quarter of a
// small insert's CPU time. A *sql.Stmt is prepared once per connection and kept
// (modernc.org/sqlite keeps the SQLite statement of a prepared driver statement and resets
// it between runs), so DB keeps one per query text, a bounded number of the most recently
// used.
//
// SQLite statements are prepared with sqlite3_prepare_v2, which prepares a statement again
// by itself when the schema changed since (CREATE, DROP, ALTER, a rebuilt index), so a kept
// statement never runs against a stale schema.

// stmtCacheSize bounds the statements a DB keeps (each one prepared on at most every
// connection of the pool); 0 disables the cache (tests compare both).
var stmtCacheSize = 256

// stmtCache keeps the *sql.Stmt of recently used query texts of one *sql.DB.
//
// It is safe for concurrent use. A statement evicted, or the cache closed, while callers
// still hold it is closed when the last of them releases it.
//
// Statements are closed by a goroutine of their own (closeStmt): closing a *sql.Stmt
// takes the lock of every connection it was prepared on, which a call running on that
// connection holds, and such a call may be waiting (busy_timeout, 10 s) for the write
// lock of a transaction whose own Exec is the one closing the statement.
type stmtCache struct {
	db *sql.DB

	mu      sync.Mutex
	entries map[string]*list.Element // of *cachedStmt
	lru     list.List                // front: most recently used
	size    int
	pending map[string]bool // query texts being prepared by acquireInTx
	closed  bool
	stats   StmtCacheStats
}

// cachedStmt is a cache entry.
type cachedStmt struct {
	query   string
	stmt    *sql.Stmt
	refs    int  // callers holding stmt
	evicted bool // no longer in the cache: closed when refs drops to 0
}

// StmtCacheStats counts what a DB's statement cache did.
type StmtCacheStats struct {
	Hits      int64 // calls served by a kept statement (including the call that prepared it)
	Prepares  int64 // statements prepared and kept
	Evictions int64 // statements dropped to stay within the bound
	Uncached  int64 // calls run without a kept statement (not cacheable, or prepare failed)
}

// newStmtCache returns a cache for db, or nil if caching is disabled.
func newStmtCache(db *sql.DB) *stmtCache {
	if stmtCacheSize <= 0 {
		return nil
	}

	return &stmtCache{
		db:      db,
		entries: make(map[string]*list.Element),
		pending: make(map[string]bool),
		size:    stmtCacheSize,
	}
}

// cacheable reports whether query is a statement worth keeping: data queries and changes,
// not schema changes, pragmas, transaction control or EXPLAIN, which run once or rarely.
func cacheable(query string) bool {
	q := strings.TrimLeft(query, " \t\r\n")
	if len(q) < 6 {
		return false
	}

	switch strings.ToUpper(q[:6]) {
	case "SELECT", "INSERT", "UPDATE", "DELETE":
		return true
	default:
		return false
	}
}

// acquire returns the kept statement for query, preparing it if needed, or nil if the call
// should run uncached. A non-nil result must be given back with release.
//
// The caller must hold no connection of the pool (not in a transaction): preparing takes
// one. A transaction uses acquireInTx.
func (c *stmtCache) acquire(ctx context.Context, query string) *cachedStmt {
	if e, miss := c.lookup(query); e != nil || !miss {
		return e
	}

	// prepare outside the lock: it takes a connection, which may wait
	stmt, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		// run it uncached, so that the caller gets exactly the error it got before
		c.mu.Lock()
		c.stats.Uncached++
		c.mu.Unlock()

		return nil
	}

	return c.add(query, stmt, true)
}

// acquireInTx is acquire for a caller inside a transaction, which holds one of the pool's
// connections: it must not wait for another one (with every connection in a transaction,
// or the single one of an in-memory database, it would wait forever). On a miss the call
// runs uncached and the statement is prepared by a goroutine of its own, which waits for a
// connection as long as it takes; later calls find it.
func (c *stmtCache) acquireInTx(query string) *cachedStmt {
	e, miss := c.lookup(query)
	if e != nil || !miss {
		return e
	}

	c.mu.Lock()
	defer c.mu.Unlock()

	c.stats.Uncached++

	if c.closed || c.pending[query] {
		return nil
	}

	c.pending[query] = true

	go func() {
		stmt, err := c.db.PrepareContext(context.Background(), query)

		c.mu.Lock()
		delete(c.pending, query)
		c.mu.Unlock()

		if err == nil {
			c.add(query, stmt, false)
		}
	}()

	return nil
}

// lookup returns the kept statement for query (acquired), or whether it is worth preparing.
func (c *stmtCache) lookup(query string) (e *cachedStmt, miss bool) {
	if c == nil {
		return nil, false
	}

	c.mu.Lock()
	defer c.mu.Unlock()

	if c.closed {
		return nil, false
	}

	if !cacheable(query) {
		c.stats.Uncached++
		return nil, false
	}

	el, ok := c.entries[query]
	if !ok {
		return nil, true
	}

	e = el.Value.(*cachedStmt)
	e.refs++
	c.lru.MoveToFront(el)
	c.stats.Hits++

	return e, false
}

// add keeps stmt, prepared for query, and returns its entry, acquired if acquired is set
// (then the caller must release it; nil if the cache was closed meanwhile).
func (c *stmtCache) add(query string, stmt *sql.Stmt, acquired bool) *cachedStmt {
	c.mu.Lock()
	defer c.mu.Unlock()

	if c.closed {
		closeStmt(stmt)
		return nil
	}

	el, ok := c.entries[query]
	if ok {
		// another caller prepared it meanwhile: use theirs
		closeStmt(stmt)
		c.lru.MoveToFront(el)
	} else {
		el = c.lru.PushFront(&cachedStmt{query: query, stmt: stmt})
		c.entries[query] = el
		c.stats.Prepares++

		for c.lru.Len() > c.size {
			c.evictLocked(c.lru.Back())
			c.stats.Evictions++
		}
	}

	e := el.Value.(*cachedStmt)
	if !acquired {
		return nil
	}

	e.refs++
	c.stats.Hits++

	return e
}

// release gives back a statement acquire returned.
//
// database/sql lets rows returned by the statement outlive its Close (the driver statement
// is closed when its connection is put back), so a caller releases it right after the call.
func (c *stmtCache) release(e *cachedStmt) {
	c.mu.Lock()
	defer c.mu.Unlock()

	e.refs--
	if e.evicted && e.refs == 0 {
		closeStmt(e.stmt)
	}
}

// evictLocked drops the entry of el from the cache, closing its statement unless a caller
// still holds it (then release closes it).
func (c *stmtCache) evictLocked(el *list.Element) {
	e := el.Value.(*cachedStmt)
	c.lru.Remove(el)
	delete(c.entries, e.query)

	e.evicted = true
	if e.refs == 0 {
		closeStmt(e.stmt)
	}
}

// closeStmt closes s without waiting (see stmtCache).
func closeStmt(s *sql.Stmt) {
	go func() { _ = s.Close() }()
}

// close drops every statement, and closes those no caller holds before it returns;
// later calls run uncached.
func (c *stmtCache) close() {
	if c == nil {
		return
	}

	var unused []*sql.Stmt

	c.mu.Lock()

	c.closed = true

	for c.lru.Len() > 0 {
		el := c.lru.Back()
		e := el.Value.(*cachedStmt)
		c.lru.Remove(el)
		delete(c.entries, e.query)

		e.evicted = true
		if e.refs == 0 {
			unused = append(unused, e.stmt)
		}
	}

	c.mu.Unlock()

	for _, s := range unused {
		_ = s.Close()
	}
}

// Stats returns what the cache did so far.
func (c *stmtCache) Stats() StmtCacheStats {
	if c == nil {
		return StmtCacheStats{}
	}

	c.mu.Lock()
	defer c.mu.Unlock()

	return c.stats
}
