package postgres

import "github.com/mpegflow/mpegflow/internal/store"

// SigningKeys implements store.Store.
func (db *DB) SigningKeys() store.SigningKeys { return signingRepo{db: db} }

type signingRepo struct{ db *DB }
