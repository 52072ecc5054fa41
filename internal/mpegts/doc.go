// Package mpegts reads and writes MPEG-TS (ISO/IEC 13818-1).
//
// A Demuxer turns the byte stream of one program into access units (H.264,
// H.265, AAC in ADTS, Opus) on a monotonic 64-bit timeline, detecting and
// containing losses. It is shared by the SRT ingest (what publishers send)
// and the transcoder (what ffmpeg writes back); both are untrusted bytes,
// and FuzzTSDemux covers it.
//
// A Muxer writes a stream's access units as one program: the transcoder's
// input to ffmpeg and the payload of SRT restream targets.
package mpegts
