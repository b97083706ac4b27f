package testenv

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"
)

// StoreBinaryEnv names a server binary built with -tags ferretdb_debug to run the shared
// store from (make test builds one for every test binary); without it, Main builds one.
const StoreBinaryEnv = "PSAPI_TEST_STORE_BIN"

// storeProcess is the shared store of a test binary: `server store` in a process of its
// own, built without -race and with FerretDB's debug build (-tags ferretdb_debug), so that
// FerretDB's internal errors still crash it, as they do under -race.
type storeProcess struct {
	cmd  *exec.Cmd
	uri  string
	done chan struct{}
	mu   sync.Mutex
	out  strings.Builder
	quit bool // set before Main stops it: an exit is then expected
}

var storeURIRE = regexp.MustCompile(`MONGODB_URI=(\S+)`)

// startStoreProcess starts the store on dataDir (building its binary into dir when
// needed) and waits for its URI.
func startStoreProcess(dir, dataDir string) (*storeProcess, error) {
	bin, err := storeBinary(dir)
	if err != nil {
		return nil, err
	}
	sp := &storeProcess{done: make(chan struct{})}
	sp.cmd = exec.Command(bin, "store", "--data-dir", dataDir, "--store-addr", "127.0.0.1:0", "--log-level", "warn")
	sp.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	// The store must not outlive a test binary that a timeout or a crash ends.
	sp.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	pipe, err := sp.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	sp.cmd.Stderr = sp.cmd.Stdout
	if err := sp.cmd.Start(); err != nil {
		return nil, err
	}
	uri := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			sp.mu.Lock()
			sp.out.WriteString(sc.Text() + "\n")
			sp.mu.Unlock()
			if m := storeURIRE.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case uri <- m[1]:
				default:
				}
			}
		}
		_ = sp.cmd.Wait()
		sp.mu.Lock()
		quit := sp.quit
		sp.mu.Unlock()
		if !quit {
			// A store that dies under the tests fails them with connection errors; this
			// says why.
			fmt.Fprintf(os.Stderr, "testenv: the store process exited (%v); its output:\n%s", sp.cmd.ProcessState, sp.output())
		}
		close(sp.done)
	}()
	select {
	case sp.uri = <-uri:
		return sp, nil
	case <-sp.done:
		return nil, fmt.Errorf("the store process exited before listening:\n%s", sp.output())
	case <-time.After(60 * time.Second):
		sp.stop()
		return nil, fmt.Errorf("the store process did not listen within 60s:\n%s", sp.output())
	}
}

func (sp *storeProcess) output() string {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	return sp.out.String()
}

// stop ends the store cleanly (SIGTERM), or kills it after 10 s. It reports an exit
// other than the clean one.
func (sp *storeProcess) stop() error {
	sp.mu.Lock()
	sp.quit = true
	sp.mu.Unlock()
	_ = sp.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-sp.done:
	case <-time.After(10 * time.Second):
		_ = sp.cmd.Process.Kill()
		<-sp.done
		return errors.New("the store process did not stop within 10s")
	}
	if !sp.cmd.ProcessState.Success() {
		return fmt.Errorf("the store process exited with %v; its output:\n%s", sp.cmd.ProcessState, sp.output())
	}
	return nil
}

// storeBinary is $PSAPI_TEST_STORE_BIN, or ./server built into dir with FerretDB's debug
// build and without -race.
func storeBinary(dir string) (string, error) {
	if bin := os.Getenv(StoreBinaryEnv); bin != "" {
		return bin, nil
	}
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "store-server")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", "ferretdb_debug", "-o", bin, "./server")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build -tags ferretdb_debug ./server: %v\n%s", err, out)
	}
	return bin, nil
}
