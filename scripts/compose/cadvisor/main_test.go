// Checks the flags compose relies on (names and defaults as cmd/cadvisor.go at v0.55.1, the two
// compose sets landing in the library) and the HTTP wiring: /healthz, and /metrics labelling a
// Docker container the way dashboards query it, served from a fake manager (no cgroups, no Docker).
package main

import (
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/cadvisor/container/raw"
	info "github.com/google/cadvisor/info/v1"
	v2 "github.com/google/cadvisor/info/v2"
	"github.com/google/cadvisor/manager"
	"github.com/prometheus/common/expfmt"
)

func TestFlagDefaultsAreUpstreams(t *testing.T) {
	want := map[string]string{
		"port":                   "8080",
		"listen_ip":              "",
		"prometheus_endpoint":    "/metrics",
		"store_container_labels": "true",
		"storage_duration":       "2m0s",
		// The library's own flags, which compose sets.
		"docker_only":           "false",
		"housekeeping_interval": "1s",
		"docker":                "unix:///var/run/docker.sock",
	}
	for name, def := range want {
		f := flag.Lookup(name)
		if f == nil {
			t.Errorf("flag --%s is not defined", name)
			continue
		}
		if f.DefValue != def {
			t.Errorf("--%s defaults to %q, upstream to %q", name, f.DefValue, def)
		}
	}
	// What the v0.55.1 image logs as "enabled metrics" without --enable_metrics/--disable_metrics.
	const upstream = "app,cpu,cpuLoad,disk,diskIO,memory,network,oom_event,percpu,perf_event,pressure"
	if got := includedMetrics().String(); got != upstream {
		t.Errorf("default metric set %q, upstream's %q", got, upstream)
	}
}

func TestComposeFlagsReachTheLibrary(t *testing.T) {
	t.Cleanup(func() {
		_ = flag.Set("docker_only", "false")
		_ = flag.Set("housekeeping_interval", "1s")
	})
	// docker-compose.yml's `command:` for the cadvisor service.
	if err := flag.CommandLine.Parse([]string{"--docker_only=true", "--housekeeping_interval=10s"}); err != nil {
		t.Fatal(err)
	}
	if !*raw.DockerOnly {
		t.Error("--docker_only=true did not reach container/raw.DockerOnly")
	}
	if *manager.HousekeepingInterval != 10*time.Second {
		t.Errorf("--housekeeping_interval=10s gave manager.HousekeepingInterval %v", *manager.HousekeepingInterval)
	}
}

// fakeManager answers as manager.Manager would on a host running one compose replica, and
// records what the metrics handler asked it for.
type fakeManager struct{ asked *v2.RequestOptions }

func (f fakeManager) GetRequestedContainersInfo(_ string, opts v2.RequestOptions) (map[string]*info.ContainerInfo, error) {
	if f.asked != nil {
		*f.asked = opts
	}
	now := time.Now()
	replica := &info.ContainerInfo{
		ContainerReference: info.ContainerReference{
			Name:    "/system.slice/docker-0123abcd.scope",
			Aliases: []string{"dice-dice-api-1-1", "0123abcd"},
		},
		Spec: info.ContainerSpec{
			CreationTime: now.Add(-time.Minute),
			Image:        "dice-api:local",
			Labels:       map[string]string{"com.docker.compose.service": "dice-api-1", "com.docker.compose.project": "dice"},
			HasCpu:       true,
			HasMemory:    true,
			Memory:       info.MemorySpec{Limit: 256 << 20},
		},
		Stats: []*info.ContainerStats{{
			Timestamp: now,
			Cpu:       info.CpuStats{Usage: info.CpuUsage{Total: 3e9, PerCpu: []uint64{2e9, 1e9}}},
			Memory:    info.MemoryStats{WorkingSet: 100 << 20},
		}},
	}
	return map[string]*info.ContainerInfo{replica.Name: replica}, nil
}

func (fakeManager) GetVersionInfo() (*info.VersionInfo, error) {
	return &info.VersionInfo{KernelVersion: "6.1.0", CadvisorVersion: "v0.55.1"}, nil
}

func (fakeManager) GetMachineInfo() (*info.MachineInfo, error) {
	return &info.MachineInfo{NumCores: 2, MemoryCapacity: 8 << 30}, nil
}

func serve(t *testing.T, fake fakeManager) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	registerHandlers(mux, fake, *prometheusEndpoint, containerLabelFunc(), includedMetrics())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, string(body)
}

func TestHealthz(t *testing.T) {
	srv := serve(t, fakeManager{})
	if code, body := get(t, srv.URL+"/healthz"); code != 200 || body != "ok" {
		t.Errorf("/healthz answered %d %q, want 200 \"ok\"", code, body)
	}
	// No web UI: upstream redirects "/" to /containers/, which is not built here.
	if code, _ := get(t, srv.URL+"/"); code != http.StatusNotFound {
		t.Errorf("/ answered %d, want 404", code)
	}
}

func TestMetricsCarryComposeLabels(t *testing.T) {
	var asked v2.RequestOptions
	srv := serve(t, fakeManager{asked: &asked})
	code, body := get(t, srv.URL+"/metrics")
	if code != 200 {
		t.Fatalf("/metrics answered %d: %s", code, body)
	}
	// Every container below "/", latest sample only, as upstream's handler asks.
	if asked.IdType != v2.TypeName || asked.Count != 1 || !asked.Recursive {
		t.Errorf("the manager was asked for %+v, want type name, count 1, recursive", asked)
	}
	families, err := new(expfmt.TextParser).TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics is not Prometheus text: %v", err)
	}
	// The series scripts/dashboards/host-containers.ts reads, by compose service.
	wantLabels := map[string]string{
		"id":    "/system.slice/docker-0123abcd.scope",
		"name":  "dice-dice-api-1-1",
		"image": "dice-api:local",
		"container_label_com_docker_compose_service": "dice-api-1",
		"container_label_com_docker_compose_project": "dice",
	}
	for name, value := range map[string]float64{
		"container_memory_working_set_bytes": 100 << 20,
		"container_spec_memory_limit_bytes":  256 << 20,
	} {
		mf, ok := families[name]
		if !ok || len(mf.GetMetric()) != 1 {
			t.Errorf("%s: want one series, got %v", name, mf)
			continue
		}
		m := mf.GetMetric()[0]
		got := map[string]string{}
		for _, lp := range m.GetLabel() {
			got[lp.GetName()] = lp.GetValue()
		}
		for l, v := range wantLabels {
			if got[l] != v {
				t.Errorf("%s{%s}=%q, want %q", name, l, got[l], v)
			}
		}
		if g := m.GetGauge().GetValue(); g != value {
			t.Errorf("%s = %v, want %v", name, g, value)
		}
	}
	if mf := families["container_cpu_usage_seconds_total"]; mf == nil || len(mf.GetMetric()) != 2 {
		t.Errorf("container_cpu_usage_seconds_total: want one series per CPU, got %v", mf)
	}
	// The machine, version, Go and process collectors registered beside the container one.
	for _, name := range []string{"machine_cpu_cores", "cadvisor_version_info", "go_goroutines", "process_start_time_seconds"} {
		if _, ok := families[name]; !ok {
			t.Errorf("/metrics lacks %s", name)
		}
	}

	// A bad query parameter is a 500 naming it, as upstream.
	if code, body := get(t, srv.URL+"/metrics?type=bogus"); code != 500 || !strings.Contains(body, `unknown 'type' "bogus"`) {
		t.Errorf("/metrics?type=bogus answered %d %.120q, want 500 naming the type", code, body)
	}
}

func TestWhitelistedLabelsOnly(t *testing.T) {
	t.Cleanup(func() {
		_ = flag.Set("store_container_labels", "true")
		_ = flag.Set("whitelisted_container_labels", "")
	})
	_ = flag.Set("store_container_labels", "false")
	_ = flag.Set("whitelisted_container_labels", "com.docker.compose.service, unused")
	c, _ := fakeManager{}.GetRequestedContainersInfo("/", v2.RequestOptions{})
	labels := containerLabelFunc()(c["/system.slice/docker-0123abcd.scope"])
	if labels["container_label_com.docker.compose.service"] != "dice-api-1" {
		t.Errorf("whitelisted label missing: %v", labels)
	}
	if _, ok := labels["container_label_com.docker.compose.project"]; ok {
		t.Errorf("label outside the whitelist kept: %v", labels)
	}
}
