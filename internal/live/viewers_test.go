package live

import "testing"

type fixedViewers map[string]int

func (f fixedViewers) Viewers(id string) int { return f[id] }

func TestViewerSum(t *testing.T) {
	var s ViewerSum
	if s.Viewers("a") != 0 {
		t.Fatal("empty sum counts viewers")
	}
	s.Add(fixedViewers{"a": 2})
	s.Add(fixedViewers{"a": 3, "b": 1})
	if a, b := s.Viewers("a"), s.Viewers("b"); a != 5 || b != 1 {
		t.Fatalf("a %d b %d", a, b)
	}
}
