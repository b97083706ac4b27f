package clients_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/partnersupport/api/internal/testenv"
)

// TestGraphQLOverHTTPAudits runs graphql-http's serverAudits (the GraphQL-over-HTTP
// spec's conformance audits) against the built server binary: every MUST and every SHOULD
// passes, and a mutation over GET is 405 with Allow: POST (http-audit.mjs).
func TestGraphQLOverHTTPAudits(t *testing.T) {
	p := testenv.Start(t, []string{"--data-dir", t.TempDir(), "--listen", "127.0.0.1:0", "--store-addr", "127.0.0.1:0", "--log-level", "error"})
	require.NoError(t, p.WaitReady(60*time.Second))
	out := node(t, "http-audit.mjs", "API=http://"+p.Addr+"/query")
	require.Contains(t, out, "0 MUST or SHOULD failed")
}

// TestGraphQLWSClient: the graphql-ws npm client subscribes from a cursor and receives
// the event of a request opened meanwhile; a bad token is closed with 4403 (graphql-ws.mjs).
func TestGraphQLWSClient(t *testing.T) {
	e := testenv.New(t)
	lee := linkedLee(t, e)
	out := node(t, "graphql-ws.mjs", "API="+e.Server.URL+"/query", "TOKEN="+lee, "PLAN="+spdCloud)
	require.Contains(t, out, "received CONSUME")
	require.Contains(t, out, "closed with 4403")
}

// schemaLintRules are graphql-schema-linter's rules but the ordering ones (fields, enum
// values and input fields in alphabetical order): the schema orders them for readers.
const schemaLintRules = "arguments-have-descriptions,defined-types-are-used,deprecations-have-a-reason," +
	"descriptions-are-capitalized,enum-values-all-caps,enum-values-have-descriptions,fields-are-camel-cased," +
	"fields-have-descriptions,input-object-values-are-camel-cased,input-object-values-have-descriptions," +
	"relay-connection-types-spec,relay-connection-arguments-spec,relay-page-info-spec,types-are-capitalized," +
	"types-have-descriptions"

// TestSchemaLinter: graphql-schema-linter finds nothing in schema.graphqls: every type,
// field, argument and enum value is described, and connections follow Relay's spec.
func TestSchemaLinter(t *testing.T) {
	node(t, "node_modules/graphql-schema-linter/lib/cli.js", "--format", "compact", "--rules", schemaLintRules, "../../../schema.graphqls")
}
