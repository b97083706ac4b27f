package httpapi

import (
	"encoding/json"
	"net/http"
	"strings"
)

// DevAccount is a demo account offered by the development sign-in.
type DevAccount struct {
	Email string   `json:"email"`
	Kind  string   `json:"kind"`
	Roles []string `json:"roles"` // "tenant:ROLE"
}

// DevAuth is the development sign-in: only with --dev-auth, which is off by default.
// GET /dev/accounts lists the demo accounts; POST /dev/token {"email"} mints a token for
// one. It exists so that a person can try the API and the dashboard without an identity
// provider; it must never be enabled in production (SECURITY.md).
type DevAuth struct {
	Accounts []DevAccount
	Issue    func(email string) (string, error)
}

func (d *DevAuth) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /dev/accounts", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, d.Accounts)
	})
	mux.HandleFunc("POST /dev/token", func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			writeJSON(w, http.StatusUnsupportedMediaType, map[string]string{"error": "send application/json"})
			return
		}
		var in struct {
			Email string `json:"email"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&in); err != nil || in.Email == "" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "send {\"email\": \"…\"}"})
			return
		}
		for _, a := range d.Accounts {
			if strings.EqualFold(a.Email, in.Email) {
				tok, err := d.Issue(a.Email)
				if err != nil {
					writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "internal error"})
					return
				}
				writeJSON(w, http.StatusOK, map[string]string{"token": tok})
				return
			}
		}
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "not a demo account"})
	})
}
