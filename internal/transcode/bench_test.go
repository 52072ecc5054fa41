package transcode

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkLadder720p30 runs the ffmpeg command line the transcoder builds
// for libx264 (a 720p30 source -> 480p + 360p, veryfast, zerolatency) as
// fast as it can on a 10 s clip and reports the realtime factor (media
// seconds per wall second: how many such inputs the machine keeps up with)
// and the CPU seconds per media second.
//
//	go test -run '^$' -bench Ladder720p30 -benchtime 3x ./internal/transcode/
func BenchmarkLadder720p30(b *testing.B) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		b.Skip("ffmpeg not on PATH")
	}
	const media = 10 * time.Second
	src := filepath.Join(b.TempDir(), "src.ts")
	if out, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "10",
		"-c:v", "libx264", "-preset", "veryfast", "-g", "30", "-bf", "2", "-pix_fmt", "yuv420p", "-b:v", "4M",
		"-c:a", "aac", "-f", "mpegts", src).CombinedOutput(); err != nil {
		b.Fatalf("ffmpeg: %v: %s", err, out)
	}
	rungs, err := PlanLadder([]Profile{
		{Name: "480p", Height: 480, Bitrate: 1_200_000, MaxFPS: 30, Codec: "h264"},
		{Name: "360p", Height: 360, Bitrate: 700_000, MaxFPS: 30, Codec: "h264"},
	}, []string{"480p", "360p"}, 1280, 720, 30)
	if err != nil {
		b.Fatal(err)
	}
	args := Args(Job{Family: X264, InputCodec: "h264", AudioCodec: "aac", GOP: 300, Rungs: rungs})
	var wall, cpu time.Duration
	b.ResetTimer()
	for range b.N {
		in, err := os.Open(src)
		if err != nil {
			b.Fatal(err)
		}
		var sinks []*os.File
		for range rungs {
			f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
			if err != nil {
				b.Fatal(err)
			}
			sinks = append(sinks, f)
		}
		cmd := exec.Command("ffmpeg", args...)
		cmd.Stdin, cmd.ExtraFiles = in, sinks
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("ffmpeg: %v: %s", err, out)
		}
		wall += time.Since(start)
		cpu += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		_ = in.Close()
		for _, f := range sinks {
			_ = f.Close()
		}
	}
	n := float64(b.N)
	b.ReportMetric(media.Seconds()*n/wall.Seconds(), "realtime_x")
	b.ReportMetric(cpu.Seconds()/(media.Seconds()*n), "cpu_s/media_s")
}
