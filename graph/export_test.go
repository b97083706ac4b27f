package graph

// For the tests of package graph_test: the global ID codec (globalid.go).

// GlobalIDKey is the key inside a global ID, and its type; "" for a malformed one.
func GlobalIDKey(id string) (typ, key string) {
	typ, key, _ = parseGlobalID(id)
	return typ, key
}
