package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	coderws "github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnersupport/api/graph"
	"github.com/partnersupport/api/internal/auth"
	"github.com/partnersupport/api/internal/testenv"
)

// startAPI starts a server process on the embedded store in dir (or on MONGODB_URI when
// given in env) and waits until it is ready.
// Every process of a test binary gets the same shifted clock (the demo data is written
// for testenv.DemoNow), so that two processes agree on the time.
var clockOffset = time.Until(testenv.DemoNow).Round(time.Second).String()

func startAPI(t testing.TB, dir string, env ...string) *testenv.Process {
	t.Helper()
	return startAPIWithOffset(t, dir, "0s", env...)
}

// startAPIWithOffset starts an API whose clock runs extra ahead of the test's clock.
func startAPIWithOffset(t testing.TB, dir, extra string, env ...string) *testenv.Process {
	t.Helper()
	d, err := time.ParseDuration(extra)
	require.NoError(t, err)
	off, _ := time.ParseDuration(clockOffset)
	p := testenv.Start(t, []string{"--data-dir", dir, "--listen", "127.0.0.1:0", "--store-addr", "127.0.0.1:0",
		"--demo", "--dev-auth", "--activation-delay", "0s", "--clock-offset", (off + d).String(), "--log-level", "warn"}, env...)
	require.NoError(t, p.WaitReady(60*time.Second))
	return p
}

// tryPost posts a GraphQL request to a server that may be killed meanwhile.
func tryPost(url, token, query string, vars map[string]any) (*http.Response, bool) {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	return resp, err == nil
}

// decode reads a GraphQL response's data; false when the body is cut short.
func decode(resp *http.Response, v any) bool {
	defer resp.Body.Close()
	var r struct {
		Data json.RawMessage `json:"data"`
	}
	if json.NewDecoder(resp.Body).Decode(&r) != nil || len(r.Data) == 0 {
		return false
	}
	return json.Unmarshal(r.Data, v) == nil
}

func devToken(t testing.TB, dir, email string) string {
	t.Helper()
	out, err := exec.Command(testenv.ServerBinary(t), "token", "--data-dir", dir, "--email", email).Output()
	require.NoError(t, err)
	return strings.TrimSpace(string(out))
}

// providerDevToken is a support provider's development token (R25), from the server's
// token command as the README shows it.
func providerDevToken(t testing.TB, dir, name string) string {
	t.Helper()
	out, err := exec.Command(testenv.ServerBinary(t), "token", "--data-dir", dir, "--provider", name).Output()
	require.NoError(t, err)
	return strings.TrimSpace(string(out))
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServer_EmbeddedStoreAnswersOverHTTPAndWebsockets(t *testing.T) {
	p := startAPI(t, t.TempDir())
	base := "http://" + p.Addr

	r := testenv.Post(t, base+"/query", "", `{ __typename }`, nil)
	assert.Equal(t, http.StatusOK, r.Status)
	assert.JSONEq(t, `{"__typename":"Query"}`, string(r.Data))

	code, body := get(t, base+"/query?query="+"%7B__typename%7D")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, `"__typename":"Query"`)

	code, body = get(t, base+"/")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, strings.ToLower(body), "graphiql")

	code, _ = get(t, base+"/healthz")
	assert.Equal(t, http.StatusOK, code)
	code, _ = get(t, base+"/readyz")
	assert.Equal(t, http.StatusOK, code)

	for _, proto := range []string{testenv.TransportWS, testenv.LegacyWS} {
		ws, _, err := testenv.DialWS(t, base+"/query", proto, "")
		require.NoError(t, err, proto)
		assert.Equal(t, proto, ws.Conn.Subprotocol())
		ws.Init("")
		ws.Start("1", `{ __typename }`, nil)
		m, err := ws.Next(10 * time.Second)
		require.NoError(t, err, proto)
		assert.Contains(t, []string{"next", "data"}, m.Type, proto)
		assert.Contains(t, string(m.Payload), `"__typename":"Query"`, proto)
	}

	code, body = get(t, base+"/metrics")
	assert.Equal(t, http.StatusOK, code)
	for _, name := range []string{"graphql_requests_total", "graphql_request_duration_seconds", "graphql_subscriptions_open", "store_roundtrips_total"} {
		assert.Contains(t, body, name)
	}
}

func TestServer_GETRunsQueriesOnly(t *testing.T) {
	p := startAPI(t, t.TempDir())
	code, body := get(t, "http://"+p.Addr+"/query?query="+strings.ReplaceAll(`mutation{activateBenefit(benefitId:"x"){userErrors{code}}}`, " ", ""))
	assert.NotEqual(t, http.StatusOK, code)
	assert.Contains(t, body, "GET requests only allow query operations")
}

func TestServer_RestartKeepsAllData(t *testing.T) {
	dir := t.TempDir()
	p := startAPI(t, dir)
	tok := devToken(t, dir, "megan@contoso.com")
	const activate = `mutation { activateBenefit(benefitId: "contoso.solutions_partner_designation.20260901.cloud_support") { benefit { contract { accessId contractId } } userErrors { code } } }`
	var first struct {
		ActivateBenefit struct {
			Benefit struct{ Contract map[string]string }
		}
	}
	testenv.Post(t, "http://"+p.Addr+"/query", tok, activate, nil).MustData(t, &first)
	require.NotEmpty(t, first.ActivateBenefit.Benefit.Contract["accessId"])
	require.Equal(t, 0, p.Stop(30*time.Second), "clean exit on SIGTERM")

	p2 := startAPI(t, dir)
	var again struct {
		Tenant struct {
			Benefits []struct {
				ID       string
				Contract map[string]string
			}
		}
	}
	testenv.Post(t, "http://"+p2.Addr+"/query", devToken(t, dir, "lee@contoso.com"), `{ tenant(id: "contoso") { benefits { id contract { accessId contractId } } } }`, nil).MustData(t, &again)
	found := false
	for _, b := range again.Tenant.Benefits {
		if b.ID == graph.GlobalID("Benefit", "contoso.solutions_partner_designation.20260901.cloud_support") {
			found = true
			assert.Equal(t, first.ActivateBenefit.Benefit.Contract, b.Contract, "the contract survived the restart")
		}
	}
	assert.True(t, found)
}

var storeURIRE = regexp.MustCompile(`MONGODB_URI=(mongodb://\S+)`)

func TestServer_ReadyzFailsWhenTheStoreIsGone(t *testing.T) {
	store := testenv.Start(t, []string{"store", "--data-dir", t.TempDir(), "--store-addr", "127.0.0.1:0"})
	uri, err := store.WaitOutput(storeURIRE, 60*time.Second)
	require.NoError(t, err)
	p := testenv.Start(t, []string{"--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--demo", "--log-level", "error"}, "MONGODB_URI="+uri)
	require.NoError(t, p.WaitReady(60*time.Second))
	code, _ := get(t, "http://"+p.Addr+"/readyz")
	require.Equal(t, http.StatusOK, code)
	store.Kill()
	testenv.WaitFor(t, 20*time.Second, "/readyz to fail", func() bool {
		code, _ := get(t, "http://"+p.Addr+"/readyz")
		return code == http.StatusServiceUnavailable
	})
	code, _ = get(t, "http://"+p.Addr+"/healthz")
	assert.Equal(t, http.StatusOK, code, "the process itself is still alive")
}

func TestServer_TwoProcessesShareOneStore(t *testing.T) {
	storeDir := t.TempDir()
	store := testenv.Start(t, []string{"store", "--data-dir", storeDir, "--store-addr", "127.0.0.1:0"})
	uri, err := store.WaitOutput(storeURIRE, 60*time.Second)
	require.NoError(t, err)
	keys := t.TempDir() // both processes share the dev signing key
	a := startAPI(t, keys, "MONGODB_URI="+uri)
	b := startAPI(t, keys, "MONGODB_URI="+uri)
	tok := devToken(t, keys, "megan@contoso.com")
	var act struct {
		ActivateBenefit struct {
			Benefit struct{ Contract map[string]string }
		}
	}
	testenv.Post(t, "http://"+a.Addr+"/query", tok, `mutation { activateBenefit(benefitId: "contoso.partner_success_expanded.20260901.cloud_support") { benefit { contract { accessId contractId } } } }`, nil).MustData(t, &act)
	var read struct {
		Tenant struct {
			Benefits []struct {
				ID       string
				Contract map[string]string
			}
		}
	}
	testenv.Post(t, "http://"+b.Addr+"/query", tok, `{ tenant(id: "contoso") { benefits { id contract { accessId contractId } } } }`, nil).MustData(t, &read)
	var seen map[string]string
	for _, x := range read.Tenant.Benefits {
		if x.ID == graph.GlobalID("Benefit", "contoso.partner_success_expanded.20260901.cloud_support") {
			seen = x.Contract
		}
	}
	assert.Equal(t, act.ActivateBenefit.Benefit.Contract, seen, "process B reads what process A wrote")
}

func TestServer_ShutdownClosesWebsocketsGoingAway(t *testing.T) {
	p := startAPI(t, t.TempDir())
	ws, _, err := testenv.DialWS(t, "http://"+p.Addr+"/query", testenv.TransportWS, "")
	require.NoError(t, err)
	ws.Init("")
	p.Signal(syscall.SIGTERM)
	assert.Equal(t, coderws.StatusGoingAway, ws.CloseStatus(20*time.Second))
	assert.Equal(t, 0, p.Wait(30*time.Second))
}

func TestServer_WebsocketFromForeignOriginIsRefused(t *testing.T) {
	p := startAPI(t, t.TempDir())
	_, resp, err := testenv.DialWS(t, "http://"+p.Addr+"/query", testenv.TransportWS, "https://evil.example")
	require.Error(t, err)
	require.NotNil(t, resp)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	ws, _, err := testenv.DialWS(t, "http://"+p.Addr+"/query", testenv.TransportWS, "http://localhost:8080")
	require.NoError(t, err, "an allowed origin connects")
	ws.Init("")
}

func TestServer_WebsocketBadTokenClosesForbidden(t *testing.T) {
	p := startAPI(t, t.TempDir())
	ws, _, err := testenv.DialWS(t, "http://"+p.Addr+"/query", testenv.TransportWS, "")
	require.NoError(t, err)
	ws.Send("connection_init", "", map[string]any{"Authorization": "Bearer not.a.token"})
	assert.Equal(t, coderws.StatusCode(4403), ws.CloseStatus(10*time.Second))
}

func TestServer_HelpDocumentsEveryFlag(t *testing.T) {
	// The help names the command it was asked about, and every command it names is accepted.
	for _, args := range [][]string{{"--help"}, {"serve", "--help"}} {
		out, err := exec.Command(testenv.ServerBinary(t), args...).CombinedOutput()
		require.NoError(t, err, "%v", args)
		assert.Contains(t, string(out), "Usage: server [serve] [flags]", "%v", args)
		assert.Contains(t, string(out), "server store [flags]", "%v", args)
		assert.Contains(t, string(out), "server token [flags]", "%v", args)
		for _, env := range []string{"LISTEN_ADDR", "MONGODB_URI", "DATA_DIR", "CORS_ORIGINS", "LOG_LEVEL", "STORE_ADDR", "SEED", "NOW", "DEV_AUTH", "ACTIVATION_DELAY"} {
			assert.Contains(t, string(out), "env "+env, "%v", args)
		}
	}
	out, err := exec.Command(testenv.ServerBinary(t), "store", "--help").CombinedOutput()
	require.NoError(t, err)
	assert.Contains(t, string(out), "Usage: server store [flags]")
}

// TestServer_MisconfigurationFailsFastWithOneLine: each bad setting ends the process
// with a non-zero code and one clear line, never a panic.
func TestServer_MisconfigurationFailsFastWithOneLine(t *testing.T) {
	file := filepath.Join(t.TempDir(), "not-a-dir")
	require.NoError(t, os.WriteFile(file, []byte("x"), 0o600))
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	closed := testenv.FreeAddr(t)
	cases := []struct {
		name string
		args []string
		env  []string
		want string
	}{
		{"malformed URI", nil, []string{"MONGODB_URI=mongodb://host:notaport/"}, "MONGODB_URI"},
		{"wrong scheme", nil, []string{"MONGODB_URI=http://localhost/"}, "MONGODB_URI"},
		{"unwritable data dir", []string{"--data-dir", filepath.Join(file, "sub")}, nil, "data directory"},
		{"port in use", []string{"--listen", busy.Addr().String()}, nil, "cannot listen on " + busy.Addr().String()},
		{"unreachable MongoDB", []string{"--connect-timeout", "1s"}, []string{"MONGODB_URI=mongodb://" + closed + "/"}, "cannot reach the store"},
		{"store port in use", []string{"--store-addr", busy.Addr().String()}, nil, "cannot listen on " + busy.Addr().String()},
		{"store not on loopback", []string{"--store-addr", "0.0.0.0:27018"}, nil, "loopback"},
		{"bad duration", []string{"--activation-delay", "soon"}, nil, "activation-delay"},
		{"bad --now", []string{"--now", "yesterday"}, nil, "--now"},
		{"bad log level", []string{"--log-level", "loud"}, nil, "--log-level"},
		{"bad CORS origin", []string{"--cors-origins", "not a url"}, nil, "--cors-origins"},
		{"bad env bool", nil, []string{"DEV_AUTH=maybe"}, "DEV_AUTH"},
		{"missing seed file", []string{"--seed", "/no/such/file.yaml"}, nil, "--seed"},
		{"bad debug address", []string{"--debug-listen", "localhost"}, nil, "--debug-listen"},
		{"debug port in use", []string{"--debug-listen", busy.Addr().String()}, nil, "cannot listen on " + busy.Addr().String()},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"--listen", "127.0.0.1:0", "--store-addr", "127.0.0.1:0", "--data-dir", t.TempDir()}, c.args...)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, testenv.ServerBinary(t), args...)
			cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, c.env...)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			require.ErrorAs(t, err, &exit, "must exit non-zero; output: %s", out)
			text := strings.TrimSpace(string(out))
			assert.NotContains(t, text, "panic")
			assert.NotContains(t, text, "goroutine ")
			lines := strings.Split(text, "\n")
			assert.Len(t, lines, 1, "one line: %q", text)
			assert.True(t, strings.HasPrefix(lines[len(lines)-1], "server: "), text)
			assert.Contains(t, text, c.want)
		})
	}
}

func TestServer_TokenCommand(t *testing.T) {
	dir := t.TempDir()
	// No key yet: a token from a fresh key would be refused by the server, so none is made.
	out, err := exec.Command(testenv.ServerBinary(t), "token", "--data-dir", dir, "--email", "sam.freelancer@outlook.com").CombinedOutput()
	require.Error(t, err)
	assert.Contains(t, string(out), "holds no development signing key")
	_, statErr := os.Stat(filepath.Join(dir, auth.DevKeyFile))
	assert.True(t, os.IsNotExist(statErr), "the token command creates no key")

	p := startAPI(t, dir)
	tok := devToken(t, dir, "sam.freelancer@outlook.com")
	parts := strings.Split(tok, ".")
	require.Len(t, parts, 3)
	out, err = exec.Command(testenv.ServerBinary(t), "token", "--data-dir", dir, "--email", "nobody@example.com").CombinedOutput()
	require.Error(t, err)
	assert.Contains(t, string(out), "--kind")
	var v struct{ Viewer struct{ Email, Kind string } }
	testenv.Post(t, "http://"+p.Addr+"/query", tok, `{ viewer { email kind } }`, nil).MustData(t, &v)
	assert.Equal(t, "sam.freelancer@outlook.com", v.Viewer.Email)
	assert.Equal(t, "MSA", v.Viewer.Kind)
	r := testenv.Post(t, "http://"+p.Addr+"/query", "", `{ viewer { email } }`, nil)
	require.NotEmpty(t, r.Errors)
	assert.Equal(t, "UNAUTHENTICATED", r.Errors[0].Code())
	r = testenv.Post(t, "http://"+p.Addr+"/query", tok+"x", `{ viewer { email } }`, nil)
	assert.Equal(t, http.StatusUnauthorized, r.Status)
	require.NotEmpty(t, r.Errors)
	assert.Equal(t, "UNAUTHENTICATED", r.Errors[0].Code())
}

// BenchmarkStartToFirstAnswer measures a built server on the embedded store, started as
// `make run` starts it (demo data, dev signer), from process start to the first answered
// query. Issue target: ≤ 1.5 s. The data directory already holds the demo data, as on
// every start after the first.
func BenchmarkStartToFirstAnswer(b *testing.B) {
	bin, dir := testenv.ServerBinary(b), b.TempDir()
	args := func(addr string) []string {
		return []string{"--data-dir", dir, "--listen", addr, "--store-addr", "127.0.0.1:0", "--demo", "--dev-auth", "--log-level", "warn"}
	}
	warm := testenv.Start(b, args("127.0.0.1:0"))
	require.NoError(b, warm.WaitReady(60*time.Second))
	require.Equal(b, 0, warm.Stop(30*time.Second))
	body := strings.NewReader(`{"query":"{ __typename }"}`)
	poll := time.NewTicker(2 * time.Millisecond) // the client's polling interval while the process starts
	defer poll.Stop()
	var total time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		addr := testenv.FreeAddr(b)
		cmd := exec.Command(bin, args(addr)...)
		b.StartTimer()
		start := time.Now()
		require.NoError(b, cmd.Start())
		for {
			body.Seek(0, io.SeekStart)
			resp, err := http.Post("http://"+addr+"/query", "application/json", body)
			if err == nil {
				ok := resp.StatusCode == http.StatusOK
				resp.Body.Close()
				if ok {
					break
				}
			}
			require.Less(b, time.Since(start), 60*time.Second, "no answer")
			<-poll.C
		}
		total += time.Since(start)
		b.StopTimer()
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		b.StartTimer()
	}
	b.ReportMetric(total.Seconds()/float64(b.N), "s/first-answer")
}

var debugRE = regexp.MustCompile(`debug: http://([0-9.:]+)/debug/pprof/`)

// The profiler is served only on --debug-listen, never on the API's listener, and the
// debug listener serves nothing else.
func TestServer_ProfilerOnlyOnTheDebugListener(t *testing.T) {
	dir := t.TempDir()
	plain := startAPI(t, dir)
	status := func(url string) int {
		resp, err := http.Get(url)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	assert.Equal(t, http.StatusNotFound, status("http://"+plain.Addr+"/debug/pprof/"), "no profiler on the API listener")
	assert.NotContains(t, plain.Output(), "debug: http://")

	p := startAPI(t, t.TempDir(), "DEBUG_LISTEN=127.0.0.1:0")
	dbg, err := p.WaitOutput(debugRE, 10*time.Second)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, status("http://"+dbg+"/debug/pprof/heap?gc=1"))
	assert.Equal(t, http.StatusOK, status("http://"+dbg+"/debug/pprof/goroutine?debug=1"))
	assert.Equal(t, http.StatusNotFound, status("http://"+dbg+"/query"), "the debug listener serves no API")
	assert.Equal(t, http.StatusNotFound, status("http://"+dbg+"/metrics"))
	assert.Equal(t, http.StatusNotFound, status("http://"+p.Addr+"/debug/pprof/"))
}
