// Package clients_test runs mainstream GraphQL clients and tools (npm packages, pinned in
// testdata/package-lock.json) against the server: Apollo Client's normalized cache, the
// graphql-ws client, graphql-http's GraphQL-over-HTTP audits against the built binary, and
// graphql-schema-linter. `make test` runs scripts/ensure-node-deps.sh first, which runs
// npm ci in testdata/.
package clients_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/partnersupport/api/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// node runs a script of testdata with the environment and fails the test, with what it
// printed, when it exits with an error. It fails (not skips) without Node or the packages.
func node(t *testing.T, script string, argsAndEnv ...string) string {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatalf("this test needs Node.js 20.19 or later on PATH: %v", err)
	}
	if _, err := os.Stat(filepath.Join("testdata", "node_modules", ".package-lock.json")); err != nil {
		t.Fatalf("the npm packages are missing: run scripts/ensure-node-deps.sh (npm ci in e2e/clients/testdata): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Arguments first; NAME=value entries go to the environment.
	args, env := []string{script}, os.Environ()
	for _, a := range argsAndEnv {
		if k, _, ok := strings.Cut(a, "="); ok && k != "" && !strings.HasPrefix(k, "-") && strings.ToUpper(k) == k {
			env = append(env, a)
		} else {
			args = append(args, a)
		}
	}
	cmd := exec.CommandContext(ctx, "node", args...)
	cmd.Dir = "testdata"
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node %s: %v\n%s", script, err, out)
	}
	t.Logf("node %s:\n%s", script, out)
	return string(out)
}
