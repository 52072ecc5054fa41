package storetest

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/mpegflow/mpegflow/internal/store"
)

// benchRows is how many live inputs BenchmarkGetLiveInput reads among.
const benchRows = 1000

// BenchmarkGetLiveInput measures LiveInputs.Get of a random one of 1,000
// rows: "serial" one caller, "parallel" GOMAXPROCS callers (b.RunParallel).
// open returns a fresh store closed at the cleanup of tb.
func BenchmarkGetLiveInput(b *testing.B, open func(tb testing.TB) store.Store) {
	s := open(b)
	for i := range benchRows {
		li := fullLiveInput(fmt.Sprintf("li_bench_%06d", i))
		li.StreamKey = fmt.Sprintf("sk_bench_%06d", i)
		li.StreamKeyHash = keyHash(li.StreamKey)
		mustCreate(b, s, li)
	}
	id := func(i uint64) string { return fmt.Sprintf("li_bench_%06d", (i*7919)%benchRows) }
	b.Run("serial", func(b *testing.B) {
		var i uint64
		for b.Loop() {
			i++
			if _, err := s.LiveInputs().Get(b.Context(), id(i)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		var n atomic.Uint64
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.LiveInputs().Get(b.Context(), id(n.Add(1))); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkCreateLiveInput measures LiveInputs.Create of a live input with
// every field set: "serial" one caller, "parallel" GOMAXPROCS callers.
func BenchmarkCreateLiveInput(b *testing.B, open func(tb testing.TB) store.Store) {
	s := open(b)
	var n atomic.Uint64
	create := func(b *testing.B) error {
		i := n.Add(1)
		li := fullLiveInput(fmt.Sprintf("li_create_%09d", i))
		li.StreamKey = fmt.Sprintf("sk_create_%09d", i)
		li.StreamKeyHash = keyHash(li.StreamKey)
		return s.LiveInputs().Create(b.Context(), li)
	}
	b.Run("serial", func(b *testing.B) {
		for b.Loop() {
			if err := create(b); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := create(b); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
