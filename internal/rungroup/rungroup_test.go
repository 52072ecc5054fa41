package rungroup

import (
	"errors"
	"slices"
	"sync"
	"testing"
)

func TestRunStopsInReverseOrder(t *testing.T) {
	tests := []struct {
		name    string
		failing int // index of the actor that returns first
		err     error
	}{
		{"clean stop", 3, nil},
		{"failure in the middle", 1, errors.New("boom")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var g Group
			var mu sync.Mutex
			var order []int
			trigger := make(chan struct{})
			for i := range 4 {
				stop := make(chan struct{})
				g.Add("a", func() error {
					if i == tt.failing {
						<-trigger
						return tt.err
					}
					<-stop
					mu.Lock()
					order = append(order, i)
					mu.Unlock()
					return nil
				}, func(error) { close(stop) })
			}
			close(trigger)
			err := g.Run()
			if !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			var want []int
			for i := 3; i >= 0; i-- {
				if i != tt.failing {
					want = append(want, i)
				}
			}
			if !slices.Equal(order, want) {
				t.Fatalf("stop order %v, want %v", order, want)
			}
		})
	}
}

func TestRunEmpty(t *testing.T) {
	var g Group
	if err := g.Run(); err != nil {
		t.Fatal(err)
	}
}
