package pool

import (
	"sync"

	"modernc.org/libc"
)

// Not upstream (PATCHES.md, 9).
//
// SQLite here is modernc.org/sqlite, whose C allocator (modernc.org/memory through
// modernc.org/libc, one per process) serves blocks of up to 256 KiB from 1 MiB pages
// mapped per power-of-two size class, and unmaps a page as soon as its last block is
// freed. A size class that SQLite uses one block at a time (a B-tree balance's scratch
// space, when an insert splits a page, is the common one) therefore costs an mmap and a
// munmap of 1 MiB per use: a quarter of the CPU time of an insert into a collection with
// indexes went to those system calls. pinAllocatorPages keeps one block of every size
// class allocated for the life of the process, so that no class's last page is ever
// unmapped and mapped again.

// minClassLog and maxClassLog bound the allocator's size classes: 2^4 (its alignment) to 2^18 (a
// quarter of its 2^20-byte page).
const minClassLog, maxClassLog = 4, 18

var pinOnce sync.Once

// pinned holds the pinned blocks (never freed).
var pinned []uintptr

// pinAllocatorPages pins one block of every size class, once per process.
func pinAllocatorPages() {
	pinOnce.Do(func() {
		tls := libc.NewTLS()
		defer tls.Close()

		for k := minClassLog; k <= maxClassLog; k++ {
			pinned = append(pinned, libc.Xmalloc(tls, libc.Tsize_t(1)<<k))
		}
	})
}
