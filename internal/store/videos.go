package store

// Videos persists the data of recording and videos (issue 8).
// (Extension point: the feature fills this interface in.)
type Videos interface{}
