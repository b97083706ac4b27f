// Package feed fans committed ledger events out to live subscribers, on every server
// instance, with no broker: each instance tails the database's sequenced events (the
// embedded store has no change streams), one tailer per tenant with subscribers, woken at
// once by events this instance sequences and, for the others', by one poll per instance
// that asks the store which tenants' ledgers changed (every Poll, and only while someone
// subscribes): an idle subscription sends nothing to the store. A subscriber first
// catches up from the store from its cursor, then is handed over to the tailer at the
// exact sequence number the tailer has reached: no gap, no duplicate. A subscriber that
// cannot keep up is dropped, never waited for. Catching up reads the tailer's ring of
// recent events when it reaches back far enough, so a burst of subscribers from recent
// cursors (a reconnect storm) does not become a burst of store reads; the rest read the
// store, a few at a time, leaving the connection pool to the writes.
package feed

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/partnersupport/api/internal/domain"
)

// Source is where sequenced events are read.
type Source interface {
	Events(ctx context.Context, scope string, after, before int64, limit int, desc bool) ([]domain.Event, error)
	LastEvent(ctx context.Context, scope string) (domain.Event, error)
	// ScopesChangedSince lists the scopes whose ledger head was saved at or after since,
	// by any instance.
	ScopesChangedSince(ctx context.Context, since time.Time) ([]string, error)
}

// ErrSlow ends a subscription whose client fell behind.
var ErrSlow = errors.New("feed: subscriber fell behind and was dropped; resubscribe with the last cursor")

// Options tune a Hub.
type Options struct {
	// Poll is how often the hub asks the store which scopes other instances changed
	// (while any scope has subscribers), and wakes their tailers.
	Poll time.Duration
	// Skew is how far back each of those polls looks before the previous one started:
	// room for the instances' clocks to differ and for a save in flight during the poll.
	Skew time.Duration
	// Fallback is how often a tailer reads its scope's events when nothing woke it: the
	// safety net for a change whose ledger head another instance failed to save.
	Fallback time.Duration
	// Buffer is how many events may wait for a subscriber in the tailer's hands. A
	// subscriber whose buffer is full is not waited for: it leaves the tailer and catches
	// up from the store on its own, then rejoins.
	Buffer int
	// Stall is how long a subscriber may accept no event at all before it is dropped as
	// too slow.
	Stall time.Duration
	// Ring is how many recent events a tailer keeps in memory, so subscribers catch up
	// from it instead of the store when their cursor is recent.
	Ring int
	// CatchUpReads bounds how many subscribers read the store at once to catch up.
	CatchUpReads int
	// Opens bounds how many subscriptions are being opened at once (Admit): authorised
	// against the store and joined to their tailer. Default 2.
	Opens int
	// OpenWait bounds how long an open waits for its turn before it is answered
	// UNAVAILABLE (retryable). Default 60s.
	OpenWait time.Duration
	Logger   *slog.Logger
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
	// reads admits CatchUpReads store reads of catching-up subscribers at once.
	reads chan struct{}
	// opens admits Opens subscriptions being opened at once (Admit).
	opens chan struct{}
	// dropped counts subscriptions dropped for being too slow.
	dropped atomic.Int64
}

// Dropped counts the subscriptions dropped so far for being too slow.
func (h *Hub) Dropped() int64 { return h.dropped.Load() }

// NewHub returns a hub reading from src.
func NewHub(src Source, o Options) *Hub {
	if o.Poll <= 0 {
		o.Poll = 100 * time.Millisecond
	}
	if o.Skew <= 0 {
		o.Skew = 2 * time.Second
	}
	if o.Fallback <= 0 {
		o.Fallback = 10 * time.Second
	}
	if o.Buffer <= 0 {
		o.Buffer = 4
	}
	if o.Ring <= 0 {
		o.Ring = 256
	}
	if o.CatchUpReads <= 0 {
		o.CatchUpReads = 2
	}
	if o.Stall <= 0 {
		o.Stall = 10 * time.Second
	}
	if o.Opens <= 0 {
		o.Opens = 2
	}
	if o.OpenWait <= 0 {
		o.OpenWait = 60 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &Hub{src: src, opt: o, tail: map[string]*tailer{}, ctx: ctx, stop: cancel, reads: make(chan struct{}, o.CatchUpReads), opens: make(chan struct{}, o.Opens)}
	h.wg.Add(1)
	go h.watch()
	return h
}

// watch wakes the tailers of the scopes other instances changed: one store query every
// Poll for all of them, none while nobody subscribes.
func (h *Hub) watch() {
	defer h.wg.Done()
	tick := time.NewTicker(h.opt.Poll)
	defer tick.Stop()
	since := time.Now().Add(-h.opt.Skew)
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-tick.C:
		}
		start := time.Now()
		h.mu.Lock()
		idle := len(h.tail) == 0
		h.mu.Unlock()
		if idle {
			since = start.Add(-h.opt.Skew)
			continue
		}
		scopes, err := h.src.ScopesChangedSince(h.ctx, since)
		if err != nil {
			if h.ctx.Err() == nil {
				h.opt.Logger.Warn("feed: polling for changed ledgers failed; will retry", "err", err)
			}
			continue // since stays: the next poll looks back far enough
		}
		for _, scope := range scopes {
			h.Wake(scope)
		}
		since = start.Add(-h.opt.Skew)
	}
}

// Close stops every tailer; open subscriptions end.
func (h *Hub) Close() {
	h.stop()
	h.wg.Wait()
}

// Wake tells the scope's tailer, if any, that the scope's ledger has new events (this
// instance sequenced one, or the hub's poll saw another instance's).
func (h *Hub) Wake(scope string) {
	// Under h.mu: release closes a tailer's wake channel under it, and a send on a closed
	// channel panics. The send never blocks.
	h.mu.Lock()
	defer h.mu.Unlock()
	if t := h.tail[scope]; t != nil {
		select {
		case t.wake <- struct{}{}:
		default:
		}
	}
}

// Admit waits for the turn of one subscription to open, and returns the function that
// ends it; the caller authorises the subscriber (which reads the store) and subscribes
// in between. Opening subscriptions is bursty (a fleet of dashboards connecting, every
// client reconnecting after a deploy) while each open is a few short store reads: a
// burst queues here, Opens at a time, where waiting costs nothing, instead of in the
// store client's connection pool, where thousands of opens would hold every connection,
// make every other request wait, and be answered UNAVAILABLE after the pool's short
// wait themselves (issue 13's bound on that wait). An open that waits OpenWait for its
// turn is answered UNAVAILABLE, which the client retries.
func (h *Hub) Admit(ctx context.Context) (func(), error) {
	select {
	case h.opens <- struct{}{}: // the common case: no wait, no timer
		return func() { <-h.opens }, nil
	default:
	}
	wait := time.NewTimer(h.opt.OpenWait)
	defer wait.Stop()
	select {
	case h.opens <- struct{}{}:
		return func() { <-h.opens }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-h.ctx.Done():
		return nil, errors.New("feed: server shutting down")
	case <-wait.C:
		return nil, ErrBusy
	}
}

// ErrBusy answers an open that waited Options.OpenWait for its turn.
var ErrBusy = domain.Errorf(domain.EUNAVAILABLE, "", "too many subscriptions are opening at once; try again")

// Subscription is one subscriber's stream.
type Subscription struct {
	// C delivers the events in sequence order. It is closed when the subscription is
	// dropped for being slow (Err is then ErrSlow) or the hub closes.
	C      <-chan domain.Event
	c      chan domain.Event
	ctx    context.Context
	view   func(domain.Event) (domain.Event, bool)
	last   int64
	err    error
	onDrop func(error)
}

// Err tells why C was closed.
func (s *Subscription) Err() error { return s.err }

// Subscribe streams the scope's events with seq > after (after < 0: only new events),
// each as view shows it to this subscriber, and only those view keeps, on the replay and
// live alike, until ctx ends (nil: every event as it is). onDrop, if set, is called when
// the subscription is dropped (slow client, hub closing).
func (h *Hub) Subscribe(ctx context.Context, scope string, after int64, view func(domain.Event) (domain.Event, bool), onDrop func(error)) (*Subscription, error) {
	if view == nil {
		view = func(e domain.Event) (domain.Event, bool) { return e, true }
	}
	t, err := h.tailer(ctx, scope)
	if err != nil {
		return nil, err
	}
	s := &Subscription{c: make(chan domain.Event, h.opt.Buffer), ctx: ctx, view: view, onDrop: onDrop}
	s.C = s.c
	if after < 0 {
		t.mu.Lock()
		after = t.last
		t.mu.Unlock()
	}
	s.last = after
	context.AfterFunc(ctx, func() { t.release(s) })
	// Catch up and hand over in the background, so the resolver returns at once.
	go h.catchUpOrDrop(t, s)
	return s, nil
}

// catchUpOrDrop runs a subscriber's catch-up; a subscriber that accepts nothing for the
// stall timeout is dropped.
func (h *Hub) catchUpOrDrop(t *tailer, s *Subscription) {
	err := h.catchUp(t, s)
	if err == nil || s.ctx.Err() != nil {
		return
	}
	if errors.Is(err, ErrSlow) {
		h.dropped.Add(1)
		h.opt.Logger.Info("feed: dropped a subscriber that stopped reading", "scope", t.scope, "stall", h.opt.Stall.String())
	} else {
		h.opt.Logger.Warn("feed: catch-up failed", "scope", t.scope, "err", err)
	}
	s.err = err
	close(s.c) // no one else sends: s is not registered with the tailer
	if s.onDrop != nil {
		s.onDrop(err)
	}
}

// catchUp sends the events after s.last from the tailer's ring or the store (a slow
// reader slows only itself), then registers s with the tailer once nothing is left
// between them.
func (h *Hub) catchUp(t *tailer, s *Subscription) error {
	stall := time.NewTimer(h.opt.Stall)
	defer stall.Stop()
	for {
		t.mu.Lock()
		if t.last <= s.last {
			if s.ctx.Err() == nil {
				t.subs[s] = struct{}{} // hand over: the tailer sends everything after t.last
			}
			t.mu.Unlock()
			return nil
		}
		target := t.last
		recent := t.recentAfter(s.last)
		t.mu.Unlock()
		for s.last < target {
			evs := recent
			if evs == nil {
				var err error
				if evs, err = h.readEvents(s.ctx, t.scope, s.last, target); err != nil {
					return err
				}
				if len(evs) == 0 {
					return errors.New("feed: events missing below the tailer's position")
				}
			}
			recent = nil
			for _, e := range evs {
				if v, ok := s.view(e); ok {
					stall.Reset(h.opt.Stall)
					select {
					case s.c <- v:
					case <-s.ctx.Done():
						return s.ctx.Err()
					case <-h.ctx.Done():
						return errors.New("feed: server shutting down")
					case <-stall.C:
						return ErrSlow
					}
				}
				s.last = e.Seq
			}
		}
	}
}

// readEvents reads the events in (after, upTo] from the store, waiting for one of the
// hub's catch-up reads: a burst of subscribers queues here, not in the store client's
// connection pool, where it would make every other command wait (and time out).
func (h *Hub) readEvents(ctx context.Context, scope string, after, upTo int64) ([]domain.Event, error) {
	select {
	case h.reads <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-h.ctx.Done():
		return nil, errors.New("feed: server shutting down")
	}
	defer func() { <-h.reads }()
	return h.src.Events(ctx, scope, after, upTo+1, 256, false)
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
	// ring holds every event of the scope after ringFrom up to last, in order: the
	// events this tailer has read, at most 2×Ring of them.
	ring     []domain.Event
	ringFrom int64
}

// recentAfter returns the ring's events after seq (all of them up to t.last), or nil
// when the ring does not reach back to seq. t.mu is held; the slice is the caller's.
func (t *tailer) recentAfter(seq int64) []domain.Event {
	if seq < t.ringFrom {
		return nil
	}
	i, found := slices.BinarySearchFunc(t.ring, seq, func(e domain.Event, seq int64) int { return cmp.Compare(e.Seq, seq) })
	if found {
		i++ // seqs are unique: the one event at seq is not after it
	}
	return slices.Clone(t.ring[i:])
}

// remember adds an event the tailer just read to the ring; t.mu is held.
func (t *tailer) remember(e domain.Event) {
	t.ring = append(t.ring, e)
	if n := t.h.opt.Ring; len(t.ring) > 2*n {
		drop := len(t.ring) - n
		t.ringFrom = t.ring[drop-1].Seq
		t.ring = slices.Clone(t.ring[drop:])
	}
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
	t := &tailer{h: h, scope: scope, wake: make(chan struct{}, 1), last: last.Seq, ringFrom: last.Seq, subs: map[*Subscription]struct{}{}, users: 1}
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
	tick := time.NewTicker(t.h.opt.Fallback)
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
			t.remember(e)
			for s := range t.subs {
				if e.Seq <= s.last {
					continue
				}
				s.last = e.Seq
				v, ok := s.view(e)
				if !ok {
					continue
				}
				select {
				case s.c <- v:
				default:
					// Never block the tailer for one reader: this one leaves, catches up
					// from the store at its own pace, and rejoins (or is dropped if it
					// stalls).
					delete(t.subs, s)
					s.last = e.Seq - 1
					go t.h.catchUpOrDrop(t, s)
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
