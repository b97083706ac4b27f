package mongodb

import "testing"

// SetMaxBulkForTest makes bulk inserts take n documents at a time until the test ends, so
// that a test of the splitting needs a fixture of a few hundred documents, not thousands.
// Tests that call it must not run in parallel with other tests of the package.
func SetMaxBulkForTest(t *testing.T, n int) {
	old := maxBulk
	maxBulk = n
	t.Cleanup(func() { maxBulk = old })
}
