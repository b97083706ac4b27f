package app_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/partnersupport/api/internal/app"
	"github.com/partnersupport/api/internal/testenv"
	"github.com/partnersupport/api/internal/testenv/storeproxy"
)

// The crash repair runs beside the API, never before it (issue 13: start to first answer
// must not grow with the store): while the store holds the repair's reads, queries are
// answered; once it answers, the repair completes, and it runs again periodically, so
// that a restart's repair reads only the writes since the last periodic one.
func TestMaintain_RepairRunsBesideTheAPIAndPeriodically(t *testing.T) {
	proxy := startProxy(t)
	e := testenv.New(t, testenv.WithStoreURI(proxy.URI()))
	tok := e.Token("lee@contoso.com")

	// The repair's first read after its checkpoint is the refunds since then.
	repairRead := storeproxy.Command{Name: "find", Collection: "refunds"}
	proxy.Hold(func(c storeproxy.Command) bool { return c == repairRead })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.App.Maintain(ctx, app.Upkeep{Sweep: 10 * time.Millisecond, Repair: 10 * time.Millisecond}, slog.New(slog.DiscardHandler))
	}()
	t.Cleanup(func() { cancel(); proxy.Release(); <-done })
	testenv.WaitFor(t, 10*time.Second, "the repair to wait on the store", func() bool { return proxy.Held() == 1 })
	var v struct{ Viewer struct{ Email string } }
	e.Do(tok, `{ viewer { email } }`, nil).MustData(t, &v)
	assert.Equal(t, "lee@contoso.com", v.Viewer.Email, "answered while the repair waits")

	before := proxy.Counts()[repairRead]
	proxy.Release()
	testenv.WaitFor(t, 20*time.Second, "three more repairs", func() bool { return proxy.Counts()[repairRead]-before >= 3 })

	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Maintain did not return when its context ended")
	}
}
