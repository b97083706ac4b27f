// Package dashboard serves the live dashboard page, built from web/dashboard with npm and
// embedded in the binary, so running the server needs no Node.
package dashboard

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed all:dist
var dist embed.FS

// Handler serves the built dashboard.
func Handler() http.Handler {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // the embed pattern guarantees dist exists
	}
	return http.FileServer(http.FS(sub))
}
