package auth

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// DevKeyFile is the name of the development signing key inside the data
// directory. It holds a PKCS#8 PEM-encoded Ed25519 private key (mode 0600).
const DevKeyFile = "dev-signing-key.pem"

// pemTypePrivateKey is the PEM block type of a PKCS#8 private key.
const pemTypePrivateKey = "PRIVATE KEY"

// maxKeyFileSize bounds how much of a key file is read; a PEM Ed25519 key
// is about 120 bytes.
const maxKeyFileSize = 64 << 10

// DevSigner is the development signer: an Ed25519 key kept in the data
// directory that issues EdDSA JWTs and verifies the tokens it issued. It is
// for development and tests only; see the package documentation.
//
// A DevSigner is immutable and safe for concurrent use.
type DevSigner struct {
	priv     ed25519.PrivateKey
	pub      ed25519.PublicKey
	issuer   string
	audience string
	now      func() time.Time
	verifier *edVerifier
}

// claims is the JWT claim set issued by DevSigner and accepted by its
// verifier.
type claims struct {
	jwt.RegisteredClaims
	Email string `json:"email,omitempty"`
	Kind  Kind   `json:"kind,omitempty"`
}

// LoadOrCreateDevSigner loads the development signing key from
// <dataDir>/dev-signing-key.pem, creating the directory and a fresh key when
// absent, and returns a signer issuing tokens with the given issuer ("iss")
// and audience ("aud"). now is the clock used for issuing and verifying; nil
// means time.Now.
//
// Creation is atomic: the key is written to a temporary file in dataDir and
// hard-linked into place, so concurrent callers (even in different processes)
// on one data directory all end up with the same key. An unreadable or
// corrupt key file is reported as an error naming the file; it is never
// overwritten.
func LoadOrCreateDevSigner(dataDir, issuer, audience string, now func() time.Time) (*DevSigner, error) {
	switch {
	case dataDir == "":
		return nil, errors.New("auth: dev signer: empty data directory")
	case issuer == "":
		return nil, errors.New("auth: dev signer: empty issuer")
	case audience == "":
		return nil, errors.New("auth: dev signer: empty audience")
	}
	if now == nil {
		now = time.Now
	}
	priv, err := loadOrCreateKey(filepath.Join(dataDir, DevKeyFile))
	if err != nil {
		return nil, err
	}
	pub := priv.Public().(ed25519.PublicKey)
	return &DevSigner{
		priv:     priv,
		pub:      pub,
		issuer:   issuer,
		audience: audience,
		now:      now,
		verifier: newEdVerifier(pub, issuer, audience, now),
	}, nil
}

// PublicKey returns a copy of the signer's Ed25519 public key.
func (s *DevSigner) PublicKey() ed25519.PublicKey {
	return append(ed25519.PublicKey(nil), s.pub...)
}

// Verifier returns a Verifier that accepts exactly the tokens this signer
// issued (same key, issuer and audience) while they are within their
// validity window, allowing 30 seconds of clock skew.
func (s *DevSigner) Verifier() Verifier {
	return s.verifier
}

// Issue mints a token for subject with the given email and account kind,
// valid from now for ttl. email may be empty; otherwise it must be a bare
// address such as "dev@example.com".
func (s *DevSigner) Issue(subject, email string, kind Kind, ttl time.Duration) (string, error) {
	switch {
	case strings.TrimSpace(subject) == "":
		return "", errors.New("auth: issue: empty subject")
	case email != "" && !validEmail(email):
		return "", errors.New("auth: issue: malformed email")
	case !kind.Valid():
		return "", fmt.Errorf("auth: issue: unknown kind %q", kind)
	case ttl <= 0:
		return "", fmt.Errorf("auth: issue: non-positive ttl %v", ttl)
	}
	now := s.now()
	c := claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    s.issuer,
			Subject:   subject,
			Audience:  jwt.ClaimStrings{s.audience},
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
			NotBefore: jwt.NewNumericDate(now),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        rand.Text(),
		},
		Email: email,
		Kind:  kind,
	}
	token, err := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c).SignedString(s.priv)
	if err != nil {
		return "", fmt.Errorf("auth: issue: signing: %w", err)
	}
	return token, nil
}

// loadOrCreateKey reads the key at path, creating it first if it does not
// exist. If another caller creates it concurrently, the winner's key is used.
func loadOrCreateKey(path string) (ed25519.PrivateKey, error) {
	priv, err := readKey(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return priv, err
	}
	priv, err = createKey(path)
	if errors.Is(err, fs.ErrExist) {
		// Lost the race: the file was linked into place fully written,
		// so it is safe to read now.
		return readKey(path)
	}
	return priv, err
}

// readKey reads and parses the key file at path. A missing file yields an
// error matching fs.ErrNotExist.
func readKey(path string) (ed25519.PrivateKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("auth: reading dev signing key %s: %w", path, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("auth: reading dev signing key %s: %w", path, err)
	}
	if len(data) > maxKeyFileSize {
		return nil, fmt.Errorf("auth: dev signing key %s is corrupt: file too large (remove it to generate a new key)", path)
	}
	priv, err := parseKey(data)
	if err != nil {
		return nil, fmt.Errorf("auth: dev signing key %s is corrupt: %w (remove it to generate a new key)", path, err)
	}
	return priv, nil
}

// parseKey decodes a PKCS#8 PEM Ed25519 private key.
func parseKey(data []byte) (ed25519.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block found")
	}
	if block.Type != pemTypePrivateKey {
		return nil, fmt.Errorf("PEM block type is %q, want %q", block.Type, pemTypePrivateKey)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parsing PKCS#8: %w", err)
	}
	priv, ok := key.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("key is %T, want Ed25519", key)
	}
	return priv, nil
}

// createKey generates a key and atomically creates path holding it. If path
// already exists it returns an error matching fs.ErrExist and leaves the
// existing file untouched.
func createKey(path string) (ed25519.PrivateKey, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("auth: creating data directory for dev signing key %s: %w", path, err)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("auth: generating dev signing key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("auth: encoding dev signing key: %w", err)
	}
	data := pem.EncodeToMemory(&pem.Block{Type: pemTypePrivateKey, Bytes: der})

	// os.CreateTemp creates the file with mode 0600.
	tmp, err := os.CreateTemp(dir, "."+DevKeyFile+".*.tmp")
	if err != nil {
		return nil, fmt.Errorf("auth: creating dev signing key %s: %w", path, err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName)
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("auth: writing dev signing key %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("auth: writing dev signing key %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("auth: writing dev signing key %s: %w", path, err)
	}
	// Link fails if path exists, so exactly one creator wins and readers
	// never see a partially written file.
	if err := os.Link(tmpName, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, err
		}
		return nil, fmt.Errorf("auth: installing dev signing key %s: %w", path, err)
	}
	syncDir(dir)
	return priv, nil
}

// syncDir makes a new directory entry durable where the platform supports
// it; failures are ignored since the key file itself is already synced.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}
