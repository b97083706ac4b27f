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

// Not upstream (PATCHES.md, 13): the statement cache.

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// countingDriver is SQLite's driver, counting the statements database/sql prepares on its
// connections. Its connections do not offer SQLite's direct Query and Exec, so database/sql
// prepares (and closes) a statement for every call that is not made through a kept one:
// the count is the number of times SQLite parses and plans a statement.
type countingDriver struct {
	prepares atomic.Int64
}

var counting = new(countingDriver)

func init() {
	sql.Register("sqlite-counting", counting)
}

func (d *countingDriver) Open(name string) (driver.Conn, error) {
	c, err := new(sqlite.Driver).Open(name)
	if err != nil {
		return nil, err
	}

	return &countingConn{c: c, d: d}, nil
}

type countingConn struct {
	c driver.Conn
	d *countingDriver
}

func (c *countingConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *countingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	c.d.prepares.Add(1)
	return c.c.(driver.ConnPrepareContext).PrepareContext(ctx, query)
}

func (c *countingConn) Close() error { return c.c.Close() }

func (c *countingConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *countingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.c.(driver.ConnBeginTx).BeginTx(ctx, opts)
}

// status reads one of SQLite's counters of the connection.
func (c *countingConn) status(op sqlite.DBStatusOp) (int, error) {
	cur, _, err := c.c.(sqlite.DBStatus).Status(op, false)
	return cur, err
}

// openTestDB opens a new database file through countingDriver, with at most conns
// connections, and the statement cache of the given size (0: none).
func openTestDB(t *testing.T, conns, cacheSize int) *DB {
	t.Helper()

	prev := stmtCacheSize
	stmtCacheSize = cacheSize
	t.Cleanup(func() { stmtCacheSize = prev })

	uri := "file:" + filepath.Join(t.TempDir(), "test.sqlite") + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(wal)" // in this order, as FerretDB has it
	sqlDB, err := sql.Open("sqlite-counting", uri)
	require.NoError(t, err)

	sqlDB.SetMaxOpenConns(conns)
	sqlDB.SetMaxIdleConns(conns)

	db := WrapDB(sqlDB, "test", slog.Default())
	t.Cleanup(func() { _ = db.Close() })

	return db
}

// stmtMemory returns the memory SQLite uses for the statements kept on db's connection
// (db must have one connection).
func stmtMemory(t *testing.T, db *DB) int {
	t.Helper()

	conn, err := db.sqlDB.Conn(context.Background())
	require.NoError(t, err)

	defer conn.Close()

	var n int
	require.NoError(t, conn.Raw(func(dc any) error {
		n, err = dc.(*countingConn).status(sqlite.DBStatusStmtUsed)
		return err
	}))

	return n
}

func exec(t *testing.T, db *DB, query string, args ...any) {
	t.Helper()

	_, err := db.ExecContext(context.Background(), query, args...)
	require.NoError(t, err, query)
}

// rows returns every row of a query, each as a string.
func rows(t *testing.T, db *DB, query string, args ...any) []string {
	t.Helper()

	r, err := db.QueryContext(context.Background(), query, args...)
	require.NoError(t, err, query)

	defer r.Close()

	cols, err := r.sqlRows.Columns()
	require.NoError(t, err)

	var res []string

	for r.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))

		for i := range vals {
			ptrs[i] = &vals[i]
		}

		require.NoError(t, r.Scan(ptrs...))
		res = append(res, fmt.Sprint(vals...))
	}

	require.NoError(t, r.Err())

	return res
}

// insertInTx inserts the value v into t in a transaction, as the backend's InsertAll does.
func insertInTx(db *DB, v any) error {
	return db.InTransaction(context.Background(), func(tx *Tx) error {
		_, err := tx.ExecContext(context.Background(), `INSERT INTO t (a) VALUES (?)`, v)
		return err
	})
}

// waitFor waits until cond holds, for at most 10 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()

	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10 s")
		}

		time.Sleep(time.Millisecond)
	}
}

// workload runs the same statements (inserts in and out of transactions, queries, a delete,
// an update, a failing insert) and returns what they read.
func workload(t *testing.T, db *DB) []string {
	t.Helper()

	exec(t, db, `CREATE TABLE t (a INTEGER, b TEXT)`)
	exec(t, db, `CREATE UNIQUE INDEX t_a ON t (a)`)

	for i := range 50 {
		if i%2 == 0 {
			exec(t, db, `INSERT INTO t (a, b) VALUES (?, ?)`, i, fmt.Sprint("v", i))
		} else {
			require.NoError(t, insertInTx(db, i))
		}
	}

	err := insertInTx(db, 7)
	var se *sqlite.Error
	require.True(t, errors.As(err, &se), "%v", err)
	assert.Equal(t, sqlite3.SQLITE_CONSTRAINT_UNIQUE, se.Code())

	exec(t, db, `UPDATE t SET b = ? WHERE a = ?`, "updated", 3)
	exec(t, db, `DELETE FROM t WHERE a > ?`, 40)

	var res []string
	for i := range 45 {
		res = append(res, rows(t, db, `SELECT a, b FROM t WHERE a = ?`, i)...)
	}

	var n int
	require.NoError(t, db.QueryRowContext(context.Background(), `SELECT count(*) FROM t WHERE b IS NULL`).Scan(&n))
	res = append(res, fmt.Sprint("nulls ", n))

	return res
}

func TestStmtCacheSameResults(t *testing.T) {
	uncached := workload(t, openTestDB(t, 4, 0))

	db := openTestDB(t, 4, 256)
	cached := workload(t, db)

	assert.Equal(t, uncached, cached)
	assert.Len(t, cached, 42)

	stats := db.StmtCacheStats()
	assert.Positive(t, stats.Hits)
	assert.Zero(t, stats.Evictions)
}

// TestStmtCachePreparesOnce fails if a statement is parsed and planned again on every call.
func TestStmtCachePreparesOnce(t *testing.T) {
	const calls = 200

	for _, size := range []int{0, 256} {
		t.Run(fmt.Sprint("size=", size), func(t *testing.T) {
			db := openTestDB(t, 1, size)
			exec(t, db, `CREATE TABLE t (a INTEGER, b TEXT)`)

			// an insert in a transaction is prepared by another goroutine after its first
			// use (that call runs uncached); wait for it
			require.NoError(t, insertInTx(db, -1))
			if size > 0 {
				waitFor(t, func() bool { return db.StmtCacheStats().Prepares == 1 })
			}

			before := counting.prepares.Load()

			for i := range calls {
				exec(t, db, `INSERT INTO t (a, b) VALUES (?, ?)`, i, "x")
				require.NoError(t, insertInTx(db, i))
				assert.Len(t, rows(t, db, `SELECT a FROM t WHERE a = ?`, i), 2)
			}

			prepares := counting.prepares.Load() - before
			stats := db.StmtCacheStats()

			if size == 0 {
				assert.EqualValues(t, 3*calls, prepares)
				assert.Zero(t, stmtMemory(t, db), "no statement is kept")

				return
			}

			// the three statements, prepared once each on the one connection
			assert.EqualValues(t, 2, prepares)
			assert.EqualValues(t, 3, stats.Prepares)
			assert.EqualValues(t, 3*calls, stats.Hits)

			// and SQLite keeps them prepared between calls
			assert.Positive(t, stmtMemory(t, db))
		})
	}
}

// TestStmtCacheSchemaChanges checks that a kept statement follows every schema change made
// between its uses (SQLite prepares it again), as the statements of an uncached DB do.
func TestStmtCacheSchemaChanges(t *testing.T) {
	for _, size := range []int{0, 256} {
		t.Run(fmt.Sprint("size=", size), func(t *testing.T) {
			db := openTestDB(t, 1, size)
			ctx := context.Background()

			const ins = `INSERT INTO t (a) VALUES (?)`
			const sel = `SELECT * FROM t WHERE a = ? ORDER BY 1`

			exec(t, db, `CREATE TABLE t (a INTEGER)`)
			exec(t, db, ins, 1)
			require.NoError(t, insertInTx(db, 1))
			assert.Equal(t, []string{"1", "1"}, rows(t, db, sel, 1))

			// a unique index created after the insert was prepared: the insert checks it
			exec(t, db, `DELETE FROM t WHERE a = ?`, 1)
			exec(t, db, `CREATE UNIQUE INDEX t_a ON t (a)`)
			exec(t, db, ins, 1)
			_, err := db.ExecContext(ctx, ins, 1)
			require.Error(t, err)
			require.Error(t, insertInTx(db, 1))

			// the index rebuilt on another expression in a transaction, as upgradeIndexes
			// (PATCHES.md, 3) does: the new one is the one checked
			require.NoError(t, db.InTransaction(ctx, func(tx *Tx) error {
				if _, err := tx.ExecContext(ctx, `DROP INDEX t_a`); err != nil {
					return err
				}
				_, err := tx.ExecContext(ctx, `CREATE UNIQUE INDEX t_a ON t (a % 10)`)
				return err
			}))
			_, err = db.ExecContext(ctx, ins, 11)
			require.Error(t, err, "11 collides with 1 in the rebuilt index")
			exec(t, db, ins, 2)

			// dropped: duplicates go in again
			exec(t, db, `DROP INDEX t_a`)
			exec(t, db, ins, 2)
			require.NoError(t, insertInTx(db, 2))
			assert.Equal(t, []string{"2", "2", "2"}, rows(t, db, sel, 2))

			// a column added: SELECT * returns it
			exec(t, db, `ALTER TABLE t ADD COLUMN b TEXT DEFAULT 'b'`)
			assert.Equal(t, []string{"2b", "2b", "2b"}, rows(t, db, sel, 2))

			// the table dropped: the statements fail as uncached ones do
			exec(t, db, `DROP TABLE t`)
			_, err = db.QueryContext(ctx, sel, 2)
			require.ErrorContains(t, err, "no such table")
			_, err = db.ExecContext(ctx, ins, 2)
			require.ErrorContains(t, err, "no such table")
			require.ErrorContains(t, insertInTx(db, 2), "no such table")

			// and created again with other columns: they run on the new table
			exec(t, db, `CREATE TABLE t (x TEXT, a INTEGER)`)
			exec(t, db, ins, 3)
			require.NoError(t, insertInTx(db, 3))
			assert.Equal(t, []string{"<nil> 3", "<nil> 3"}, rows(t, db, sel, 3))
		})
	}
}

// TestStmtCacheConcurrent uses a cache smaller than the statements used from many
// goroutines, so that statements are evicted while others use them (run with -race).
func TestStmtCacheConcurrent(t *testing.T) {
	db := openTestDB(t, 4, 3)
	exec(t, db, `CREATE TABLE t (g INTEGER, a INTEGER)`)

	const goroutines, calls = 8, 60

	var wg sync.WaitGroup

	for g := range goroutines {
		wg.Add(1)

		go func() {
			defer wg.Done()

			ctx := context.Background()

			for i := range calls {
				// 6 query texts, 2 of them per goroutine parity
				var err error
				if i%2 == 0 {
					_, err = db.ExecContext(ctx, fmt.Sprintf(`INSERT INTO t (g, a) VALUES (?, ?) -- %d`, g%3), g, i)
				} else {
					err = db.InTransaction(ctx, func(tx *Tx) error {
						_, err := tx.ExecContext(ctx, fmt.Sprintf(`INSERT INTO t (g, a) VALUES (?, ?) -- tx %d`, g%3), g, i)
						return err
					})
				}

				if !assert.NoError(t, err, "insert %d, in a transaction: %v", i, i%2 == 1) {
					return
				}

				r, err := db.QueryContext(ctx, `SELECT a FROM t WHERE g = ? ORDER BY a`, g)
				if !assert.NoError(t, err) {
					return
				}

				var n int
				for r.Next() {
					n++
				}

				assert.NoError(t, r.Err())
				assert.NoError(t, r.Close())
				assert.Equal(t, i+1, n, "goroutine %d reads its own %d rows", g, i+1)
			}
		}()
	}

	wg.Wait()

	stats := db.StmtCacheStats()
	assert.Positive(t, stats.Evictions)
	assert.Positive(t, stats.Hits)

	var n int
	require.NoError(t, db.QueryRowContext(context.Background(), `SELECT count(*) FROM t`).Scan(&n))
	assert.Equal(t, goroutines*calls, n)
}

// TestStmtCacheClose checks that closing the DB closes the statements it kept.
func TestStmtCacheClose(t *testing.T) {
	db := openTestDB(t, 2, 256)
	exec(t, db, `CREATE TABLE t (a INTEGER)`)
	exec(t, db, `INSERT INTO t (a) VALUES (?)`, 1)
	assert.Len(t, rows(t, db, `SELECT a FROM t`), 1)

	var kept []*sql.Stmt
	for el := db.stmts.lru.Front(); el != nil; el = el.Next() {
		kept = append(kept, el.Value.(*cachedStmt).stmt)
	}

	require.Len(t, kept, 2)
	require.NoError(t, db.Close())

	for _, s := range kept {
		_, err := s.Exec()
		assert.ErrorContains(t, err, "statement is closed")
	}

	assert.Zero(t, db.stmts.lru.Len())
}

func TestCacheable(t *testing.T) {
	for q, want := range map[string]bool{
		`SELECT 1`:                    true,
		"\n  select a FROM t":         true,
		`INSERT INTO "t" VALUES (1)`:  true,
		`UPDATE t SET a = 1`:          true,
		`DELETE FROM t`:               true,
		`CREATE TABLE t (a)`:          false,
		`DROP INDEX i`:                false,
		`PRAGMA journal_mode`:         false,
		`EXPLAIN QUERY PLAN SELECT 1`: false,
		`BEGIN`:                       false,
		``:                            false,
	} {
		assert.Equal(t, want, cacheable(q), q)
	}
}
