package feed_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnersupport/api/internal/domain"
	"github.com/partnersupport/api/internal/feed"
	"github.com/partnersupport/api/internal/testenv"
)

// memSource is a dense ledger in memory for one scope. It counts the reads of
// catching-up subscribers (the only reads with an upper bound) and how many run at once,
// and can hold them until gate is closed.
type memSource struct {
	mu       sync.Mutex
	events   []domain.Event
	catchUps atomic.Int64
	inFlight atomic.Int64
	peak     atomic.Int64
	gate     chan struct{}
	// reads counts every Events call; polls the hub's ScopesChangedSince calls.
	reads, polls atomic.Int64
	changed      time.Time // when the ledger last grew (another instance's head save)
}

// ScopesChangedSince answers the one scope when the ledger grew at or after since.
func (m *memSource) ScopesChangedSince(_ context.Context, since time.Time) ([]string, error) {
	m.polls.Add(1)
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.changed.IsZero() && !m.changed.Before(since) {
		return []string{"t"}, nil
	}
	return nil, nil
}

func (m *memSource) append(n int) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	for range n {
		m.events = append(m.events, domain.Event{TenantID: "t", Seq: int64(len(m.events) + 1)})
	}
	m.changed = time.Now()
	return int64(len(m.events))
}

func (m *memSource) Events(ctx context.Context, scope string, after, before int64, limit int, desc bool) ([]domain.Event, error) {
	m.reads.Add(1)
	if before != 0 {
		m.catchUps.Add(1)
		n := m.inFlight.Add(1)
		defer m.inFlight.Add(-1)
		for p := m.peak.Load(); n > p && !m.peak.CompareAndSwap(p, n); p = m.peak.Load() {
		}
		if m.gate != nil {
			select {
			case <-m.gate:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []domain.Event
	for _, e := range m.events {
		if e.Seq > after && (before == 0 || e.Seq < before) {
			out = append(out, e)
			if len(out) == limit {
				break
			}
		}
	}
	return out, nil
}

func (m *memSource) LastEvent(ctx context.Context, scope string) (domain.Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.events) == 0 {
		return domain.Event{}, nil
	}
	return m.events[len(m.events)-1], nil
}

// receive collects the seqs a subscription from after gets, until it has upTo (or the
// deadline passes).
func receive(t *testing.T, s *feed.Subscription, after, upTo int64) []int64 {
	t.Helper()
	var got []int64
	deadline := time.After(20 * time.Second)
	for (len(got) == 0 && after < upTo) || (len(got) > 0 && got[len(got)-1] < upTo) {
		select {
		case e, ok := <-s.C:
			if !ok {
				t.Errorf("subscription closed at %v: %v", got, s.Err())
				return got
			}
			got = append(got, e.Seq)
		case <-deadline:
			t.Errorf("timed out with %v, waiting for %d", got, upTo)
			return got
		}
	}
	return got
}

func seqs(after, upTo int64) []int64 {
	var s []int64
	for q := after + 1; q <= upTo; q++ {
		s = append(s, q)
	}
	return s
}

// R19 live: subscribers joining from recent cursors catch up from the tailer's ring, not
// the store, and get exactly the events after their cursor.
func TestFeed_R19_RecentCursorsCatchUpFromMemoryNotTheStore(t *testing.T) {
	src := &memSource{}
	src.append(10)
	hub := feed.NewHub(src, feed.Options{Poll: time.Hour, Buffer: 64, Ring: 100})
	defer hub.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	live, err := hub.Subscribe(ctx, "t", -1, nil, nil) // from now: the tailer starts at 10
	require.NoError(t, err)
	last := src.append(40)
	hub.Wake("t")
	require.Equal(t, seqs(10, last), receive(t, live, 10, last))

	for i := range 50 {
		after := 10 + int64(i%40)
		s, err := hub.Subscribe(ctx, "t", after, nil, nil)
		require.NoError(t, err)
		assert.Equal(t, seqs(after, last), receive(t, s, after, last), "from %d", after)
	}
	assert.Zero(t, src.catchUps.Load(), "every cursor was in the ring")

	// A cursor older than the ring (the tailer started at 10) reads the store.
	s, err := hub.Subscribe(ctx, "t", 3, nil, nil)
	require.NoError(t, err)
	assert.Equal(t, seqs(3, last), receive(t, s, 3, last))
	assert.Positive(t, src.catchUps.Load())
}

// R19 live: the ring keeps only the newest events; a cursor it has forgotten still gets
// every event, from the store, with no gap and no duplicate.
func TestFeed_R19_ForgottenCursorsCatchUpFromTheStoreWithoutGaps(t *testing.T) {
	src := &memSource{}
	hub := feed.NewHub(src, feed.Options{Poll: time.Hour, Buffer: 1024, Ring: 8})
	defer hub.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	live, err := hub.Subscribe(ctx, "t", -1, nil, nil)
	require.NoError(t, err)
	last := src.append(100)
	hub.Wake("t")
	require.Equal(t, seqs(0, last), receive(t, live, 0, last))

	for _, after := range []int64{0, 50, 83, 84, 85, 91, 92, 99} {
		before := src.catchUps.Load()
		s, err := hub.Subscribe(ctx, "t", after, nil, nil)
		require.NoError(t, err)
		assert.Equal(t, seqs(after, last), receive(t, s, after, last), "from %d", after)
		// The ring holds between 8 and 16 of the newest events: 92 and later are in it.
		if after >= 92 {
			assert.Equal(t, before, src.catchUps.Load(), "from %d: in the ring", after)
		}
		if after <= 83 {
			assert.Greater(t, src.catchUps.Load(), before, "from %d: older than the ring", after)
		}
	}
}

// R19 live, raced: subscribers join from random cursors (in the ring and older) while
// events are appended; each gets every event after its cursor once, in order.
func TestFeed_R19_ManySubscribersJoiningWhileEventsArriveMissNothing(t *testing.T) {
	src := &memSource{}
	src.append(20)
	hub := feed.NewHub(src, feed.Options{Poll: time.Millisecond, Fallback: time.Millisecond, Buffer: 4, Ring: 16, Stall: 10 * time.Second})
	defer hub.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	const subscribers, events = 64, 300
	var joined atomic.Int64
	var wg sync.WaitGroup
	results := make([][]int64, subscribers)
	afters := make([]int64, subscribers)
	final := int64(20 + events)
	for i := range subscribers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			src.mu.Lock()
			now := int64(len(src.events))
			src.mu.Unlock()
			afters[i] = rand.Int64N(now + 1)
			s, err := hub.Subscribe(ctx, "t", afters[i], nil, nil)
			joined.Add(1)
			if !assert.NoError(t, err) {
				return
			}
			results[i] = receive(t, s, afters[i], final)
		}()
	}
	for range events {
		src.append(1)
		hub.Wake("t")
	}
	testenv.WaitFor(t, 20*time.Second, "every subscriber to join", func() bool { return joined.Load() == subscribers })
	wg.Wait()
	for i, got := range results {
		assert.Equal(t, seqs(afters[i], final), got, fmt.Sprintf("subscriber %d from %d", i, afters[i]))
	}
}

// A burst of subscribers that must read the store reads it a few at a time, so the
// store client's pool stays free for writes (a reconnect storm once timed out creates).
func TestFeed_StoreCatchUpsAreBounded(t *testing.T) {
	src := &memSource{gate: make(chan struct{})}
	src.append(50)
	hub := feed.NewHub(src, feed.Options{Poll: time.Hour, Buffer: 64, CatchUpReads: 2})
	defer hub.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var subs []*feed.Subscription
	for range 20 {
		s, err := hub.Subscribe(ctx, "t", 0, nil, nil)
		require.NoError(t, err)
		subs = append(subs, s)
	}
	testenv.WaitFor(t, 10*time.Second, "two catch-up reads to be waiting", func() bool { return src.inFlight.Load() == 2 })
	assert.EqualValues(t, 2, src.peak.Load(), "no more than CatchUpReads at once")
	close(src.gate)
	for _, s := range subs {
		assert.Equal(t, seqs(0, 50), receive(t, s, 0, 50))
	}
	assert.EqualValues(t, 2, src.peak.Load())
}

// Idle subscriptions, however many tenants they watch, send the store one query per poll
// for all of them (which tenants changed?) and no read of any tenant's events.
func TestFeed_IdleSubscriptionsReadNoEvents(t *testing.T) {
	src := &memSource{}
	hub := feed.NewHub(src, feed.Options{Poll: time.Millisecond, Fallback: time.Hour})
	defer hub.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i := range 100 {
		_, err := hub.Subscribe(ctx, fmt.Sprintf("s%d", i), 0, nil, nil)
		require.NoError(t, err)
	}
	readsBefore, pollsBefore := src.reads.Load(), src.polls.Load()
	testenv.WaitFor(t, 20*time.Second, "50 polls of the hub", func() bool { return src.polls.Load() >= pollsBefore+50 })
	assert.Equal(t, readsBefore, src.reads.Load(), "idle tailers read their events")
}

// Events another instance sequences (no Wake here) reach subscribers through the hub's
// poll of changed ledgers, well before any tailer's fallback poll.
func TestFeed_AnotherInstancesEventsArriveThroughThePoll(t *testing.T) {
	src := &memSource{}
	src.append(3)
	hub := feed.NewHub(src, feed.Options{Poll: time.Millisecond, Fallback: time.Hour, Buffer: 64})
	defer hub.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := hub.Subscribe(ctx, "t", 3, nil, nil)
	require.NoError(t, err)
	src.append(5) // sequenced elsewhere: this hub is not woken
	assert.Equal(t, seqs(3, 8), receive(t, s, 3, 8))
}

// Wakes (from this instance's events and from the hub's poll) race the last subscriber of
// a scope leaving, which closes its tailer: a wake never lands on a closed tailer.
func TestFeed_WakeRacesTheLastSubscriberLeaving(t *testing.T) {
	src := &memSource{}
	hub := feed.NewHub(src, feed.Options{Poll: time.Hour, Fallback: time.Hour})
	defer hub.Close()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
					hub.Wake("t")
				}
			}
		})
	}
	for range 300 {
		ctx, cancel := context.WithCancel(context.Background())
		_, err := hub.Subscribe(ctx, "t", 0, nil, nil)
		require.NoError(t, err)
		cancel()
	}
	testenv.WaitFor(t, 20*time.Second, "every subscriber to leave", func() bool { return hub.Subscribers() == 0 })
	close(stop)
	wg.Wait()
}

// Opens take turns, Opens at a time; one that waits OpenWait for its turn is answered the
// retryable UNAVAILABLE, and the next turn is free once an open ends.
func TestFeed_OpensTakeTurnsAndAWaitTooLongIsUnavailable(t *testing.T) {
	hub := feed.NewHub(&memSource{}, feed.Options{Poll: time.Hour, Opens: 2, OpenWait: 200 * time.Millisecond})
	defer hub.Close()
	ctx := context.Background()
	done1, err := hub.Admit(ctx)
	require.NoError(t, err)
	done2, err := hub.Admit(ctx)
	require.NoError(t, err)
	start := time.Now()
	_, err = hub.Admit(ctx)
	assert.Equal(t, domain.EUNAVAILABLE, domain.ErrorCode(err), "a third open while two are under way waits, then is refused: %v", err)
	assert.GreaterOrEqual(t, time.Since(start), 200*time.Millisecond, "after OpenWait")

	// A waiting open gets the turn an ending one frees.
	got := make(chan error, 1)
	go func() {
		done, err := hub.Admit(ctx)
		if err == nil {
			done()
		}
		got <- err
	}()
	done1()
	require.NoError(t, <-got)
	done2()

	// One whose client leaves stops waiting.
	done1, _ = hub.Admit(ctx)
	done2, _ = hub.Admit(ctx)
	defer done1()
	defer done2()
	gone, cancel := context.WithCancel(ctx)
	cancel()
	_, err = hub.Admit(gone)
	assert.ErrorIs(t, err, context.Canceled)
}
