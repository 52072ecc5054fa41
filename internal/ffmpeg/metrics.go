package ffmpeg

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the Prometheus collectors of the capacity account and the
// supervised processes.
type Metrics struct {
	capacity         prometheus.Gauge
	onDemandCapacity prometheus.Gauge
	used             prometheus.Gauge
	classUsed        *prometheus.GaugeVec
	jobs             *prometheus.GaugeVec
	refused          *prometheus.CounterVec
	stalls           prometheus.Counter
}

// NewMetrics registers on reg:
// mpegflow_transcode_capacity_units (the budget, see AccountConfig.Total),
// mpegflow_transcode_capacity_used_units (units taken by every ffmpeg job,
// live and on-demand),
// mpegflow_ffmpeg_on_demand_capacity_units (the on-demand share),
// mpegflow_ffmpeg_capacity_used_units{class},
// mpegflow_ffmpeg_jobs{class} (running), mpegflow_ffmpeg_refused_total{class}
// and mpegflow_ffmpeg_stalls_total (processes the watchdog killed).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		capacity: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mpegflow_transcode_capacity_units", Help: "The ffmpeg budget in units: megapixels per second of output, libx265 weighted x5 (transcode.capacity); every ffmpeg job draws on it.",
		}),
		onDemandCapacity: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mpegflow_ffmpeg_on_demand_capacity_units", Help: "The part of the budget on-demand ffmpeg jobs (thumbnails, MP4 builds) may use.",
		}),
		used: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mpegflow_transcode_capacity_used_units", Help: "Capacity units the running ffmpeg jobs cost (ladders, audio transcodes, thumbnails, MP4 builds).",
		}),
		classUsed: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "mpegflow_ffmpeg_capacity_used_units", Help: "Capacity units the running ffmpeg jobs of a class cost.",
		}, []string{"class"}),
		jobs: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "mpegflow_ffmpeg_jobs", Help: "ffmpeg jobs holding capacity now.",
		}, []string{"class"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mpegflow_ffmpeg_refused_total", Help: "ffmpeg jobs refused because the capacity of their class was used up.",
		}, []string{"class"}),
		stalls: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mpegflow_ffmpeg_stalls_total", Help: "ffmpeg processes killed by the stall watchdog (fed but silent).",
		}),
	}
	for _, c := range []prometheus.Collector{m.capacity, m.onDemandCapacity, m.used, m.classUsed, m.jobs, m.refused, m.stalls} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
