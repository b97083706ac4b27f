// Package feed fans committed ledger events out to live subscribers, on every server
// instance, with no broker: each instance tails the database's sequenced events (the
// embedded store has no change streams), one tailer per tenant with subscribers, woken at
// once by events this instance sequences and polling for the others'. A subscriber first
// catches up from the store from its cursor, then is handed over to the tailer at the
// exact sequence number the tailer has reached: no gap, no duplicate. A subscriber that
// cannot keep up is dropped, never waited for.
package feed

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/partnersupport/api/internal/domain"
)

// Source is where sequenced events are read.
type Source interface {
	Events(ctx context.Context, scope string, after, before int64, limit int, desc bool) ([]domain.Event, error)
	LastEvent(ctx context.Context, scope string) (domain.Event, error)
}

// ErrSlow ends a subscription whose client fell behind.
var ErrSlow = errors.New("feed: subscriber fell behind and was dropped; resubscribe with the last cursor")

// Options tune a Hub.
type Options struct {
	// Poll is how often a tailer looks for events other instances sequenced.
	Poll time.Duration
	// Buffer is how many events may wait for a subscriber before it is dropped.
	Buffer int
	// Ring is how many recent events a tailer keeps for hand-over.
	Ring   int
	Logger *slog.Logger
}

// Hub is this instance's set of tailers.
type Hub struct {
	src  Source
	opt  Options
	mu   sync.Mutex
	tail map[string]*tailer
	ctx  context.Context
	stop context.CancelFunc
	wg   sync.WaitGroup
}

// NewHub returns a hub reading from src.
func NewHub(src Source, o Options) *Hub {
	if o.Poll <= 0 {
		o.Poll = 100 * time.Millisecond
	}
	if o.Buffer <= 0 {
		o.Buffer = 32
	}
	if o.Ring <= 0 {
		o.Ring = 1024
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Hub{src: src, opt: o, tail: map[string]*tailer{}, ctx: ctx, stop: cancel}
}

// Close stops every tailer; open subscriptions end.
func (h *Hub) Close() {
	h.stop()
	h.wg.Wait()
}

// Wake tells the scope's tailer, if any, that this instance just sequenced an event.
func (h *Hub) Wake(scope string) {
	h.mu.Lock()
	t := h.tail[scope]
	h.mu.Unlock()
	if t != nil {
		select {
		case t.wake <- struct{}{}:
		default:
		}
	}
}

// Subscription is one subscriber's stream.
type Subscription struct {
	// C delivers the events in sequence order. It is closed when the subscription is
	// dropped for being slow (Err is then ErrSlow) or the hub closes.
	C      <-chan domain.Event
	c      chan domain.Event
	filter func(domain.Event) bool
	last   int64
	err    error
	onDrop func(error)
}

// Err tells why C was closed.
func (s *Subscription) Err() error { return s.err }

// Subscribe streams the scope's events with seq > after (after < 0: only new events)
// that pass filter, until ctx ends. onDrop, if set, is called when the subscription is
// dropped (slow client, hub closing).
func (h *Hub) Subscribe(ctx context.Context, scope string, after int64, filter func(domain.Event) bool, onDrop func(error)) (*Subscription, error) {
	if filter == nil {
		filter = func(domain.Event) bool { return true }
	}
	t, err := h.tailer(ctx, scope)
	if err != nil {
		return nil, err
	}
	s := &Subscription{c: make(chan domain.Event, h.opt.Buffer), filter: filter, onDrop: onDrop}
	s.C = s.c
	if after < 0 {
		t.mu.Lock()
		after = t.last
		t.mu.Unlock()
	}
	s.last = after
	// Catch up and hand over in the background, so the resolver returns at once.
	go func() {
		if err := h.catchUp(ctx, t, s); err != nil {
			t.release(s)
			if ctx.Err() == nil {
				h.opt.Logger.Warn("feed: catch-up failed", "scope", scope, "err", err)
				s.err = err
				close(s.c)
			}
			return
		}
		go func() { <-ctx.Done(); t.release(s) }()
	}()
	return s, nil
}

// catchUp sends the events after s.last from the store (blocking: a slow reader slows
// only itself), then registers s with the tailer once nothing is left between them.
func (h *Hub) catchUp(ctx context.Context, t *tailer, s *Subscription) error {
	for {
		t.mu.Lock()
		if t.last <= s.last {
			t.subs[s] = struct{}{} // hand over: the tailer sends everything after t.last
			t.mu.Unlock()
			return nil
		}
		target := t.last
		t.mu.Unlock()
		for s.last < target {
			evs, err := h.src.Events(ctx, t.scope, s.last, target+1, 256, false)
			if err != nil {
				return err
			}
			if len(evs) == 0 {
				return errors.New("feed: events missing below the tailer's position")
			}
			for _, e := range evs {
				if s.filter(e) {
					select {
					case s.c <- e:
					case <-ctx.Done():
						return ctx.Err()
					}
				}
				s.last = e.Seq
			}
		}
	}
}

// tailer follows one scope's sequenced events.
type tailer struct {
	h     *Hub
	scope string
	wake  chan struct{}
	mu    sync.Mutex
	last  int64
	subs  map[*Subscription]struct{}
	users int // subscriptions holding the tailer, registered or catching up
}

func (h *Hub) tailer(ctx context.Context, scope string) (*tailer, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if t, ok := h.tail[scope]; ok {
		t.mu.Lock()
		t.users++
		t.mu.Unlock()
		return t, nil
	}
	if h.ctx.Err() != nil {
		return nil, errors.New("feed: closed")
	}
	last, err := h.src.LastEvent(ctx, scope)
	if err != nil && domain.ErrorCode(err) != domain.ENOTFOUND {
		return nil, err
	}
	t := &tailer{h: h, scope: scope, wake: make(chan struct{}, 1), last: last.Seq, subs: map[*Subscription]struct{}{}, users: 1}
	h.tail[scope] = t
	h.wg.Add(1)
	go t.run()
	return t, nil
}

// release unregisters s; the last one out stops the tailer.
func (t *tailer) release(s *Subscription) {
	t.h.mu.Lock()
	defer t.h.mu.Unlock()
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.subs[s]; ok {
		delete(t.subs, s)
	}
	t.users--
	if t.users == 0 && t.h.tail[t.scope] == t {
		delete(t.h.tail, t.scope)
		close(t.wake)
	}
}

func (t *tailer) run() {
	defer t.h.wg.Done()
	tick := time.NewTicker(t.h.opt.Poll)
	defer tick.Stop()
	for {
		select {
		case <-t.h.ctx.Done():
			t.dropAll(errors.New("feed: server shutting down"))
			return
		case _, ok := <-t.wake:
			if !ok {
				return
			}
		case <-tick.C:
		}
		t.poll()
	}
}

// poll reads the events after the tailer's position and delivers them.
func (t *tailer) poll() {
	for {
		t.mu.Lock()
		after := t.last
		t.mu.Unlock()
		evs, err := t.h.src.Events(t.h.ctx, t.scope, after, 0, 500, false)
		if err != nil {
			if t.h.ctx.Err() == nil {
				t.h.opt.Logger.Warn("feed: tailing failed; will retry", "scope", t.scope, "err", err)
			}
			return
		}
		if len(evs) == 0 {
			return
		}
		t.mu.Lock()
		for _, e := range evs {
			if e.Seq <= t.last {
				continue
			}
			t.last = e.Seq
			for s := range t.subs {
				if e.Seq <= s.last {
					continue
				}
				s.last = e.Seq
				if !s.filter(e) {
					continue
				}
				select {
				case s.c <- e:
				default:
					t.drop(s, ErrSlow) // never block the tailer for one slow reader
				}
			}
		}
		t.mu.Unlock()
		if len(evs) < 500 {
			return
		}
	}
}

// drop ends a registered subscription; t.mu is held.
func (t *tailer) drop(s *Subscription, why error) {
	delete(t.subs, s)
	s.err = why
	close(s.c)
	if s.onDrop != nil {
		go s.onDrop(why)
	}
}

func (t *tailer) dropAll(why error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for s := range t.subs {
		t.drop(s, why)
	}
}

// Subscribers counts the registered subscriptions (for tests and metrics).
func (h *Hub) Subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, t := range h.tail {
		t.mu.Lock()
		n += len(t.subs)
		t.mu.Unlock()
	}
	return n
}
