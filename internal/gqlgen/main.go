// Command gqlgen is `gqlgen generate` with one plugin more, sequential; `make generate`
// runs it. It reads gqlgen.yml as gqlgen does.
//
// gqlgen resolves every resolver field, and every field bound to a method that takes a
// context, on a goroutine of its own, whatever the field does; only Mutation's fields run
// in turn (codegen.Field.IsConcurrent), and gqlgen.yml has no setting for it. Most of our
// resolver fields do no I/O: they map their parent object to the API's shape (a global ID,
// null for an empty string, graph/nullable.go), and a goroutine for each costs more than
// the field. The types whose every such field is a pure mapping carry @sequential in
// schema.graphqls, and this plugin has gqlgen resolve their fields in place.
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"os"

	"github.com/99designs/gqlgen/api"
	"github.com/99designs/gqlgen/codegen"
	"github.com/99designs/gqlgen/codegen/config"
)

func main() {
	verbose := flag.Bool("v", false, "show gqlgen's logs")
	flag.Parse()
	if !*verbose { // as `gqlgen generate`
		log.SetOutput(io.Discard)
	}
	cfg, err := config.LoadConfigFromDefaultLocations()
	if err == nil {
		err = api.Generate(cfg, api.AddPlugin(sequential{}))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "generate:", err)
		os.Exit(1)
	}
}

// directive marks an object type of the schema whose fields gqlgen resolves in place.
const directive = "sequential"

// sequential turns concurrency off for the object types marked @sequential. A type
// qualifies only if none of its resolvers, nor any method a field is bound to that takes a
// context, reads the store or calls a service: a read, and a dataloader above all, must
// stay concurrent with its siblings. The directive is for code generation only: it has no
// runtime implementation, and clients have nothing to do with it.
type sequential struct{}

func (sequential) Name() string { return "sequential" }

// MutateConfig keeps @sequential out of the generated DirectiveRoot, as gqlgen does for
// its own code generation directives (@goModel, @goField).
func (sequential) MutateConfig(cfg *config.Config) error {
	cfg.Directives[directive] = config.DirectiveConfig{SkipRuntime: true}
	return nil
}

// GenerateCode runs after gqlgen has built its data and before it writes the code.
func (sequential) GenerateCode(data *codegen.Data) error {
	for _, o := range data.Objects {
		if o.Definition.Directives.ForName(directive) == nil {
			continue
		}
		if o.Root {
			return fmt.Errorf("%s: @%s is for object types, not a root operation type", o.Name, directive)
		}
		if !o.IsConcurrent() {
			return fmt.Errorf("%s: @%s on a type none of whose fields runs on a goroutine: remove it", o.Name, directive)
		}
		o.DisableConcurrency = true
	}
	return nil
}
