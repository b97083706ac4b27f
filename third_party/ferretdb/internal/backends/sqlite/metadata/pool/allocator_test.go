package pool

import (
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
	"modernc.org/libc"
)

// Once the allocator's pages are pinned (PATCHES.md, 9), a block of any size class that
// is allocated, written and freed again and again reuses memory that stays mapped: after
// a first round that touches each class's pinned page once (the allocator takes fresh
// slots before freed ones), the process takes (almost) no page faults for it. Without the
// pin each cycle maps a fresh page and faults at least once on it (15 classes × 200
// cycles: ≥ 3,000 faults).
func TestPinnedAllocatorPagesAreNotMappedAgain(t *testing.T) {
	pinAllocatorPages()

	tls := libc.NewTLS()
	defer tls.Close()

	cycle := func(k int) {
		p := libc.Xmalloc(tls, libc.Tsize_t(1)<<k)
		require.NotZero(t, p)
		libc.Xmemset(tls, p, 1, 1) // touch it
		libc.Xfree(tls, p)
	}

	for k := minClassLog; k <= maxClassLog; k++ {
		for range 1 << (20 - k) { // at least a page's worth of slots
			cycle(k)
		}
	}

	faults := func() int64 {
		var ru syscall.Rusage
		require.NoError(t, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
		return ru.Minflt
	}

	const cycles = 200

	before := faults()

	for range cycles {
		for k := minClassLog; k <= maxClassLog; k++ {
			cycle(k)
		}
	}

	n := faults() - before
	t.Logf("%d page faults in %d cycles of %d size classes", n, cycles, maxClassLog-minClassLog+1)
	require.Less(t, n, int64(cycles), "freed blocks stay in mapped pages")
}
