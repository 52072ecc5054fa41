// Package loadtest is the engine of cmd/mpegflow-load, MpegFlow's load
// tool: it starts (or targets) a daemon, pushes N real-time streams (RTMP
// or SRT with ffmpeg, or WHIP from in-process pion sessions), follows them with M LL-HLS readers that use blocking
// playlist reloads and preload hints (draft-pantos-hls-rfc8216bis
// §6.2.5.2, §4.4.5.3), and reports server CPU and peak RSS (from /proc),
// part availability latency percentiles and errors by kind.
//
// It carries its own small playlist parser (ParsePlaylist), fuzzed, so
// that it measures the packager without sharing its code.
package loadtest
