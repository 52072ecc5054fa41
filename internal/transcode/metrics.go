package transcode

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the transcoder's Prometheus collectors.
type Metrics struct {
	encoder  *prometheus.GaugeVec
	restarts *prometheus.CounterVec
	fps      *prometheus.GaugeVec
	speed    *prometheus.GaugeVec
	delay    *prometheus.GaugeVec
	active   prometheus.Gauge
	refused  prometheus.Counter
}

// NewMetrics registers the transcoder's collectors on reg:
// mpegflow_transcode_encoder_info{encoder} (1 for the encoder in use),
// mpegflow_transcode_restarts_total{live_input},
// mpegflow_transcode_fps{live_input,rung},
// mpegflow_transcode_speed{live_input} (media seconds per wall second),
// mpegflow_transcode_delay_seconds{live_input,rung} (how long after its
// source frame reached the hub a rung frame came out of ffmpeg: what the
// rung adds to a viewer's latency),
// mpegflow_transcode_active (ladders running),
// and mpegflow_transcode_capacity_exceeded_total. The budget and its use
// (mpegflow_transcode_capacity_units, _used_units) are the ffmpeg account's
// (ffmpeg.NewMetrics), which every ffmpeg job draws on.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		encoder: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "mpegflow_transcode_encoder_info", Help: "The video encoder transcoding uses (value 1).",
		}, []string{"encoder"}),
		restarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mpegflow_transcode_restarts_total", Help: "ffmpeg transcoder restarts after it died.",
		}, []string{"live_input"}),
		fps: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "mpegflow_transcode_fps", Help: "Frames per second produced by a ladder rung.",
		}, []string{"live_input", "rung"}),
		speed: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "mpegflow_transcode_speed", Help: "Transcode speed: media seconds per wall-clock second (1 = real time).",
		}, []string{"live_input"}),
		delay: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "mpegflow_transcode_delay_seconds", Help: "Time from a source frame's arrival in the hub to its rung frame out of ffmpeg (last frame of each 2 s).",
		}, []string{"live_input", "rung"}),
		active: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mpegflow_transcode_active", Help: "Ladders being transcoded now.",
		}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mpegflow_transcode_capacity_exceeded_total", Help: "Streams left passthrough-only because transcoding was at capacity.",
		}),
	}
	for _, c := range []prometheus.Collector{m.encoder, m.restarts, m.fps, m.speed, m.delay, m.active, m.refused} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
