// cadvisor: the cAdvisor binary the compose stack runs (ghcr.io/google/cadvisor:${CADVISOR_VERSION}),
// built from the github.com/google/cadvisor library at v0.55.1 because the Go proxy does not serve
// its separate main module, github.com/google/cadvisor/cmd (cmd/go.mod), and no registry is reachable
// here to pull the image. Mirrors cmd/cadvisor.go and cmd/storagedriver.go at tag v0.55.1 for what
// docker-compose.yml uses: the flags (--docker_only and --housekeeping_interval are the library's own,
// from container/raw and manager), the docker and raw container factories, every filesystem plugin,
// the default metric set, and the /healthz and /metrics endpoints (see handlers.go).
//
// Left out, because compose neither uses nor serves them: the web UI (cmd/internal/pages, its "/"
// redirect and static assets, HTTP auth), the REST API v1/v2 (cmd/internal/api) and /validate/,
// pprof, storage drivers other than the in-memory cache (cmd/internal/storage/*), the containerd,
// CRI-O, Podman and systemd providers (a Docker host's containers are all claimed by the docker
// one), cloud-provider detection (utils/cloudinfo/*: only the API shows it), resctrl and perf
// events (off by default; perf needs cgo and libpfm). A flag from that list is rejected at start.
//
// Build: CGO_ENABLED=0 go build -trimpath -o cadvisor . (static; the release image links libpfm
// with cgo, for perf events only). Test with the same two settings to reuse the build's cache.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/google/cadvisor/cache/memory"
	"github.com/google/cadvisor/container"
	"github.com/google/cadvisor/manager"
	"github.com/google/cadvisor/metrics"
	"github.com/google/cadvisor/utils/sysfs"
	"github.com/google/cadvisor/version"
	"k8s.io/klog/v2"

	// The providers of cmd/internal/container/install/install.go at v0.55.1 that a Docker host
	// needs: docker, and every filesystem plugin (which one reports container_fs_* depends on the
	// host's storage driver). The raw factory is registered by manager.Start itself.
	_ "github.com/google/cadvisor/container/docker/install"
	_ "github.com/google/cadvisor/fs/btrfs/install"
	_ "github.com/google/cadvisor/fs/devicemapper/install"
	_ "github.com/google/cadvisor/fs/nfs/install"
	_ "github.com/google/cadvisor/fs/overlay/install"
	_ "github.com/google/cadvisor/fs/tmpfs/install"
	_ "github.com/google/cadvisor/fs/vfs/install"
	_ "github.com/google/cadvisor/fs/zfs/install"
)

const cadvisorModule = "github.com/google/cadvisor"

// Flags of cmd/cadvisor.go and cmd/storagedriver.go at v0.55.1, same names, defaults and help.
var (
	argIP    = flag.String("listen_ip", "", "IP to listen on, defaults to all IPs")
	argPort  = flag.Int("port", 8080, "port to listen")
	maxProcs = flag.Int("max_procs", 0, "max number of CPUs that can be used simultaneously. Less than 1 for default (number of cores).")

	versionFlag = flag.Bool("version", false, "print cAdvisor version and exit")

	prometheusEndpoint = flag.String("prometheus_endpoint", "/metrics", "Endpoint to expose Prometheus metrics on")

	storeContainerLabels       = flag.Bool("store_container_labels", true, "convert container labels and environment variables into labels on prometheus metrics for each container. If flag set to false, then only metrics exported are container name, first alias, and image name")
	whitelistedContainerLabels = flag.String("whitelisted_container_labels", "", "comma separated list of container labels to be converted to labels on prometheus metrics for each container. store_container_labels must be set to false for this to take effect.")

	envMetadataWhiteList     = flag.String("env_metadata_whitelist", "", "a comma-separated list of environment variable keys matched with specified prefix that needs to be collected for containers, only support containerd and docker runtime for now.")
	rawCgroupPrefixWhiteList = flag.String("raw_cgroup_prefix_whitelist", "", "A comma-separated list of cgroup path prefix that needs to be collected even when -docker_only is specified")

	storageDuration = flag.Duration("storage_duration", 2*time.Minute, "How long to keep data stored (Default: 2min).")
)

var (
	// The metric kinds upstream disables by default (cmd/cadvisor.go, ignoreMetrics).
	ignoreMetrics = container.MetricSet{
		container.MemoryNumaMetrics:              struct{}{},
		container.NetworkTcpUsageMetrics:         struct{}{},
		container.NetworkUdpUsageMetrics:         struct{}{},
		container.NetworkAdvancedTcpUsageMetrics: struct{}{},
		container.ProcessSchedulerMetrics:        struct{}{},
		container.ProcessMetrics:                 struct{}{},
		container.HugetlbUsageMetrics:            struct{}{},
		container.ReferencedMemoryMetrics:        struct{}{},
		container.CPUTopologyMetrics:             struct{}{},
		container.ResctrlMetrics:                 struct{}{},
		container.CPUSetMetrics:                  struct{}{},
	}
	// Used only if non-empty, then instead of the difference.
	enableMetrics = container.MetricSet{}
)

func init() {
	optstr := container.AllMetrics.String()
	flag.Var(&ignoreMetrics, "disable_metrics", fmt.Sprintf("comma-separated list of `metrics` to be disabled. Options are %s.", optstr))
	flag.Var(&enableMetrics, "enable_metrics", fmt.Sprintf("comma-separated list of `metrics` to be enabled. If set, overrides 'disable_metrics'. Options are %s.", optstr))
}

func includedMetrics() container.MetricSet {
	if len(enableMetrics) > 0 {
		return enableMetrics
	}
	return container.AllMetrics.Difference(ignoreMetrics)
}

// containerLabelFunc picks the label set of the container_* series as cmd/cadvisor.go does:
// every Docker label and env (container_label_com_docker_compose_service, ...) unless
// --store_container_labels=false narrows it to a whitelist.
func containerLabelFunc() metrics.ContainerLabelsFunc {
	if *storeContainerLabels {
		return metrics.DefaultContainerLabels
	}
	whitelisted := strings.Split(*whitelistedContainerLabels, ",")
	for i := range whitelisted {
		whitelisted[i] = strings.TrimSpace(whitelisted[i])
	}
	return metrics.BaseContainerLabels(whitelisted)
}

// setVersionInfo fills cadvisor_version_info's cadvisorVersion. Upstream's build/build.sh sets it
// with -ldflags from `git describe` (v0.55.1); here it is the library's module version from the
// build info, so it cannot drift from go.mod. An -ldflags value still wins.
func setVersionInfo() {
	if version.Info["version"] != "" {
		return
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range bi.Deps {
			if dep.Path == cadvisorModule {
				version.Info["version"] = dep.Version
			}
		}
	}
}

func main() {
	klog.InitFlags(nil)
	defer klog.Flush()
	// Upstream's default verbosity.
	_ = flag.Set("v", "2")
	flag.Parse()
	setVersionInfo()

	if *versionFlag {
		fmt.Printf("cAdvisor version %s (%s)\n", version.Info["version"], version.Info["revision"])
		os.Exit(0)
	}
	if flag.NArg() > 0 {
		klog.Fatalf("unexpected arguments %q: cAdvisor takes flags only (-help lists them)", flag.Args())
	}

	included := includedMetrics()
	klog.V(1).Infof("enabled metrics: %s", included.String())
	setMaxProcs()

	klog.V(1).Infof("Caching stats in memory for %v", *storageDuration)
	memoryStorage := memory.New(*storageDuration, nil)

	// cmd/cadvisor.go hands the manager an HTTP client for application-metrics collectors that
	// skips TLS verification; without --collector_cert that is all it is.
	collectorHTTPClient := http.Client{Transport: insecureTransport()}

	resourceManager, err := manager.New(memoryStorage, sysfs.NewRealSysFs(), manager.HousekeepingConfigFlags, included,
		&collectorHTTPClient, strings.Split(*rawCgroupPrefixWhiteList, ","), strings.Split(*envMetadataWhiteList, ","), "", 0)
	if err != nil {
		klog.Fatalf("Failed to create a manager: %s", err)
	}

	mux := http.NewServeMux()
	registerHandlers(mux, resourceManager, *prometheusEndpoint, containerLabelFunc(), included)

	if err := resourceManager.Start(); err != nil {
		klog.Fatalf("Failed to start manager: %v", err)
	}
	installSignalHandler(resourceManager)

	klog.V(1).Infof("Starting cAdvisor version: %s-%s on port %d", version.Info["version"], version.Info["revision"], *argPort)
	klog.Fatal(http.ListenAndServe(fmt.Sprintf("%s:%d", *argIP, *argPort), mux))
}

// setMaxProcs is upstream's: GOMAXPROCS is the host's core count, not Go's cgroup-aware default.
func setMaxProcs() {
	numProcs := *maxProcs
	if numProcs < 1 {
		numProcs = runtime.NumCPU()
	}
	runtime.GOMAXPROCS(numProcs)
	if actual := runtime.GOMAXPROCS(0); actual != numProcs {
		klog.Warningf("Specified max procs of %v but using %v", numProcs, actual)
	}
}

func insecureTransport() *http.Transport {
	return &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
}

func installSignalHandler(containerManager manager.Manager) {
	c := make(chan os.Signal, 1)
	signal.Notify(c, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig := <-c
		if err := containerManager.Stop(); err != nil {
			klog.Errorf("Failed to stop container manager: %v", err)
		}
		klog.Infof("Exiting given signal: %v", sig)
		os.Exit(0)
	}()
}
