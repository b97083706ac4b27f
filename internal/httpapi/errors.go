package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/partnersupport/api/internal/domain"
)

// presentError is the one error presenter. An expected refusal (*domain.Error) is shown
// with its code, rule and any safe metadata in extensions. Anything else is a fault: it is
// logged with detail and shown as a generic message with code INTERNAL, so internal
// messages (driver errors, stack details) never reach a client.
//
// Without introspection (suggest false), a validation message keeps no "Did you mean …?":
// gqlgen's SetDisableSuggestion drops the field suggestions, not those of enum values or
// arguments, and any of them would give the schema away name by name.
func presentError(log *slog.Logger, suggest bool) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		var gqlErr *gqlerror.Error
		if errors.As(err, &gqlErr) && gqlErr.Err == nil {
			// Parse and validation errors from gqlparser: safe to show as they are.
			if !suggest {
				if i := strings.Index(gqlErr.Message, " Did you mean "); i >= 0 {
					gqlErr.Message = gqlErr.Message[:i]
				}
			}
			if gqlErr.Extensions == nil {
				gqlErr.Extensions = map[string]any{}
			}
			if _, ok := gqlErr.Extensions["code"]; !ok {
				gqlErr.Extensions["code"] = string(domain.EINVALID)
			}
			return gqlErr
		}
		path := graphql.GetPath(ctx)
		if e, ok := domain.AsError(err); ok && e.Code != domain.EINTERNAL {
			ext := map[string]any{"code": string(e.Code)}
			if e.Rule != "" {
				ext["rule"] = e.Rule
			}
			for k, v := range e.Meta {
				ext[k] = v
			}
			return &gqlerror.Error{Message: e.Message, Path: path, Extensions: ext}
		}
		log.ErrorContext(ctx, "internal error", "path", path.String(), "err", err)
		return &gqlerror.Error{Message: "internal error", Path: path, Extensions: map[string]any{"code": string(domain.EINTERNAL)}}
	}
}

// recoverPanic logs a resolver panic with its stack and returns an internal error.
func recoverPanic(log *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, p any) error {
		log.ErrorContext(ctx, "panic in resolver", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		return errors.New("internal error")
	}
}
