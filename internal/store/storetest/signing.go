package storetest

// signingCases is the conformance suite of store.SigningKeys.
func signingCases() []testCase { return nil }
