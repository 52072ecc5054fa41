package postgres

import "github.com/mpegflow/mpegflow/internal/store"

// Webhooks implements store.Store.
func (db *DB) Webhooks() store.Webhooks { return webhooksRepo{db: db} }

type webhooksRepo struct{ db *DB }
