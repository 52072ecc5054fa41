package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/mpegflow/mpegflow/internal/loadtest"
)

// printTable writes the human summary of a run.
func printTable(w io.Writer, r *loadtest.Report) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	opt := func(v *float64, unit string) string {
		if v == nil {
			return "n/a"
		}
		return fmt.Sprintf("%.1f %s", *v, unit)
	}
	signed := ""
	if r.Signed {
		signed = " with ?token= (require_signed_urls)"
		if r.TokenIn == "path" {
			signed = " with the token in the path (require_signed_urls)"
		}
	}
	if r.Record {
		signed += ", recording on"
	}
	if r.TokenPerReader {
		signed += ", a token per reader"
	}
	if !r.Gzip {
		signed += ", no gzip"
	}
	fmt.Fprintf(tw, "load\t%d %s publishers (B-frames %d), %d readers%s, %.1f s measured\n", r.Publishers, r.Protocol, r.BFrames, r.Readers, signed, r.DurationS)
	if r.CameraSessions != nil {
		fmt.Fprintf(tw, "pulled cameras\t%d playing at the end of the measured period; %d packets the camera could not send\n",
			*r.CameraSessions, *r.CameraDropped)
	}
	fmt.Fprintf(tw, "server CPU\t%s\n", opt(r.CPUPctOneCore, "% of one core"))
	fmt.Fprintf(tw, "server peak RSS\t%s\n", opt(r.PeakRSSMB, "MB"))
	fmt.Fprintf(tw, "server RSS\t%s at the start, %s at the end of the measured period\n", opt(r.RSSStartMB, "MB"), opt(r.RSSEndMB, "MB"))
	if r.DiskWriteBps != nil {
		fmt.Fprintf(tw, "server disk writes\t%.2f MB/s (write_bytes)\n", *r.DiskWriteBps/1e6)
	}
	for _, p := range r.Series {
		line := fmt.Sprintf("  at %.0f s\tRSS %.1f MB", p.AtS, p.RSSMB)
		if p.CPUPct >= 0 {
			line += fmt.Sprintf(", CPU %.1f%%", p.CPUPct)
		}
		if p.DiskWriteBps >= 0 {
			line += fmt.Sprintf(", disk writes %.2f MB/s", p.DiskWriteBps/1e6)
		}
		fmt.Fprintln(tw, line)
	}
	if len(r.Transcode) > 0 {
		fmt.Fprintf(tw, "transcode\tladder %s; at the end of the measured period:\n", strings.Join(r.Transcode, ", "))
		for _, m := range r.TranscodeMetrics {
			fmt.Fprintf(tw, "\t%s\n", m)
		}
	}
	if r.RecordedMB != nil && r.Videos != nil && (r.Record || *r.Videos > 0) {
		fmt.Fprintf(tw, "recorded\t%d videos, %.1f MB in data_dir/blobs\n", *r.Videos, *r.RecordedMB)
	}
	if r.TreeCPUPct != nil {
		fmt.Fprintf(tw, "server + children\tCPU %s, peak RSS %s (ffmpeg the daemon runs)\n", opt(r.TreeCPUPct, "% of one core"), opt(r.TreePeakRSSMB, "MB"))
	}
	l := r.PartLatencyMS
	if w := r.WHEPFirstFrameMS; w != nil {
		fmt.Fprintf(tw, "whep\t%d viewers, first frame p50 %.0f  p95 %.0f  max %.0f ms (n=%d), %d frames, %d failed sessions\n",
			r.WHEPViewers, w.P50, w.P95, w.Max, w.N, r.WHEPFrames, r.WHEPErrors)
		for _, m := range r.WHEPMetrics {
			fmt.Fprintf(tw, "\t%s\n", m)
		}
	}
	fmt.Fprintf(tw, "part latency\tp50 %.1f  p95 %.1f  p99 %.1f  max %.1f  min %.1f ms  (n=%d)\n", l.P50, l.P95, l.P99, l.Max, l.Min, l.N)
	rate := 0.0
	if r.DurationS > 0 {
		rate = float64(r.Bytes) * 8 / r.DurationS / 1e6
	}
	fmt.Fprintf(tw, "parts fetched\t%d (%d via preload hint), %d playlists, %.1f MB (%.1f Mb/s)\n",
		r.PartsFetched, r.PartsViaHint, r.Playlists, float64(r.Bytes)/1e6, rate)
	fmt.Fprintf(tw, "errors\t%s\n", kinds(r.Errors))
	if len(r.WarmupErrors) > 0 {
		fmt.Fprintf(tw, "warm-up errors\t%s\n", kinds(r.WarmupErrors))
	}
	fmt.Fprintf(tw, "client CPU\tload tool %.1f%% (WHIP publishers run in it), ffmpeg publishers %.1f%% of one core\n", r.ClientCPUPct, r.PublisherCPUPct)
	fmt.Fprintf(tw, "host CPU\t%.1f%% of one core busy (%d cores); %.1f%% by other processes\n", r.HostCPUPct, r.HostCores, r.OtherCPUPct)
	if r.DaemonShutdownS != nil {
		fmt.Fprintf(tw, "daemon shutdown\t%.2f s after SIGTERM\n", *r.DaemonShutdownS)
	}
	tw.Flush()
}

func kinds(m map[string]int64) string {
	if len(m) == 0 {
		return "none"
	}
	s := ""
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if s != "" {
			s += ", "
		}
		s += fmt.Sprintf("%s=%d", k, m[k])
	}
	return s
}
