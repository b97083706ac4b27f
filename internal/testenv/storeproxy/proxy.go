// Package storeproxy is a TCP proxy in front of a MongoDB wire-protocol server that counts
// the commands passing through it, by command name and collection. Benchmarks point the
// real application at it (through its MONGODB_URI) to see which store round trips a
// request costs, without changing the application's wiring.
package storeproxy

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"sort"
	"strings"
	"sync"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Opcodes: OP_MSG carries every command; OP_COMPRESSED wraps one when the URI asks for
// compression (then the command inside is not read, and it is counted as "compressed").
const (
	opMsg        = 2013
	opCompressed = 2012
)

// Proxy forwards connections to one upstream address and counts commands.
type Proxy struct {
	ln       net.Listener
	upstream string
	uri      string

	mu     sync.Mutex
	counts map[Command]int64
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
	closed bool
	// hold, when set, selects the commands held back until release is closed.
	hold    func(Command) bool
	release chan struct{}
	held    int
}

// Hold makes the proxy hold back every command that matches until Release: a store that
// stops answering those, to saturate a client's connection pool. Held counts them.
func (p *Proxy) Hold(match func(Command) bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hold, p.release = match, make(chan struct{})
}

// Release sends the held commands on, and holds no more.
func (p *Proxy) Release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.release != nil {
		close(p.release)
	}
	p.hold, p.release = nil, nil
}

// Holding reports whether commands are being held back (Hold without Release since).
func (p *Proxy) Holding() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hold != nil
}

// Held is how many commands are being held back right now.
func (p *Proxy) Held() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.held
}

// Command is one kind of command: its name and the collection it names ("" for
// database commands such as ping).
type Command struct {
	Name       string
	Collection string
}

// String is "name collection", or the name alone.
func (c Command) String() string {
	if c.Collection == "" {
		return c.Name
	}
	return c.Name + " " + c.Collection
}

// Start proxies the single host of a mongodb:// URI and returns a URI that reaches it
// through the proxy. A URI with several hosts or an SRV record is refused: the driver
// would discover the members and connect to them directly.
func Start(uri string) (*Proxy, error) {
	u, err := url.Parse(uri)
	if err != nil {
		return nil, fmt.Errorf("storeproxy: %w", err)
	}
	if u.Scheme != "mongodb" || strings.Contains(u.Host, ",") || u.Host == "" {
		return nil, fmt.Errorf("storeproxy: only a single-host mongodb:// URI can be proxied")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("storeproxy: %w", err)
	}
	p := &Proxy{ln: ln, upstream: u.Host, counts: map[Command]int64{}, conns: map[net.Conn]struct{}{}}
	pu := *u
	pu.Host = ln.Addr().String()
	q := pu.Query()
	q.Set("directConnection", "true")
	pu.RawQuery = q.Encode()
	if pu.Path == "" {
		pu.Path = "/"
	}
	p.uri = pu.String()
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// URI reaches the upstream server through the proxy.
func (p *Proxy) URI() string { return p.uri }

// Counts returns the commands counted so far.
func (p *Proxy) Counts() map[Command]int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[Command]int64, len(p.counts))
	for k, v := range p.counts {
		out[k] = v
	}
	return out
}

// Delta is after minus before, without zero entries.
func Delta(before, after map[Command]int64) map[Command]int64 {
	out := map[Command]int64{}
	for k, v := range after {
		if d := v - before[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

// Sorted lists the commands of m, most frequent first, then by name.
func Sorted(m map[Command]int64) []Command {
	out := make([]Command, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		if m[out[i]] != m[out[j]] {
			return m[out[i]] > m[out[j]]
		}
		return out[i].String() < out[j].String()
	})
	return out
}

// Close stops accepting, closes every connection and waits for the forwarders.
func (p *Proxy) Close() error {
	p.Release()
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	err := p.ln.Close()
	p.wg.Wait()
	return err
}

func (p *Proxy) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	for _, c := range cs {
		p.conns[c] = struct{}{}
	}
	return true
}

func (p *Proxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		delete(p.conns, c)
		_ = c.Close()
	}
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.upstream)
		if err != nil {
			_ = client.Close()
			continue
		}
		if !p.track(client, server) {
			_ = client.Close()
			_ = server.Close()
			return
		}
		p.wg.Add(2)
		go func() {
			defer p.wg.Done()
			_, _ = io.Copy(client, server)
			p.untrack(client, server)
		}()
		go func() {
			defer p.wg.Done()
			_ = p.forward(server, client)
			p.untrack(client, server)
		}()
	}
}

// forward copies whole messages from the client to the server, counting each command.
func (p *Proxy) forward(dst io.Writer, src io.Reader) error {
	var hdr [16]byte
	buf := make([]byte, 0, 4096)
	for {
		if _, err := io.ReadFull(src, hdr[:]); err != nil {
			return err
		}
		n := int(binary.LittleEndian.Uint32(hdr[0:4]))
		if n < 16 || n > 64<<20 {
			return errors.New("storeproxy: bad message length")
		}
		if cap(buf) < n {
			buf = make([]byte, n)
		}
		buf = buf[:n]
		copy(buf, hdr[:])
		if _, err := io.ReadFull(src, buf[16:]); err != nil {
			return err
		}
		if c, ok := command(buf); ok {
			p.mu.Lock()
			p.counts[c]++
			var wait chan struct{}
			if p.hold != nil && p.hold(c) {
				wait = p.release
				p.held++
			}
			p.mu.Unlock()
			if wait != nil {
				<-wait
				p.mu.Lock()
				p.held--
				p.mu.Unlock()
			}
		}
		if _, err := dst.Write(buf); err != nil {
			return err
		}
	}
}

// command reads the command of an OP_MSG. Connection handshakes and server monitoring
// (hello, isMaster) are not counted: the driver's command monitor does not see them
// either.
func command(msg []byte) (Command, bool) {
	switch binary.LittleEndian.Uint32(msg[12:16]) {
	case opMsg:
	case opCompressed:
		return Command{Name: "compressed"}, true
	default:
		return Command{}, false // OP_QUERY: only the legacy handshake
	}
	b := msg[20:] // after the header and flagBits
	for len(b) > 0 {
		kind := b[0]
		b = b[1:]
		if len(b) < 4 {
			return Command{}, false
		}
		size := int(binary.LittleEndian.Uint32(b[:4]))
		if size < 4 || size > len(b) {
			return Command{}, false
		}
		if kind == 0 {
			doc := bson.Raw(b[:size])
			elems, err := doc.Elements()
			if err != nil || len(elems) == 0 {
				return Command{}, false
			}
			c := Command{Name: elems[0].Key()}
			switch strings.ToLower(c.Name) {
			case "hello", "ismaster":
				return Command{}, false
			case "getmore":
				if v, err := doc.LookupErr("collection"); err == nil {
					c.Collection, _ = v.StringValueOK()
				}
			default:
				c.Collection, _ = elems[0].Value().StringValueOK()
			}
			return c, true
		}
		b = b[size:] // a document sequence (kind 1): its size includes itself
	}
	return Command{}, false
}
