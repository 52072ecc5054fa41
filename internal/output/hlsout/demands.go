package hlsout

import "context"

// Demands is the Demand of several on-demand sources: a viewer's request
// reaches every one. Sources are added while the daemon is composed,
// before anything runs (it is not safe for concurrent Add).
type Demands []Demand

// Add adds a source that runs only while watched.
func (s *Demands) Add(d Demand) { *s = append(*s, d) }

// Demand implements Demand: the releases of every source that holds the
// stream, in one (nil when none does). When one source fails, those that
// already hold it are released.
func (s *Demands) Demand(ctx context.Context, id string) (func(), error) {
	var rels []func()
	for _, d := range *s {
		rel, err := d.Demand(ctx, id)
		if err != nil {
			for _, r := range rels {
				r()
			}
			return nil, err
		}
		if rel != nil {
			rels = append(rels, rel)
		}
	}
	if len(rels) == 0 {
		return nil, nil
	}
	return func() {
		for _, r := range rels {
			r()
		}
	}, nil
}
