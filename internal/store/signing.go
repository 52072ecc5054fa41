package store

// SigningKeys persists the data of signed playback (issue 6).
// (Extension point: the feature fills this interface in.)
type SigningKeys interface{}
