package main

import (
	"context"
	"errors"
	"log/slog"

	"github.com/propolis/propolis/config"
	"github.com/propolis/propolis/hms"
)

func openGlue(ctx context.Context, b config.Backend, log *slog.Logger) (hms.Backend, closer, error) {
	return nil, nil, errors.New("the glue backend is not built into this binary yet")
}
