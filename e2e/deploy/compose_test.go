package deploy_test

import (
	"bufio"
	"context"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	// repoRoot is the repository root relative to this package directory
	// (go test runs with the package directory as working directory).
	repoRoot = "../.."

	// testProjectName is fixed so the result does not depend on the
	// directory name or on a COMPOSE_PROJECT_NAME in the environment.
	testProjectName = "partnersupport-deploy-test"

	replicaSetName = "rs0"
)

// loadCompose parses and validates one compose file the way `docker compose`
// does (schema validation, interpolation, normalisation, consistency check,
// relative paths resolved against workingDir), but with an empty environment:
// no .env file and no shell variables are consulted. It also returns every
// variable name that interpolation tried to look up, so tests can require
// the file to be self-contained.
func loadCompose(t *testing.T, workingDir string, file types.ConfigFile) (*types.Project, []string, error) {
	t.Helper()
	var lookups []string
	details := types.ConfigDetails{
		WorkingDir:  workingDir,
		ConfigFiles: []types.ConfigFile{file},
		Environment: types.Mapping{},
	}
	project, err := loader.LoadWithContext(context.Background(), details, func(o *loader.Options) {
		o.SetProjectName(testProjectName, true)
		o.SkipValidation = false // compose-spec JSON schema validation
		o.SkipInterpolation = false
		o.SkipNormalization = false
		o.SkipConsistencyCheck = false
		o.ResolvePaths = true
		o.Interpolate.LookupValue = func(key string) (string, bool) {
			lookups = append(lookups, key)
			return "", false
		}
	})
	return project, lookups, err
}

func repoPath(t *testing.T, elem ...string) string {
	t.Helper()
	root, err := filepath.Abs(repoRoot)
	require.NoError(t, err)
	return filepath.Join(append([]string{root}, elem...)...)
}

// loadProject loads the repository's docker-compose.yml.
func loadProject(t *testing.T) *types.Project {
	t.Helper()
	project, _, err := loadCompose(t, repoPath(t), types.ConfigFile{Filename: repoPath(t, "docker-compose.yml")})
	require.NoError(t, err, "docker-compose.yml must load and validate against the compose spec")
	return project
}

func service(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	svc, err := p.GetService(name)
	require.NoError(t, err, "compose service %q must exist", name)
	return svc
}

// TestComposeLoaderValidatesSchema guards the guard: the loader options used
// here must reject a file that violates the compose spec; otherwise the
// other tests would happily read a file docker compose refuses.
func TestComposeLoaderValidatesSchema(t *testing.T) {
	dir := t.TempDir()
	invalid := []byte("services:\n  x:\n    image: busybox\n    deploy:\n      replicas: 2\n    not_a_compose_key: true\n")
	_, _, err := loadCompose(t, dir, types.ConfigFile{Filename: filepath.Join(dir, "compose.yml"), Content: invalid})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not_a_compose_key")
}

// TestComposeFileIsSelfContained: the file must not depend on variables from
// the shell or an .env file. This also catches an unescaped nginx variable
// ("$host" instead of "$$host"), which compose would silently replace with an
// empty string.
func TestComposeFileIsSelfContained(t *testing.T) {
	_, lookups, err := loadCompose(t, repoPath(t), types.ConfigFile{Filename: repoPath(t, "docker-compose.yml")})
	require.NoError(t, err)
	assert.Empty(t, lookups, "docker-compose.yml interpolates variables; write a literal $ as $$")
}

var (
	initiateRe       = regexp.MustCompile(`rs\.initiate\(\s*\{`)
	initiateIDRe     = regexp.MustCompile(`rs\.initiate\(\s*\{\s*_id\s*:\s*['"]([^'"]+)['"]`)
	initiateMemberRe = regexp.MustCompile(`members\s*:\s*\[\s*\{[^}]*host\s*:\s*['"]([^'"]+)['"]`)
)

// mongoHealthcheckScript returns the shell/JS text run by the mongo
// healthcheck.
func mongoHealthcheckScript(t *testing.T, mongo types.ServiceConfig) string {
	t.Helper()
	hc := mongo.HealthCheck
	require.NotNil(t, hc, "mongo needs a healthcheck (it initiates the replica set)")
	require.False(t, hc.Disable, "mongo healthcheck must not be disabled")
	require.GreaterOrEqual(t, len(hc.Test), 2, "mongo healthcheck needs a command")
	require.Contains(t, []string{"CMD", "CMD-SHELL"}, hc.Test[0])
	return strings.Join(hc.Test[1:], " ")
}

func TestMongoRunsAsReplicaSet(t *testing.T) {
	p := loadProject(t)
	mongo := service(t, p, "mongo")

	assert.Regexp(t, `^mongo:8(\.|$)`, mongo.Image, "official MongoDB 8 image")

	args := []string(mongo.Command)
	replSet := ""
	for i, a := range args {
		if a == "--replSet" && i+1 < len(args) {
			replSet = args[i+1]
		} else if v, ok := strings.CutPrefix(a, "--replSet="); ok {
			replSet = v
		}
	}
	assert.Equal(t, replicaSetName, replSet, "mongod must be started with --replSet %s, got command %q", replicaSetName, args)
	assert.Contains(t, args, "--bind_ip_all", "mongod must listen on the compose network, not only on localhost")

	hasDataVolume := false
	for _, v := range mongo.Volumes {
		if v.Target == "/data/db" && v.Type == types.VolumeTypeVolume {
			_, declared := p.Volumes[v.Source]
			assert.True(t, declared, "volume %q must be declared under top-level volumes", v.Source)
			hasDataVolume = true
		}
	}
	assert.True(t, hasDataVolume, "mongo needs a named volume mounted at /data/db")
}

func TestMongoHealthcheckInitiatesReplicaSet(t *testing.T) {
	p := loadProject(t)
	script := mongoHealthcheckScript(t, service(t, p, "mongo"))

	assert.Contains(t, script, "mongosh", "the healthcheck runs mongosh")

	initiate := initiateRe.FindStringIndex(script)
	require.NotNil(t, initiate, "the healthcheck must call rs.initiate({...}): %s", script)

	status := strings.Index(script, "rs.status()")
	require.GreaterOrEqual(t, status, 0, "rs.initiate must be guarded by rs.status() so the check is idempotent: %s", script)
	assert.Less(t, status, initiate[0], "rs.status() must be tried before rs.initiate: %s", script)
	assert.Regexp(t, `try\s*\{[^}]*rs\.status\(\)[^}]*\}\s*catch`, script, "rs.status() must be inside try so its failure leads to rs.initiate")

	if m := initiateIDRe.FindStringSubmatch(script); assert.NotNil(t, m, "rs.initiate must set _id: %s", script) {
		assert.Equal(t, replicaSetName, m[1], "rs.initiate _id must match --replSet")
	}
	if m := initiateMemberRe.FindStringSubmatch(script); assert.NotNil(t, m, "rs.initiate must list the member host: %s", script) {
		assert.Equal(t, "mongo:27017", m[1], "the member host must be the compose service name, resolvable by the api containers")
	}
	assert.Contains(t, script, "isWritablePrimary", "healthy must mean this node is PRIMARY (writes, e.g. SEED_DEMO, need it)")
}

func TestAPIService(t *testing.T) {
	p := loadProject(t)
	api := service(t, p, "api")

	if assert.NotNil(t, api.Build, "api must be built from the Dockerfile") {
		assert.Equal(t, repoPath(t), api.Build.Context, "api build context must be the repository root (.)")
		assert.Equal(t, "Dockerfile", api.Build.Dockerfile)
		assert.FileExists(t, filepath.Join(api.Build.Context, api.Build.Dockerfile))
	}

	if assert.NotNil(t, api.Deploy, "api needs deploy.replicas") && assert.NotNil(t, api.Deploy.Replicas, "api needs deploy.replicas") {
		assert.Equal(t, 2, *api.Deploy.Replicas)
	}
	assert.Empty(t, api.ContainerName, "container_name would prevent running 2 replicas")
	for _, port := range api.Ports {
		assert.Empty(t, port.Published, "api must not publish a fixed host port (2 replicas cannot bind it); use the lb")
	}

	if dep, ok := api.DependsOn["mongo"]; assert.True(t, ok, "api must depend on mongo") {
		assert.Equal(t, types.ServiceConditionHealthy, dep.Condition, "api must wait until the replica set is initiated")
	}

	env := api.Environment
	if uri := env["MONGODB_URI"]; assert.NotNil(t, uri, "api needs MONGODB_URI (otherwise it starts the embedded store)") {
		u, err := url.Parse(*uri)
		require.NoError(t, err, "MONGODB_URI %q", *uri)
		assert.Equal(t, "mongodb", u.Scheme)
		assert.Equal(t, "mongo", u.Hostname(), "MONGODB_URI must point at the mongo service")
		assert.Equal(t, replicaSetName, u.Query().Get("replicaSet"), "MONGODB_URI must name the replica set")
		assert.NotEqual(t, "true", u.Query().Get("directConnection"), "directConnection would bypass replica-set discovery")

		// The driver reconnects to the hosts in the replica-set config, so the
		// seed host must be the member host that rs.initiate registered.
		script := mongoHealthcheckScript(t, service(t, p, "mongo"))
		if m := initiateMemberRe.FindStringSubmatch(script); m != nil {
			host := u.Host
			if u.Port() == "" {
				host = net.JoinHostPort(u.Hostname(), "27017")
			}
			assert.Equal(t, m[1], host, "MONGODB_URI host must equal the replica-set member host")
		}
	}
	if seed := env["SEED_DEMO"]; assert.NotNil(t, seed, "api needs SEED_DEMO") {
		assert.Equal(t, "true", *seed)
	}
	if listen := env["LISTEN_ADDR"]; listen != nil {
		host, _, err := net.SplitHostPort(*listen)
		require.NoError(t, err, "LISTEN_ADDR %q", *listen)
		assert.Contains(t, []string{"", "0.0.0.0", "::"}, host, "in a container the api must listen on all interfaces")
	}
}

// apiListenPort is the port the api listens on inside its container:
// LISTEN_ADDR from the compose file, else the Dockerfile's 8080.
func apiListenPort(t *testing.T, api types.ServiceConfig) string {
	t.Helper()
	if listen := api.Environment["LISTEN_ADDR"]; listen != nil {
		_, port, err := net.SplitHostPort(*listen)
		require.NoError(t, err)
		return port
	}
	return "8080"
}

var (
	nginxCommentRe   = regexp.MustCompile(`(?m)#.*$`)
	nginxListenRe    = regexp.MustCompile(`\blisten\s+(?:[^;\s]*:)?(\d+)\b[^;]*;`)
	nginxProxyPassRe = regexp.MustCompile(`\bproxy_pass\s+http://([^;/\s]+)[^;]*;`)
	nginxUpgradeRe   = regexp.MustCompile(`\bproxy_set_header\s+Upgrade\s+\$http_upgrade\s*;`)
	nginxConnRe      = regexp.MustCompile(`\bproxy_set_header\s+Connection\s+("?[^;\s"]+"?)\s*;`)
	nginxHTTP11Re    = regexp.MustCompile(`\bproxy_http_version\s+1\.1\s*;`)
	nginxReadTORe    = regexp.MustCompile(`\bproxy_read_timeout\s+([^;\s]+)\s*;`)
)

// nginxDuration parses the nginx time syntax used for timeouts (e.g. 3600,
// 90s, 10m, 1h, 1d).
func nginxDuration(t *testing.T, v string) time.Duration {
	t.Helper()
	if n, err := strconv.Atoi(v); err == nil {
		return time.Duration(n) * time.Second
	}
	if n, ok := strings.CutSuffix(v, "d"); ok {
		days, err := strconv.Atoi(n)
		require.NoError(t, err, "nginx time %q", v)
		return time.Duration(days) * 24 * time.Hour
	}
	d, err := time.ParseDuration(v)
	require.NoError(t, err, "nginx time %q", v)
	return d
}

func TestLoadBalancer(t *testing.T) {
	p := loadProject(t)
	lb := service(t, p, "lb")
	api := service(t, p, "api")

	assert.True(t, strings.HasPrefix(lb.Image, "nginx:"), "lb runs nginx, got %q", lb.Image)
	_, dependsOnAPI := lb.DependsOn["api"]
	assert.True(t, dependsOnAPI, "lb must depend on api")

	var target uint32
	for _, port := range lb.Ports {
		if port.Published == "8080" {
			target = port.Target
		}
	}
	require.NotZero(t, target, "lb must publish host port 8080, got %+v", lb.Ports)

	var conf string
	for _, c := range lb.Configs {
		if strings.HasPrefix(c.Target, "/etc/nginx/") {
			cfg, ok := p.Configs[c.Source]
			require.True(t, ok, "config %q must be declared under top-level configs", c.Source)
			conf = cfg.Content
		}
	}
	require.NotEmpty(t, conf, "lb must mount an inline nginx config (configs.*.content) under /etc/nginx/")
	assert.NotContains(t, conf, "$$", "the loaded config must have compose's $$ escapes resolved")
	conf = nginxCommentRe.ReplaceAllString(conf, "")

	if m := nginxListenRe.FindStringSubmatch(conf); assert.NotNil(t, m, "nginx config needs a listen directive") {
		assert.Equal(t, strconv.Itoa(int(target)), m[1], "nginx must listen on the container port that 8080 is published to")
	}

	// proxy_pass either names api:<port> directly or an upstream block whose
	// server is api:<port>.
	apiAddr := "api:" + apiListenPort(t, api)
	if m := nginxProxyPassRe.FindStringSubmatch(conf); assert.NotNil(t, m, "nginx config needs proxy_pass http://...") {
		if strings.Contains(m[1], ":") {
			assert.Equal(t, apiAddr, m[1], "proxy_pass must target the api service")
		} else {
			upstream := regexp.MustCompile(`\bupstream\s+` + regexp.QuoteMeta(m[1]) + `\s*\{([^}]*)\}`).FindStringSubmatch(conf)
			if assert.NotNil(t, upstream, "proxy_pass http://%s needs a matching upstream block", m[1]) {
				assert.Regexp(t, `\bserver\s+`+regexp.QuoteMeta(apiAddr)+`[\s;]`, upstream[1], "upstream %s must contain server %s", m[1], apiAddr)
			}
		}
	}

	// WebSocket upgrade for GraphQL subscriptions.
	assert.Regexp(t, nginxHTTP11Re, conf, "WebSocket proxying needs proxy_http_version 1.1")
	assert.Regexp(t, nginxUpgradeRe, conf, "nginx must forward the Upgrade header")
	if m := nginxConnRe.FindStringSubmatch(conf); assert.NotNil(t, m, "nginx must set the Connection header") {
		value := strings.Trim(m[1], `"`)
		if variable, ok := strings.CutPrefix(value, "$"); ok {
			mapRe := `\bmap\s+\$http_upgrade\s+\$` + regexp.QuoteMeta(variable) + `\s*\{[^}]*\bdefault\s+"?upgrade"?\s*;`
			assert.Regexp(t, mapRe, conf, "$%s must map a non-empty Upgrade header to \"upgrade\"", variable)
		} else {
			assert.Equal(t, "upgrade", strings.ToLower(value))
		}
	}

	// Subscriptions stay open far longer than nginx's 60s default.
	if m := nginxReadTORe.FindStringSubmatch(conf); assert.NotNil(t, m, "nginx needs proxy_read_timeout for long-lived subscriptions") {
		assert.GreaterOrEqual(t, nginxDuration(t, m[1]), 10*time.Minute, "proxy_read_timeout %s is too short for subscriptions", m[1])
	}
}

// dockerInstruction is one Dockerfile instruction with continuation lines
// joined.
type dockerInstruction struct {
	Cmd  string // upper case, e.g. RUN
	Args string
}

func readDockerfile(t *testing.T) []dockerInstruction {
	t.Helper()
	f, err := os.Open(repoPath(t, "Dockerfile"))
	require.NoError(t, err)
	defer f.Close()

	var (
		out     []dockerInstruction
		pending strings.Builder
	)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue // comments and parser directives; blank lines inside continuations are allowed
		}
		if cont, ok := strings.CutSuffix(line, `\`); ok {
			pending.WriteString(cont)
			pending.WriteString(" ")
			continue
		}
		pending.WriteString(line)
		full := pending.String()
		pending.Reset()
		cmd, args, _ := strings.Cut(full, " ")
		out = append(out, dockerInstruction{Cmd: strings.ToUpper(cmd), Args: strings.Join(strings.Fields(args), " ")})
	}
	require.NoError(t, sc.Err())
	require.Zero(t, pending.Len(), "Dockerfile ends inside a line continuation")
	return out
}

type dockerStage struct {
	Image string
	Name  string
	Body  []dockerInstruction
}

func dockerStages(t *testing.T) []dockerStage {
	t.Helper()
	var stages []dockerStage
	for _, in := range readDockerfile(t) {
		if in.Cmd == "FROM" {
			var fields []string
			for _, f := range strings.Fields(in.Args) {
				if !strings.HasPrefix(f, "--") { // --platform=...
					fields = append(fields, f)
				}
			}
			require.NotEmpty(t, fields, "FROM without image")
			st := dockerStage{Image: fields[0]}
			if len(fields) == 3 && strings.EqualFold(fields[1], "AS") {
				st.Name = fields[2]
			}
			stages = append(stages, st)
			continue
		}
		require.NotEmpty(t, stages, "instruction %s before FROM", in.Cmd)
		stages[len(stages)-1].Body = append(stages[len(stages)-1].Body, in)
	}
	return stages
}

func indexOf(body []dockerInstruction, match func(dockerInstruction) bool) int {
	return slices.IndexFunc(body, match)
}

// localReplacements are the directories go.mod replaces modules with ("=> ./dir").
func localReplacements(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(repoPath(t, "go.mod"))
	require.NoError(t, err)
	var dirs []string
	for _, m := range localReplaceRe.FindAllStringSubmatch(string(data), -1) {
		dirs = append(dirs, strings.TrimPrefix(m[1], "./"))
	}
	return dirs
}

var localReplaceRe = regexp.MustCompile(`(?m)^\s*(?:replace\s+)?\S+(?:\s+\S+)?\s+=>\s+(\.\.?/\S+)\s*$`)

var serverPkgRe = regexp.MustCompile(`(^|\s)\./server(\s|$)`)

func TestDockerfileBuildStage(t *testing.T) {
	stages := dockerStages(t)
	require.GreaterOrEqual(t, len(stages), 2, "the Dockerfile must be multi-stage")
	build := stages[0]
	assert.Regexp(t, `^golang:1\.26([.-]|$)`, build.Image, "build stage image")

	copyMods := indexOf(build.Body, func(in dockerInstruction) bool {
		return in.Cmd == "COPY" && strings.Contains(in.Args, "go.mod") && strings.Contains(in.Args, "go.sum") && !strings.HasPrefix(in.Args, ". ")
	})
	download := indexOf(build.Body, func(in dockerInstruction) bool {
		return in.Cmd == "RUN" && strings.Contains(in.Args, "go mod download")
	})
	copyAll := indexOf(build.Body, func(in dockerInstruction) bool {
		return (in.Cmd == "COPY" || in.Cmd == "ADD") && strings.HasPrefix(in.Args, ". ")
	})
	compile := indexOf(build.Body, func(in dockerInstruction) bool {
		return in.Cmd == "RUN" && strings.Contains(in.Args, "go build")
	})
	require.GreaterOrEqual(t, copyMods, 0, "COPY go.mod go.sum first (module download layer caching)")
	require.GreaterOrEqual(t, download, 0, "RUN go mod download in its own layer")
	require.GreaterOrEqual(t, copyAll, 0, "COPY . . for the sources")
	require.GreaterOrEqual(t, compile, 0, "RUN go build")
	assert.Less(t, copyMods, download, "go.mod/go.sum must be copied before go mod download")
	assert.Less(t, download, copyAll, "go mod download must run before the sources are copied, or the layer is never reused")
	assert.Less(t, copyAll, compile, "sources must be copied before go build")

	// go mod download needs the go.mod of every module go.mod replaces with a local
	// directory (third_party/ferretdb): without it the download layer fails to build.
	for _, dir := range localReplacements(t) {
		copied := indexOf(build.Body[:download], func(in dockerInstruction) bool {
			return in.Cmd == "COPY" && strings.Contains(in.Args, dir+"/go.mod") && strings.Contains(in.Args, dir+"/go.sum")
		})
		assert.GreaterOrEqual(t, copied, 0, "COPY %[1]s/go.mod %[1]s/go.sum before go mod download (a local replace in go.mod)", dir)
	}

	run := build.Body[compile].Args
	assert.Contains(t, run, "CGO_ENABLED=0", "the binary must be static for a distroless/static image")
	assert.Contains(t, run, "-trimpath")
	assert.Regexp(t, `-o\s+/out/server(\s|$)`, run)
	assert.Regexp(t, serverPkgRe, run, "go build must build the ./server package")
}

func TestDockerfileRuntimeStage(t *testing.T) {
	stages := dockerStages(t)
	require.GreaterOrEqual(t, len(stages), 2, "the Dockerfile must be multi-stage")
	final := stages[len(stages)-1]
	build := stages[0]

	assert.False(t, strings.HasPrefix(final.Image, "golang"), "the runtime image must not be the Go toolchain image")

	// Non-root: an explicit non-root USER, or a :nonroot base image and no
	// USER that switches back to root.
	user := ""
	for _, in := range final.Body {
		if in.Cmd == "USER" {
			user = in.Args
		}
	}
	if user == "" {
		assert.True(t, strings.HasSuffix(final.Image, ":nonroot"), "the runtime stage must run as non-root (USER or a :nonroot image)")
	} else {
		name, _, _ := strings.Cut(user, ":")
		assert.NotContains(t, []string{"root", "0"}, name, "the runtime stage must not run as root")
	}

	from := "--from=" + build.Name
	if build.Name == "" {
		from = "--from=0"
	}
	copied := indexOf(final.Body, func(in dockerInstruction) bool {
		return in.Cmd == "COPY" && strings.Contains(in.Args, from) && strings.Contains(in.Args, "/out/server /server")
	})
	assert.GreaterOrEqual(t, copied, 0, "the runtime stage must COPY %s /out/server /server", from)

	entry := indexOf(final.Body, func(in dockerInstruction) bool {
		return in.Cmd == "ENTRYPOINT" && strings.ReplaceAll(in.Args, " ", "") == `["/server"]`
	})
	assert.GreaterOrEqual(t, entry, 0, `ENTRYPOINT ["/server"] (exec form: the image has no shell)`)

	exposes := indexOf(final.Body, func(in dockerInstruction) bool {
		return in.Cmd == "EXPOSE" && slices.Contains(strings.Fields(in.Args), "8080")
	})
	assert.GreaterOrEqual(t, exposes, 0, "EXPOSE 8080")

	env := map[string]string{}
	for _, in := range final.Body {
		if in.Cmd != "ENV" {
			continue
		}
		fields := strings.Fields(in.Args)
		if len(fields) > 0 && !strings.Contains(fields[0], "=") { // legacy "ENV KEY value"
			env[fields[0]] = strings.Join(fields[1:], " ")
			continue
		}
		for _, f := range fields {
			k, v, _ := strings.Cut(f, "=")
			env[k] = strings.Trim(v, `"`)
		}
	}
	assert.Equal(t, "0.0.0.0:8080", env["LISTEN_ADDR"], "in a container the server must listen on 0.0.0.0:8080")
}

func TestDockerignore(t *testing.T) {
	f, err := os.Open(repoPath(t, ".dockerignore"))
	require.NoError(t, err)
	defer f.Close()

	var patterns []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		patterns = append(patterns, strings.TrimSuffix(strings.TrimPrefix(line, "/"), "/"))
	}
	require.NoError(t, sc.Err())

	for _, want := range []string{".git", "data"} {
		assert.Contains(t, patterns, want, ".dockerignore must exclude %s", want)
	}
	for _, needed := range []string{"go.mod", "go.sum", "server", "internal", "*", "**", "*.go", "**/*.go"} {
		assert.NotContains(t, patterns, needed, ".dockerignore must not exclude %s (needed by the build)", needed)
	}
}
