package app

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// A fixture is skipped on a restart only when it is the very same: another text, or the
// same text loaded for another issuer, is loaded again.
func TestFixtureMarker_NamesTheTextAndTheIssuer(t *testing.T) {
	a := fixtureMarker([]byte("tenants: []\n"), "dev")
	assert.Equal(t, a, fixtureMarker([]byte("tenants: []\n"), "dev"), "same fixture, same marker")
	assert.NotEqual(t, a, fixtureMarker([]byte("tenants: [] \n"), "dev"), "one byte changed")
	assert.NotEqual(t, a, fixtureMarker([]byte("tenants: []\n"), "https://login.example/"), "another issuer")
	assert.Regexp(t, `^fixture [0-9a-f]{64}$`, a)
}
