package testenv

import (
	"sync"

	"github.com/partnersupport/api/internal/auth"
	"github.com/partnersupport/api/internal/fixture"
)

var demoKinds = sync.OnceValue(func() map[string]auth.Kind {
	m := map[string]auth.Kind{}
	for _, a := range fixture.Demo().Accounts {
		m[a.Email] = auth.Kind(a.Kind)
	}
	return m
})
