package graph

// For the tests of package graph_test: the global ID codec (globalid.go).

// GlobalID is the global ID of the object of GraphQL type typ with this key.
func GlobalID(typ, key string) string { return globalID(typ, key) }

// GlobalIDKey is the key inside a global ID, and its type; "" for a malformed one.
func GlobalIDKey(id string) (typ, key string) {
	typ, key, _ = parseGlobalID(id)
	return typ, key
}
