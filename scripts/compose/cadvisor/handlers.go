// The HTTP endpoints of cAdvisor v0.55.1 that compose uses: /healthz (the container's healthcheck,
// cmd/internal/healthz/healthz.go) and the Prometheus endpoint Prometheus scrapes
// (RegisterPrometheusHandler in cmd/internal/http/handlers.go, with GetRequestOptions from
// cmd/internal/api/versions.go). Those packages are internal to the cmd module, so this is a
// minimal equivalent written against the library, not a copy.
package main

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/google/cadvisor/container"
	info "github.com/google/cadvisor/info/v1"
	v2 "github.com/google/cadvisor/info/v2"
	"github.com/google/cadvisor/metrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"k8s.io/utils/clock"
)

// infoProvider is what the Prometheus collectors read (metrics/metrics.go declares the same
// unexported interface); manager.Manager has it, and the tests pass a fake.
type infoProvider interface {
	GetRequestedContainersInfo(containerName string, options v2.RequestOptions) (map[string]*info.ContainerInfo, error)
	GetVersionInfo() (*info.VersionInfo, error)
	GetMachineInfo() (*info.MachineInfo, error)
}

func registerHandlers(mux *http.ServeMux, provider infoProvider, prometheusEndpoint string,
	labels metrics.ContainerLabelsFunc, included container.MetricSet) {
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("ok"))
	})

	// As upstream: a fresh registry per scrape, so each scrape reads the manager's latest sample
	// of every container, plus the machine, Go runtime and process collectors.
	goCollector := collectors.NewGoCollector()
	processCollector := collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})
	machineCollector := metrics.NewPrometheusMachineCollector(provider, included)
	mux.HandleFunc(prometheusEndpoint, func(w http.ResponseWriter, req *http.Request) {
		opts, err := requestOptions(req)
		if err != nil {
			http.Error(w, "No metrics gathered, last error:\n\n"+err.Error(), http.StatusInternalServerError)
			return
		}
		opts.Count = 1        // the latest sample only
		opts.Recursive = true // every container below "/"
		r := prometheus.NewRegistry()
		r.MustRegister(
			metrics.NewPrometheusCollector(provider, labels, included, clock.RealClock{}, opts),
			machineCollector,
			goCollector,
			processCollector,
		)
		promhttp.HandlerFor(r, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}).ServeHTTP(w, req)
	})
}

// requestOptions reads the query parameters upstream's GetRequestOptions accepts on the metrics
// endpoint (type, count, recursive, max_age), with its defaults and errors.
func requestOptions(r *http.Request) (v2.RequestOptions, error) {
	opt := v2.RequestOptions{IdType: v2.TypeName, Count: 64}
	q := r.URL.Query()
	if idType := q.Get("type"); idType != "" {
		if idType != v2.TypeName && idType != v2.TypeDocker && idType != v2.TypePodman {
			return opt, fmt.Errorf("unknown 'type' %q", idType)
		}
		opt.IdType = idType
	}
	if count := q.Get("count"); count != "" {
		n, err := strconv.Atoi(count)
		if err != nil {
			return opt, fmt.Errorf("failed to parse 'count' option: %v", count)
		}
		if n < -1 {
			return opt, fmt.Errorf("invalid 'count' option: only -1 and larger values allowed, not %d", n)
		}
		opt.Count = n
	}
	opt.Recursive = q.Get("recursive") == "true"
	if maxAge := q.Get("max_age"); maxAge != "" {
		d, err := time.ParseDuration(maxAge)
		if err != nil {
			return opt, fmt.Errorf("failed to parse 'max_age' option: %v", err)
		}
		opt.MaxAge = &d
	}
	return opt, nil
}
