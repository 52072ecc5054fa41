// Package mpegts reads MPEG-TS (ISO/IEC 13818-1): a Demuxer turns the byte
// stream of one program into access units (H.264, H.265, AAC in ADTS,
// Opus) on a monotonic 64-bit timeline, detecting and containing losses.
// It is MpegFlow's own, shared by the SRT ingest (what publishers send)
// and the transcoder (what ffmpeg writes back); both are untrusted bytes,
// and FuzzTSDemux covers it.
package mpegts
