package graphiql_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/partnersupport/api/internal/graphiql"
)

// TestHandlerServesThePageAndItsAssetsOnly: the page with a CSP that keeps it on its
// origin, every asset it names, and no directory listing.
func TestHandlerServesThePageAndItsAssetsOnly(t *testing.T) {
	srv := httptest.NewServer(graphiql.Handler())
	defer srv.Close()
	get := func(path string) (*http.Response, string) {
		resp, err := http.Get(srv.URL + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp, string(b)
	}
	resp, page := get("/")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, resp.Header.Get("Content-Security-Policy"), "connect-src 'self'")
	assets := regexp.MustCompile(`(?:src|href)="\./(graphiql/[^"]+)"`).FindAllStringSubmatch(page, -1)
	require.NotEmpty(t, assets)
	for _, a := range assets {
		resp, _ := get("/" + a[1])
		require.Equal(t, http.StatusOK, resp.StatusCode, a[1])
	}
	resp, _ = get("/graphiql/")
	require.Equal(t, http.StatusNotFound, resp.StatusCode, "no directory listing")
}
