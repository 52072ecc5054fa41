package ffmpeg

import (
	"bytes"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Stderr rate limit: at most stderrBurst lines per stderrWindow are logged;
// the others are counted and reported once the window is over.
const (
	stderrBurst  = 20
	stderrWindow = 10 * time.Second
	// stderrMaxLine cuts a line ffmpeg never ends (progress with \r only).
	stderrMaxLine = 4096
	// stderrKeep is the number of last lines kept for error messages.
	stderrKeep = 5
)

// urlRe matches a URL with a scheme; everything after its host may carry a
// secret (an RTMP stream key in the path, a token in the query, a password
// in the user info).
var urlRe = regexp.MustCompile(`(?i)\b([a-z][a-z0-9+.-]{1,15})://([^\s'"/?#]*)([^\s'"]*)`)

// Redact hides what may be a secret in an ffmpeg message or argument: the
// user info, path and query of every URL (scheme and host stay, so the line
// still says where), and each of secrets, wherever it appears.
func Redact(s string, secrets []string) string {
	for _, sec := range secrets {
		if len(sec) >= 4 {
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
	}
	if !strings.Contains(s, "://") {
		return s
	}
	return urlRe.ReplaceAllStringFunc(s, func(u string) string {
		m := urlRe.FindStringSubmatch(u)
		host := m[2]
		if i := strings.LastIndexByte(host, '@'); i >= 0 {
			host = host[i+1:]
		}
		out := m[1] + "://" + host
		if m[3] != "" {
			out += "/[redacted]"
		}
		return out
	})
}

// stderrLog turns ffmpeg's stderr into log lines with the caller's
// attributes (rate-limited and redacted) and keeps the last lines for
// error messages.
type stderrLog struct {
	log     *slog.Logger
	secrets []string

	mu      sync.Mutex
	partial []byte
	lines   []string
	window  time.Time
	n       int
	dropped int
}

func (l *stderrLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexAny(l.partial, "\r\n")
		if i < 0 {
			break
		}
		line := strings.TrimSpace(string(l.partial[:i]))
		l.partial = l.partial[i+1:]
		l.line(line)
	}
	if len(l.partial) > stderrMaxLine {
		l.line(strings.TrimSpace(string(l.partial)))
		l.partial = l.partial[:0]
	}
	return len(p), nil
}

// line logs one line; l.mu is held.
func (l *stderrLog) line(line string) {
	if line == "" {
		return
	}
	line = Redact(line, l.secrets)
	l.lines = append(l.lines, line)
	if len(l.lines) > stderrKeep {
		l.lines = l.lines[1:]
	}
	now := time.Now()
	if now.Sub(l.window) > stderrWindow {
		l.flushDropped()
		l.window, l.n = now, 0
	}
	if l.n < stderrBurst {
		l.n++
		l.log.Warn("ffmpeg", "stderr", line)
	} else {
		l.dropped++
	}
}

// flushDropped reports the suppressed lines; l.mu is held.
func (l *stderrLog) flushDropped() {
	if l.dropped > 0 {
		l.log.Warn("ffmpeg log lines suppressed", "count", l.dropped)
		l.dropped = 0
	}
}

// close logs what is left: an unterminated last line and the count of
// suppressed lines.
func (l *stderrLog) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.partial) > 0 {
		l.line(strings.TrimSpace(string(l.partial)))
		l.partial = nil
	}
	l.flushDropped()
}

// last is the last two lines, for an error message.
func (l *stderrLog) last() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.lines) == 0 {
		return "no message"
	}
	return strings.Join(l.lines[max(0, len(l.lines)-2):], "; ")
}
