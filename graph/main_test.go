package graph_test

import (
	"os"
	"testing"

	"github.com/partnersupport/api/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }
