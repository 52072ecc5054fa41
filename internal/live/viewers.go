package live

// ViewerSum is the viewers of every output of a live input (LL-HLS, WHEP)
// in one Viewers. Outputs are added while the daemon is composed, before
// anything runs (it is not safe for concurrent Add).
type ViewerSum []Viewers

// Add adds an output whose viewers count.
func (s *ViewerSum) Add(v Viewers) { *s = append(*s, v) }

// Viewers implements Viewers.
func (s *ViewerSum) Viewers(id string) int {
	n := 0
	for _, v := range *s {
		n += v.Viewers(id)
	}
	return n
}
