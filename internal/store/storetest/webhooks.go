package storetest

// webhooksCases is the conformance suite of store.Webhooks.
func webhooksCases() []testCase { return nil }
