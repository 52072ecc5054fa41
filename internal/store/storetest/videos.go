package storetest

// videosCases is the conformance suite of store.Videos.
func videosCases() []testCase { return nil }
