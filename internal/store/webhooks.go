package store

// Webhooks persists the data of webhooks (issue 7).
// (Extension point: the feature fills this interface in.)
type Webhooks interface{}
