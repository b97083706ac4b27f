package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync/atomic"
	"time"
)

// StoreBinaryEnv names a server binary built with -tags ferretdb_debug to run the shared
// store from (make test builds one for every test binary); without it, Main builds one.
const StoreBinaryEnv = "PSAPI_TEST_STORE_BIN"

var storeURIRE = regexp.MustCompile(`MONGODB_URI=(\S+)`)

// startStoreProcess runs the shared store of a test binary on dataDir: `server store` in
// a process of its own, built without -race and with FerretDB's debug build (-tags
// ferretdb_debug), so that FerretDB's internal errors still crash it, as they do under
// -race. It builds the binary into dir unless $PSAPI_TEST_STORE_BIN names one. It
// returns the store's URI and how to stop it.
func startStoreProcess(dir, dataDir string) (string, func() error, error) {
	bin, err := storeBinary(dir)
	if err != nil {
		return "", nil, err
	}
	p, err := start(bin, []string{"store", "--data-dir", dataDir, "--store-addr", "127.0.0.1:0", "--log-level", "warn"}, nil)
	if err != nil {
		return "", nil, err
	}
	uri, err := p.WaitOutput(storeURIRE, 60*time.Second)
	if err != nil {
		p.Kill()
		return "", nil, fmt.Errorf("the store process: %w", err)
	}
	var stopping atomic.Bool
	go func() {
		<-p.done
		if !stopping.Load() {
			// A store that dies under the tests fails them with connection errors; this
			// says why.
			fmt.Fprintf(os.Stderr, "testenv: the store process exited (%v); its output:\n%s", p.cmd.ProcessState, p.Output())
		}
	}()
	stop := func() error {
		stopping.Store(true)
		switch code := p.Stop(10 * time.Second); code {
		case 0:
			return nil
		case -1:
			p.Kill()
			return fmt.Errorf("the store process did not stop cleanly within 10s; its output:\n%s", p.Output())
		default:
			return fmt.Errorf("the store process exited with %d; its output:\n%s", code, p.Output())
		}
	}
	return uri, stop, nil
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
