package postgres

import "github.com/mpegflow/mpegflow/internal/store"

// Videos implements store.Store.
func (db *DB) Videos() store.Videos { return videosRepo{db: db} }

type videosRepo struct{ db *DB }
