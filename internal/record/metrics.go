package record

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Register exports the recorder's counters on reg.
func (r *Recorder) Register(reg prometheus.Registerer) error {
	counter := func(name, help string, v func(Stats) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(v(r.Stats())) })
	}
	var errs []error
	for _, c := range []prometheus.Collector{
		counter("mpegflow_recording_segments_total", "CMAF segments recorded to blob storage and indexed.",
			func(s Stats) uint64 { return s.SegmentsWritten }),
		counter("mpegflow_recording_bytes_total", "Bytes of segments recorded.",
			func(s Stats) uint64 { return s.BytesWritten }),
		counter("mpegflow_recording_segments_dropped_total", "Segments not recorded because the recorder's queue was full (storage too slow).",
			func(s Stats) uint64 { return s.SegmentsDropped }),
		counter("mpegflow_recording_write_errors_total", "Segments or init segments that could not be stored or indexed.",
			func(s Stats) uint64 { return s.WriteErrors }),
		counter("mpegflow_recording_recovered_total", "Interrupted recordings this node recovered (its own after a restart, or those of a node whose lease ran out).",
			func(s Stats) uint64 { return s.Recovered }),
		counter("mpegflow_recording_leases_lost_total", "Recordings another node's recovery took from this node (it was cut off from the database past its lease).",
			func(s Stats) uint64 { return s.LeasesLost }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "mpegflow_recordings_active", Help: "Recordings in progress on this node."},
			func() float64 { return float64(r.Stats().Active) }),
	} {
		errs = append(errs, reg.Register(c))
	}
	return errors.Join(errs...)
}
