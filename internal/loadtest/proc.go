package loadtest

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat
// (proc(5)); 100 on every Linux architecture Go supports.
const clockTicks = 100

// procCPUSeconds returns utime+stime of pid in seconds (proc(5), fields 14
// and 15 of /proc/PID/stat).
func procCPUSeconds(pid int) (float64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("read stat: %w", err)
	}
	// comm (field 2) is parenthesised and may hold spaces: split after it.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, fmt.Errorf("stat of %d: no comm", pid)
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("stat of %d: %d fields", pid, len(f))
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("stat of %d: bad utime/stime", pid)
	}
	return float64(ut+st) / clockTicks, nil
}

// procStatusKB returns a "kB" field of /proc/PID/status, such as VmHWM
// (peak resident set size) or VmRSS.
func procStatusKB(pid int, field string) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("open status: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != field {
			continue
		}
		v := strings.TrimSuffix(strings.TrimSpace(rest), " kB")
		return strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("read status: %w", err)
	}
	return 0, fmt.Errorf("status of %d: no %s", pid, field)
}

// hostCPUSeconds returns the busy CPU time of the whole host, all cores
// summed, from the first line of /proc/stat (user nice system idle iowait
// irq softirq steal): everything but idle and iowait.
func hostCPUSeconds() (float64, error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, fmt.Errorf("read /proc/stat: %w", err)
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, fmt.Errorf("/proc/stat: unexpected %q", line)
	}
	var busy uint64
	for i, s := range f[1:9] {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/stat: %w", err)
		}
		if i != 3 && i != 4 { // idle, iowait
			busy += v
		}
	}
	return float64(busy) / clockTicks, nil
}

// procTreeCPUSeconds returns the CPU time of pid and its descendants in
// seconds: utime+stime+cutime+cstime of pid (the last two hold the children
// it has reaped) plus utime+stime of every live descendant (the ffmpeg
// processes a daemon runs, e.g. WHIP's Opus-to-AAC transcode), and their
// summed VmRSS in kB.
func procTreeCPUSeconds(pid int) (cpu float64, rssKB int64, err error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("read stat: %w", err)
	}
	f, err := statFields(pid, data)
	if err != nil {
		return 0, 0, err
	}
	var ticks uint64
	for _, i := range []int{11, 12, 13, 14} { // utime stime cutime cstime
		v, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("stat of %d: %w", pid, err)
		}
		ticks += uint64(max(v, 0))
	}
	rssKB, _ = procStatusKB(pid, "VmRSS")
	for _, c := range descendants(pid) {
		if v, err := procCPUSeconds(c); err == nil {
			cpu += v
		}
		if kb, err := procStatusKB(c, "VmRSS"); err == nil {
			rssKB += kb
		}
	}
	return cpu + float64(ticks)/clockTicks, rssKB, nil
}

// statFields returns the fields of /proc/PID/stat after comm: f[0] is
// state (field 3), f[1] ppid, f[11] utime (field 14).
func statFields(pid int, data []byte) ([]string, error) {
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return nil, fmt.Errorf("stat of %d: no comm", pid)
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 15 {
		return nil, fmt.Errorf("stat of %d: %d fields", pid, len(f))
	}
	return f, nil
}

// descendants lists the live descendants of pid from /proc.
func descendants(pid int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		f, err := statFields(p, data)
		if err != nil {
			continue
		}
		if pp, err := strconv.Atoi(f[1]); err == nil {
			children[pp] = append(children[pp], p)
		}
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}
