package testenv

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var buildOnce struct {
	sync.Once
	path string
	err  error
	dir  string
}

// ServerBinaryEnv names a server binary built from this tree (make test builds one for
// every test binary); without it, ServerBinary builds one.
const ServerBinaryEnv = "PSAPI_TEST_SERVER_BIN"

// ServerBinary builds ./server once per test binary (without -race: a child process is
// a separate program) and returns its path, or returns $PSAPI_TEST_SERVER_BIN.
func ServerBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		if bin := os.Getenv(ServerBinaryEnv); bin != "" {
			buildOnce.path = bin
			return
		}
		root, err := moduleRoot()
		if err != nil {
			buildOnce.err = err
			return
		}
		dir, err := os.MkdirTemp("", "psapi-bin-")
		if err != nil {
			buildOnce.err = err
			return
		}
		buildOnce.dir = dir
		buildOnce.path = filepath.Join(dir, "server")
		cmd := exec.Command("go", "build", "-o", buildOnce.path, "./server")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildOnce.err = fmt.Errorf("go build ./server: %v\n%s", err, out)
		}
	})
	require.NoError(t, buildOnce.err)
	return buildOnce.path
}

// moduleRoot is the directory of the product module, also when the test runs in the
// e2e module, which requires the product module through a replace of "..".
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/partnersupport/api").Output()
	if err != nil {
		return "", fmt.Errorf("go list -m github.com/partnersupport/api: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// FreeAddr returns a loopback address with a port free right now.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// Process is a server process started by a test.
type Process struct {
	cmd   *exec.Cmd
	mu    sync.Mutex
	out   strings.Builder
	lines chan string
	done  chan struct{}
	Addr  string
}

// Start runs the server binary with args and env (added to a minimal environment).
func Start(t testing.TB, args []string, env ...string) *Process {
	t.Helper()
	p, err := start(ServerBinary(t), args, env)
	require.NoError(t, err)
	t.Cleanup(func() { p.Kill() })
	return p
}

// start runs bin with args and env (added to a minimal environment), and records what
// it prints. The process is killed when the test binary dies first (a timeout, a crash).
func start(bin string, args, env []string) (*Process, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	p := &Process{cmd: cmd, lines: make(chan string, 1024), done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			p.mu.Lock()
			p.out.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			select {
			case p.lines <- sc.Text():
			default:
			}
		}
	}()
	go func() { _ = cmd.Wait(); _ = pw.Close(); close(p.done) }()
	return p, nil
}

// Output is everything the process printed so far.
func (p *Process) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// WaitOutput waits until the output matches re, and returns the first submatch (or the
// whole match).
func (p *Process) WaitOutput(re *regexp.Regexp, timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(p.Output()); m != nil {
			if len(m) > 1 {
				return m[1], nil
			}
			return m[0], nil
		}
		select {
		case <-p.done:
			if m := re.FindStringSubmatch(p.Output()); m != nil {
				return m[len(m)-1], nil
			}
			return "", fmt.Errorf("process exited before printing %s; output:\n%s", re, p.Output())
		case <-p.lines:
		case <-time.After(50 * time.Millisecond):
		}
	}
	return "", fmt.Errorf("timed out waiting for %s; output:\n%s", re, p.Output())
}

var readyRE = regexp.MustCompile(`GraphQL: http://([0-9.:]+)/query`)

// WaitReady waits for the server's ready line and records its address.
func (p *Process) WaitReady(timeout time.Duration) error {
	addr, err := p.WaitOutput(readyRE, timeout)
	p.Addr = addr
	return err
}

// Signal sends sig to the process.
func (p *Process) Signal(sig os.Signal) { _ = p.cmd.Process.Signal(sig) }

// Wait waits for the process to exit and returns its exit code (-1 on timeout).
func (p *Process) Wait(timeout time.Duration) int {
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(timeout):
		return -1
	}
}

// Stop sends SIGTERM and waits for a clean exit.
func (p *Process) Stop(timeout time.Duration) int {
	p.Signal(syscall.SIGTERM)
	return p.Wait(timeout)
}

// Kill ends the process at once (a crash, for crash tests).
func (p *Process) Kill() {
	select {
	case <-p.done:
	default:
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// WaitFor polls cond until it is true or the deadline passes.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
