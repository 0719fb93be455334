package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"
)

// userHZ is the unit of the CPU times in /proc/<pid>/stat (USER_HZ, 100 on Linux).
const userHZ = 100

// processCPU is the user plus system CPU time the process has used.
func processCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)) //nolint:gosec // the path is built from a process id, not from input
	if err != nil {
		return 0, fmt.Errorf("read CPU time of process %d: %w", pid, err)
	}
	// The command name (field 2) is in parentheses and may hold spaces; the
	// fields after it start with field 3 (state). utime and stime are 14 and 15.
	rest := string(data[bytes.LastIndexByte(data, ')')+1:])
	fields := strings.Fields(rest)
	if len(fields) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	var ticks int64
	for _, f := range fields[11:13] {
		v, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		ticks += v
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// peakRSS is the process's resident set high-water mark (VmHWM), in bytes.
func peakRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read memory of process %d: %w", pid, err)
	}
	defer func() { _ = f.Close() }() // read only
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("VmHWM of process %d: %w", pid, err)
			}
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("/proc/%d/status has no VmHWM", pid)
}

// machineCPU is the machine's busy and total CPU time in ticks, from /proc/stat.
func machineCPU() (busy, total int64) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(data), "\n")
	fields := strings.Fields(line)
	for i, f := range fields[1:] {
		v, _ := strconv.ParseInt(f, 10, 64)
		total += v
		if i != 3 && i != 4 { // idle and iowait
			busy += v
		}
	}
	return busy, total
}

// loadAverage is the 1-minute load average.
func loadAverage() float64 {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	fields := strings.Fields(string(data))
	if len(fields) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(fields[0], 64)
	return v
}

// sample is one line of the Prometheus text format.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

var (
	sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)`)
	labelPair  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)
)

// parseSamples reads the samples of the named metric from Prometheus text.
func parseSamples(r io.Reader, name string) ([]sample, error) {
	var out []sample
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) {
			continue
		}
		m := sampleLine.FindStringSubmatch(line)
		if m == nil || m[1] != name {
			continue
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			return nil, fmt.Errorf("metric %s: %w", name, err)
		}
		s := sample{name: name, labels: map[string]string{}, value: v}
		for _, lp := range labelPair.FindAllStringSubmatch(m[2], -1) {
			s.labels[lp[1]] = lp[2]
		}
		out = append(out, s)
	}
	return out, sc.Err()
}

// operatorRequests is the operator's client-go request count by HTTP method,
// from its metrics endpoint.
func operatorRequests(ctx context.Context, addr string) (map[string]float64, error) {
	// addr is the loopback address the bench itself chose for the operator.
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil) //nolint:gosec // loopback address chosen by the bench
	if err != nil {
		return nil, fmt.Errorf("metrics request: %w", err)
	}
	resp, err := http.DefaultClient.Do(req) //nolint:gosec // loopback address chosen by the bench
	if err != nil {
		return nil, fmt.Errorf("scrape the operator's metrics: %w", err)
	}
	defer func() { _ = resp.Body.Close() }() // read only
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read the operator's metrics: %w", err)
	}
	samples, err := parseSamples(bytes.NewReader(data), "rest_client_requests_total")
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for _, s := range samples {
		out[s.labels["method"]] += s.value
	}
	// How the ElevationRequest controller spends its time: reconciles, their
	// duration, and how long a request waits in the work queue first.
	for _, metric := range []string{"controller_runtime_reconcile_time_seconds_sum", "controller_runtime_reconcile_time_seconds_count",
		"workqueue_queue_duration_seconds_sum", "workqueue_queue_duration_seconds_count"} {
		samples, err := parseSamples(bytes.NewReader(data), metric)
		if err != nil {
			return nil, err
		}
		for _, s := range samples {
			if s.labels["controller"] == "elevationrequest" || s.labels["name"] == "elevationrequest" {
				out[metric] += s.value
			}
		}
	}
	for _, metric := range []string{"elevator_events_dropped_total", "elevator_audit_events_received_total"} {
		samples, err := parseSamples(bytes.NewReader(data), metric)
		if err != nil {
			return nil, err
		}
		for _, s := range samples {
			out[metric] += s.value
		}
	}
	return out, nil
}

// apiserverRequests is the apiserver's request count by verb and resource (all
// clients), from its own metrics.
func apiserverRequests(ctx context.Context, e *env) (map[string]float64, error) {
	cs, err := kubernetes.NewForConfig(e.adminCfg)
	if err != nil {
		return nil, fmt.Errorf("clientset: %w", err)
	}
	data, err := cs.RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("scrape the apiserver's metrics: %w", err)
	}
	out := map[string]float64{}
	// The request count, and the sum and count of the request durations (the
	// apiserver's own handling time, webhooks included), by verb and resource.
	for _, metric := range []string{"apiserver_request_total", "apiserver_request_duration_seconds_sum", "apiserver_request_duration_seconds_count"} {
		samples, err := parseSamples(bytes.NewReader(data), metric)
		if err != nil {
			return nil, err
		}
		prefix := strings.TrimPrefix(strings.TrimPrefix(metric, "apiserver_request_total"), "apiserver_request_duration_seconds_")
		for _, s := range samples {
			resource := s.labels["resource"]
			if sub := s.labels["subresource"]; sub != "" {
				resource += "/" + sub
			}
			key := s.labels["verb"] + " " + resource
			if prefix != "" {
				key = prefix + ":" + key
			}
			out[key] += s.value
		}
	}
	return out, nil
}
