package main

import (
	"context"
	"log/slog"

	"github.com/propolis/propolis/config"
	"github.com/propolis/propolis/hms"
	"github.com/propolis/propolis/hms/glue"
)

type nopCloser struct{}

func (nopCloser) Close() error { return nil }

func openGlue(ctx context.Context, b config.Backend, warehouse string, log *slog.Logger) (hms.Backend, closer, error) {
	c, err := glue.New(ctx, glue.Config{
		Name:            b.Name,
		Region:          b.Glue.Region,
		Endpoint:        b.Glue.Endpoint,
		CatalogID:       b.Glue.CatalogID,
		AccessKeyID:     b.Glue.AccessKeyID,
		SecretAccessKey: b.Glue.SecretAccessKey,
		CallTimeout:     b.Glue.CallTimeout,
		Warehouse:       warehouse,
	}, log)
	if err != nil {
		return nil, nil, err
	}
	return c, nopCloser{}, nil
}
