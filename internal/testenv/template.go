package testenv

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/partnersupport/api/internal/app"
	"github.com/partnersupport/api/internal/config"
)

// An environment's seed (the demo data, its grants in the ledger, the start-up repair)
// costs about a hundred store operations. It is written once per test binary and
// configuration, by app.Open itself into a template database, and each environment
// starts from a copy of that database: the same documents, in a few operations per
// collection. app.Open then runs as on a server's second start: it creates the indexes
// (a no-op on an existing one) and repairs, with nothing left to seed.

// templateKey is what the seeded data depends on.
type templateKey struct {
	seedDemo        bool
	seedFile        string
	issuer          string
	activationDelay time.Duration
	reminderWindow  time.Duration
	lowBalance      int
}

type template struct {
	once sync.Once
	db   string
	err  error
}

var templates sync.Map // templateKey → *template

var cloneClient = sync.OnceValues(func() (*mongo.Client, error) {
	return mongo.Connect(options.Client().ApplyURI(shared.uri))
})

// fromTemplate copies the seeded template of cfg into cfg.Database and returns cfg with
// nothing left to seed. It leaves cfg as it is when it seeds nothing or runs on another
// store than the shared one (a proxy in front of it, say).
func fromTemplate(ctx context.Context, cfg config.Config) (config.Config, error) {
	if (!cfg.SeedDemo && cfg.SeedFile == "") || cfg.MongoURI != shared.uri {
		return cfg, nil
	}
	key := templateKey{cfg.SeedDemo, cfg.SeedFile, cfg.Issuer, cfg.ActivationDelay, cfg.ReminderWindow, cfg.LowBalance}
	v, _ := templates.LoadOrStore(key, &template{})
	tpl := v.(*template)
	tpl.once.Do(func() { tpl.db, tpl.err = seedTemplate(cfg) })
	if tpl.err != nil {
		return cfg, tpl.err
	}
	client, err := cloneClient()
	if err != nil {
		return cfg, err
	}
	if err := cloneDatabase(ctx, client, tpl.db, cfg.Database); err != nil {
		return cfg, fmt.Errorf("testenv: copying the template %s: %w", tpl.db, err)
	}
	cfg.SeedDemo, cfg.SeedFile = false, ""
	return cfg, nil
}

// seedTemplate opens the service with cfg on a database of its own, which app.Open
// seeds, runs the start-up repair (which sequences the fixture's grants into the ledger)
// and closes it: every copy starts with the ledger a started server has, and the repair
// each Env still runs finds nothing to do (it cost 0.17 s of the store's CPU per Env when
// each copy sequenced the grants itself, a third of an Env's cost).
func seedTemplate(cfg config.Config) (string, error) {
	dir, err := os.MkdirTemp("", "psapi-template-") // its development signing key
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	cfg.Database, cfg.DataDir = NewDatabaseName(), dir
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a, err := app.Open(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), app.Options{Now: NewClock(DemoNow).Now})
	if err != nil {
		return "", fmt.Errorf("testenv: seeding a template: %w", err)
	}
	if err := a.Service.Repair(ctx); err != nil {
		_ = a.Close(ctx)
		return "", fmt.Errorf("testenv: repairing a template: %w", err)
	}
	return cfg.Database, a.Close(ctx)
}

// cloneDatabase copies every document of every collection of from into to.
func cloneDatabase(ctx context.Context, client *mongo.Client, from, to string) error {
	src, dst := client.Database(from), client.Database(to)
	names, err := src.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		return err
	}
	for _, name := range names {
		cur, err := src.Collection(name).Find(ctx, bson.D{})
		if err != nil {
			return err
		}
		var docs []bson.Raw
		if err := cur.All(ctx, &docs); err != nil {
			return err
		}
		if len(docs) == 0 {
			continue
		}
		if _, err := dst.Collection(name).InsertMany(ctx, docs); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}
