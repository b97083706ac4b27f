package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	testIssuer   = "https://dev.partnersupport.local"
	testAudience = "partnersupport-api"
	testSubject  = "subject-7f3a9c"
	testEmail    = "dev.user@example.com"
)

// testClock is a manually advanced clock, safe for concurrent use.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock {
	return &testClock{t: time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newSigner(t testing.TB, dir string, clock *testClock) *DevSigner {
	t.Helper()
	s, err := LoadOrCreateDevSigner(dir, testIssuer, testAudience, clock.Now)
	require.NoError(t, err)
	return s
}

// baseClaims returns the claims Issue would produce at the clock's time.
func baseClaims(clock *testClock) jwt.MapClaims {
	now := clock.Now()
	return jwt.MapClaims{
		"iss":   testIssuer,
		"aud":   []string{testAudience},
		"sub":   testSubject,
		"email": testEmail,
		"kind":  string(KindMSA),
		"iat":   now.Unix(),
		"nbf":   now.Unix(),
		"exp":   now.Add(time.Hour).Unix(),
		"jti":   "test-jti",
	}
}

// signWith signs arbitrary claims with the signer's real private key.
func signWith(t testing.TB, s *DevSigner, c jwt.MapClaims) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c).SignedString(s.priv)
	require.NoError(t, err)
	return tok
}

// decodeSegment decodes one base64url segment of a compact JWT into a map.
func decodeSegment(t testing.TB, seg string) map[string]any {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m))
	return m
}

func encodeSegment(t testing.TB, m map[string]any) string {
	t.Helper()
	raw, err := json.Marshal(m)
	require.NoError(t, err)
	return base64.RawURLEncoding.EncodeToString(raw)
}

// requireRejected checks err is an ErrInvalidToken naming reason and that
// its text leaks neither the token nor any of its parts.
func requireRejected(t testing.TB, token string, err error, reason string) {
	t.Helper()
	require.Error(t, err)
	require.ErrorIs(t, err, ErrInvalidToken)
	assert.Equal(t, "auth: invalid token: "+reason, err.Error())
	msg := err.Error()
	if token != "" {
		assert.NotContains(t, msg, token)
	}
	for _, part := range strings.Split(token, ".") {
		if len(part) >= 8 {
			assert.NotContains(t, msg, part)
		}
	}
	assert.NotContains(t, msg, testSubject)
	assert.NotContains(t, msg, testEmail)
}

func TestRoundTrip(t *testing.T) {
	clock := newTestClock()
	s := newSigner(t, t.TempDir(), clock)

	for _, kind := range []Kind{KindEntraID, KindMSA} {
		t.Run(string(kind), func(t *testing.T) {
			token, err := s.Issue(testSubject, testEmail, kind, time.Hour)
			require.NoError(t, err)

			id, err := s.Verifier().Verify(context.Background(), token)
			require.NoError(t, err)
			assert.Equal(t, Identity{Issuer: testIssuer, Subject: testSubject, Email: testEmail, Kind: kind}, id)

			parts := strings.Split(token, ".")
			require.Len(t, parts, 3)
			header := decodeSegment(t, parts[0])
			assert.Equal(t, "EdDSA", header["alg"])
			payload := decodeSegment(t, parts[1])
			now := float64(clock.Now().Unix())
			assert.Equal(t, testIssuer, payload["iss"])
			assert.Equal(t, []any{testAudience}, payload["aud"])
			assert.Equal(t, testSubject, payload["sub"])
			assert.Equal(t, testEmail, payload["email"])
			assert.Equal(t, string(kind), payload["kind"])
			assert.Equal(t, now, payload["iat"])
			assert.Equal(t, now, payload["nbf"])
			assert.Equal(t, now+3600, payload["exp"])
			assert.NotEmpty(t, payload["jti"])
		})
	}
}

func TestIssueUniqueJTI(t *testing.T) {
	clock := newTestClock()
	s := newSigner(t, t.TempDir(), clock)
	a, err := s.Issue(testSubject, testEmail, KindMSA, time.Hour)
	require.NoError(t, err)
	b, err := s.Issue(testSubject, testEmail, KindMSA, time.Hour)
	require.NoError(t, err)
	ja := decodeSegment(t, strings.Split(a, ".")[1])["jti"]
	jb := decodeSegment(t, strings.Split(b, ".")[1])["jti"]
	assert.NotEqual(t, ja, jb)
}

func TestEmptyEmailAllowed(t *testing.T) {
	clock := newTestClock()
	s := newSigner(t, t.TempDir(), clock)
	token, err := s.Issue(testSubject, "", KindEntraID, time.Hour)
	require.NoError(t, err)
	id, err := s.Verifier().Verify(context.Background(), token)
	require.NoError(t, err)
	assert.Equal(t, Identity{Issuer: testIssuer, Subject: testSubject, Kind: KindEntraID}, id)
}

func TestIssueRejectsBadInput(t *testing.T) {
	s := newSigner(t, t.TempDir(), newTestClock())
	cases := []struct {
		name           string
		subject, email string
		kind           Kind
		ttl            time.Duration
	}{
		{"empty subject", "", testEmail, KindMSA, time.Hour},
		{"blank subject", "  ", testEmail, KindMSA, time.Hour},
		{"malformed email", testSubject, "not an email", KindMSA, time.Hour},
		{"display name email", testSubject, "Dev <dev@example.com>", KindMSA, time.Hour},
		{"empty kind", testSubject, testEmail, "", time.Hour},
		{"unknown kind", testSubject, testEmail, "ADMIN", time.Hour},
		{"zero ttl", testSubject, testEmail, KindMSA, 0},
		{"negative ttl", testSubject, testEmail, KindMSA, -time.Minute},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			token, err := s.Issue(tc.subject, tc.email, tc.kind, tc.ttl)
			require.Error(t, err)
			assert.Empty(t, token)
		})
	}
}

func TestVerifyRejects(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	clock := newTestClock()
	s := newSigner(t, dir, clock)
	v := s.Verifier()

	issue := func(t *testing.T) string {
		t.Helper()
		token, err := s.Issue(testSubject, testEmail, KindEntraID, time.Hour)
		require.NoError(t, err)
		return token
	}
	withClaims := func(edit func(jwt.MapClaims)) func(t *testing.T) string {
		return func(t *testing.T) string {
			c := baseClaims(clock)
			edit(c)
			return signWith(t, s, c)
		}
	}

	cases := []struct {
		name   string
		token  func(t *testing.T) string
		reason string
	}{
		{"empty", func(*testing.T) string { return "" }, "empty token"},
		{"garbage", func(*testing.T) string { return "not-a-jwt" }, "malformed"},
		{"too many segments", func(t *testing.T) string { return issue(t) + ".AAAA" }, "malformed"},
		{"too large", func(*testing.T) string { return strings.Repeat("A", MaxTokenLen+1) }, "token too large"},
		{"trailing newline", func(t *testing.T) string { return issue(t) + "\n" }, "malformed"},
		{"embedded whitespace", func(t *testing.T) string {
			tok := issue(t)
			return tok[:len(tok)-10] + "\r\n" + tok[len(tok)-10:]
		}, "malformed"},
		{"non-canonical signature encoding", func(t *testing.T) string {
			tok := issue(t)
			// A 64-byte signature is 86 base64url characters; the last one
			// carries 2 unused bits. Setting one yields the same bytes in
			// lenient decoding, which strict decoding refuses.
			const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
			last := strings.IndexByte(alphabet, tok[len(tok)-1])
			require.GreaterOrEqual(t, last, 0)
			return tok[:len(tok)-1] + string(alphabet[last|1])
		}, "malformed"},
		{"alg none", func(t *testing.T) string {
			tok, err := jwt.NewWithClaims(jwt.SigningMethodNone, baseClaims(clock)).
				SignedString(jwt.UnsafeAllowNoneSignatureType)
			require.NoError(t, err)
			return tok
		}, "disallowed algorithm"},
		{"HS256 keyed with public key (alg confusion)", func(t *testing.T) string {
			tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, baseClaims(clock)).
				SignedString([]byte(s.PublicKey()))
			require.NoError(t, err)
			return tok
		}, "disallowed algorithm"},
		{"HS256 keyed with public key PEM (alg confusion)", func(t *testing.T) string {
			der, err := x509.MarshalPKIXPublicKey(s.PublicKey())
			require.NoError(t, err)
			pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
			tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, baseClaims(clock)).SignedString(pemKey)
			require.NoError(t, err)
			return tok
		}, "disallowed algorithm"},
		{"unknown alg", func(t *testing.T) string {
			parts := strings.Split(issue(t), ".")
			parts[0] = encodeSegment(t, map[string]any{"alg": "XYZ", "typ": "JWT"})
			return strings.Join(parts, ".")
		}, "unsupported algorithm"},
		{"signed by another key", func(t *testing.T) string {
			other := newSigner(t, t.TempDir(), clock)
			require.NotEqual(t, s.PublicKey(), other.PublicKey())
			tok, err := other.Issue(testSubject, testEmail, KindEntraID, time.Hour)
			require.NoError(t, err)
			return tok
		}, "bad signature"},
		{"tampered payload", func(t *testing.T) string {
			parts := strings.Split(issue(t), ".")
			payload := decodeSegment(t, parts[1])
			payload["sub"] = "someone-else"
			parts[1] = encodeSegment(t, payload)
			return strings.Join(parts, ".")
		}, "bad signature"},
		{"tampered kind", func(t *testing.T) string {
			parts := strings.Split(issue(t), ".")
			payload := decodeSegment(t, parts[1])
			payload["kind"] = string(KindMSA)
			parts[1] = encodeSegment(t, payload)
			return strings.Join(parts, ".")
		}, "bad signature"},
		{"signature stripped", func(t *testing.T) string {
			parts := strings.Split(issue(t), ".")
			return parts[0] + "." + parts[1] + "."
		}, "bad signature"},
		{"wrong audience", func(t *testing.T) string {
			// Same key file, different audience.
			other, err := LoadOrCreateDevSigner(dir, testIssuer, "some-other-api", clock.Now)
			require.NoError(t, err)
			tok, err := other.Issue(testSubject, testEmail, KindEntraID, time.Hour)
			require.NoError(t, err)
			return tok
		}, "wrong audience"},
		{"wrong issuer", func(t *testing.T) string {
			other, err := LoadOrCreateDevSigner(dir, "https://evil.example", testAudience, clock.Now)
			require.NoError(t, err)
			tok, err := other.Issue(testSubject, testEmail, KindEntraID, time.Hour)
			require.NoError(t, err)
			return tok
		}, "wrong issuer"},
		{"missing issuer", withClaims(func(c jwt.MapClaims) { delete(c, "iss") }), "missing issuer"},
		{"missing audience", withClaims(func(c jwt.MapClaims) { delete(c, "aud") }), "missing audience"},
		{"missing exp", withClaims(func(c jwt.MapClaims) { delete(c, "exp") }), "missing expiry"},
		{"exp wrong type", withClaims(func(c jwt.MapClaims) { c["exp"] = "tomorrow" }), "malformed"},
		{"iat in the future", withClaims(func(c jwt.MapClaims) {
			delete(c, "nbf")
			c["iat"] = clock.Now().Add(5 * time.Minute).Unix()
		}), "issued in the future"},
		{"missing kind", withClaims(func(c jwt.MapClaims) { delete(c, "kind") }), "missing kind"},
		{"empty kind", withClaims(func(c jwt.MapClaims) { c["kind"] = "" }), "missing kind"},
		{"unknown kind", withClaims(func(c jwt.MapClaims) { c["kind"] = "ADMIN" }), "unknown kind"},
		{"lowercase kind", withClaims(func(c jwt.MapClaims) { c["kind"] = "msa" }), "unknown kind"},
		{"kind wrong type", withClaims(func(c jwt.MapClaims) { c["kind"] = 1 }), "malformed"},
		{"missing subject", withClaims(func(c jwt.MapClaims) { delete(c, "sub") }), "missing subject"},
		{"blank subject", withClaims(func(c jwt.MapClaims) { c["sub"] = " " }), "missing subject"},
		{"malformed email", withClaims(func(c jwt.MapClaims) { c["email"] = "not-an-email" }), "malformed email"},
		{"email with display name", withClaims(func(c jwt.MapClaims) {
			c["email"] = "Mallory <" + testEmail + ">"
		}), "malformed email"},
		{"two emails", withClaims(func(c jwt.MapClaims) { c["email"] = testEmail + ", b@example.com" }), "malformed email"},
		{"crit header", func(t *testing.T) string {
			tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, baseClaims(clock))
			tok.Header["crit"] = []string{"exp-ext"}
			tok.Header["exp-ext"] = true
			str, err := tok.SignedString(s.priv)
			require.NoError(t, err)
			return str
		}, "unsupported critical header"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			token := tc.token(t)
			id, err := v.Verify(ctx, token)
			requireRejected(t, token, err, tc.reason)
			assert.Equal(t, Identity{}, id)
		})
	}
}

func TestExpiry(t *testing.T) {
	clock := newTestClock()
	s := newSigner(t, t.TempDir(), clock)
	token, err := s.Issue(testSubject, testEmail, KindMSA, time.Minute)
	require.NoError(t, err)

	clock.Advance(time.Minute + Leeway - time.Second)
	_, err = s.Verifier().Verify(context.Background(), token)
	require.NoError(t, err, "within leeway after exp")

	clock.Advance(2 * time.Second)
	_, err = s.Verifier().Verify(context.Background(), token)
	requireRejected(t, token, err, "expired")
}

func TestNotYetValid(t *testing.T) {
	clock := newTestClock()
	s := newSigner(t, t.TempDir(), clock)
	token, err := s.Issue(testSubject, testEmail, KindMSA, time.Hour)
	require.NoError(t, err)

	clock.Advance(-(Leeway - time.Second))
	_, err = s.Verifier().Verify(context.Background(), token)
	require.NoError(t, err, "within leeway before nbf")

	clock.Advance(-2 * time.Second)
	_, err = s.Verifier().Verify(context.Background(), token)
	requireRejected(t, token, err, "not yet valid")
}

func TestKeyPersisted(t *testing.T) {
	dir := t.TempDir()
	clock := newTestClock()
	first := newSigner(t, dir, clock)
	second := newSigner(t, dir, clock)
	assert.Equal(t, first.PublicKey(), second.PublicKey())

	token, err := first.Issue(testSubject, testEmail, KindEntraID, time.Hour)
	require.NoError(t, err)
	_, err = second.Verifier().Verify(context.Background(), token)
	require.NoError(t, err)

	path := filepath.Join(dir, DevKeyFile)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(data), "-----BEGIN PRIVATE KEY-----\n"))
	if runtime.GOOS != "windows" {
		info, err := os.Stat(path)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	}
}

func TestPublicKeyIsCopy(t *testing.T) {
	s := newSigner(t, t.TempDir(), newTestClock())
	pk := s.PublicKey()
	pk[0] ^= 0xff
	assert.NotEqual(t, pk, s.PublicKey())
}

func TestConcurrentLoadOrCreate(t *testing.T) {
	// The data directory does not exist yet, so its creation races too.
	dir := filepath.Join(t.TempDir(), "data")
	clock := newTestClock()

	const n = 20
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		keys  = make([][]byte, n)
		errs  = make([]error, n)
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			s, err := LoadOrCreateDevSigner(dir, testIssuer, testAudience, clock.Now)
			errs[i] = err
			if err == nil {
				keys[i] = s.PublicKey()
			}
		}()
	}
	close(start)
	wg.Wait()

	for i := range n {
		require.NoError(t, errs[i], "goroutine %d", i)
		assert.Equal(t, keys[0], keys[i], "goroutine %d got a different key", i)
	}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	assert.Equal(t, []string{DevKeyFile}, names, "temporary files left behind")

	// And the key on disk is the one everyone got.
	later := newSigner(t, dir, clock)
	assert.Equal(t, keys[0], []byte(later.PublicKey()))
}

func TestCorruptKeyFile(t *testing.T) {
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	ecDER, err := x509.MarshalPKCS8PrivateKey(ecKey)
	require.NoError(t, err)

	cases := []struct {
		name     string
		contents []byte
	}{
		{"empty", []byte{}},
		{"garbage", []byte("this is not a key\n")},
		{"wrong PEM type", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1, 2, 3}})},
		{"bad PKCS#8", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}})},
		{"not Ed25519", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER})},
		{"too large", []byte(strings.Repeat("A", maxKeyFileSize+1))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, DevKeyFile)
			require.NoError(t, os.WriteFile(path, tc.contents, 0o600))

			s, err := LoadOrCreateDevSigner(dir, testIssuer, testAudience, nil)
			require.Error(t, err)
			assert.Nil(t, s)
			assert.Contains(t, err.Error(), path)
			assert.Contains(t, err.Error(), "corrupt")

			// The broken file is left for a human to look at.
			after, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.Equal(t, tc.contents, after)
		})
	}

	t.Run("unreadable", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, DevKeyFile)
		// A directory in the key's place cannot be read as a file, even
		// by root.
		require.NoError(t, os.Mkdir(path, 0o700))
		s, err := LoadOrCreateDevSigner(dir, testIssuer, testAudience, nil)
		require.Error(t, err)
		assert.Nil(t, s)
		assert.Contains(t, err.Error(), path)
	})
}

func TestLoadOrCreateRejectsEmptyArgs(t *testing.T) {
	dir := t.TempDir()
	_, err := LoadOrCreateDevSigner("", testIssuer, testAudience, nil)
	assert.Error(t, err)
	_, err = LoadOrCreateDevSigner(dir, "", testAudience, nil)
	assert.Error(t, err)
	_, err = LoadOrCreateDevSigner(dir, testIssuer, "", nil)
	assert.Error(t, err)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries, "no key created on bad arguments")
}

func TestNilClockUsesTimeNow(t *testing.T) {
	s, err := LoadOrCreateDevSigner(t.TempDir(), testIssuer, testAudience, nil)
	require.NoError(t, err)
	token, err := s.Issue(testSubject, testEmail, KindMSA, time.Hour)
	require.NoError(t, err)
	_, err = s.Verifier().Verify(context.Background(), token)
	require.NoError(t, err)
}

func TestConcurrentVerify(t *testing.T) {
	clock := newTestClock()
	s := newSigner(t, t.TempDir(), clock)
	token, err := s.Issue(testSubject, testEmail, KindMSA, time.Hour)
	require.NoError(t, err)
	v := s.Verifier()

	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 20 {
				if _, err := v.Verify(context.Background(), token); err != nil {
					t.Error(err)
					return
				}
				_, _ = s.Issue(testSubject, testEmail, KindMSA, time.Hour)
			}
		})
	}
	wg.Wait()
}

func TestBearerToken(t *testing.T) {
	cases := []struct {
		header string
		want   string
		ok     bool
	}{
		{"Bearer abc.def.ghi", "abc.def.ghi", true},
		{"bearer abc", "abc", true},
		{"BEARER abc", "abc", true},
		{"BeArEr abc", "abc", true},
		{"  Bearer   abc  ", "abc", true},
		{"Bearer a-b_c~d+e/f==", "a-b_c~d+e/f==", true},
		{"", "", false},
		{"Bearer", "", false},
		{"Bearer ", "", false},
		{"Bearer    ", "", false},
		{"Bearer =", "", false},
		{"Basic dXNlcjpwYXNz", "", false},
		{"Bearerabc", "", false},
		{"Bearer\tabc", "", false},
		{"Bearer abc def", "", false},
		{"Bearer abc\n", "", false},
		{"Bearer a=b", "", false},
		{"Bearer ab\x00c", "", false},
		{"Bearer ключ", "", false},
		{"Token abc", "", false},
	}
	for _, tc := range cases {
		got, ok := BearerToken(tc.header)
		assert.Equal(t, tc.ok, ok, "header %q", tc.header)
		assert.Equal(t, tc.want, got, "header %q", tc.header)
	}
}

func TestKindValid(t *testing.T) {
	assert.True(t, KindEntraID.Valid())
	assert.True(t, KindMSA.Valid())
	assert.False(t, Kind("").Valid())
	assert.False(t, Kind("msa").Valid())
}

func FuzzVerify(f *testing.F) {
	clock := newTestClock()
	s, err := LoadOrCreateDevSigner(f.TempDir(), testIssuer, testAudience, clock.Now)
	require.NoError(f, err)
	valid, err := s.Issue(testSubject, testEmail, KindEntraID, time.Hour)
	require.NoError(f, err)
	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, baseClaims(clock)).
		SignedString(jwt.UnsafeAllowNoneSignatureType)
	require.NoError(f, err)
	hs, err := jwt.NewWithClaims(jwt.SigningMethodHS256, baseClaims(clock)).
		SignedString([]byte(s.PublicKey()))
	require.NoError(f, err)

	f.Add(valid)
	f.Add(valid + "\n")
	f.Add(none)
	f.Add(hs)
	f.Add("")
	f.Add("a.b.c")
	f.Add("..")
	f.Add("eyJhbGciOiJFZERTQSJ9.e30.")
	f.Add("eyJhbGciOiJFZERTQSIsImNyaXQiOlsieCJdfQ.eyJzdWIiOiJ4In0.AAAA")

	v := s.Verifier()
	f.Fuzz(func(t *testing.T, token string) {
		id, err := v.Verify(context.Background(), token)
		if token == valid {
			require.NoError(t, err)
			return
		}
		require.Error(t, err, "a token other than the issued one verified")
		require.ErrorIs(t, err, ErrInvalidToken)
		assert.Equal(t, Identity{}, id)
		if len(token) > 12 {
			assert.NotContains(t, err.Error(), token)
		}
	})
}

func FuzzBearerToken(f *testing.F) {
	f.Add("Bearer abc.def.ghi")
	f.Add("bearer x")
	f.Add("  BEARER   tok==  ")
	f.Add("Basic dXNlcjpwYXNz")
	f.Add("Bearer")
	f.Add("Bearer a b")
	f.Add("")
	f.Fuzz(func(t *testing.T, header string) {
		token, ok := BearerToken(header)
		if !ok {
			require.Empty(t, token)
			return
		}
		require.NotEmpty(t, token)
		require.True(t, isB64Token(token))
		require.Contains(t, header, token)
		require.False(t, strings.ContainsAny(token, " \t\r\n"))
		again, ok := BearerToken("Bearer " + token)
		require.True(t, ok)
		require.Equal(t, token, again)
	})
}
