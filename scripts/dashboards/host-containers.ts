// The machine under the stack: the host (node-exporter) and every container on it (cAdvisor).
// When every replica slows at once, or one is killed, the cause is often here, not in the code.
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { PROMETHEUS } from './lib/datasources.ts';
import { landingUid } from './lib/knobs.ts';
import { finalize, link, prom, statPanel, timeSeries, stackDashboard, valueText } from './lib/panels.ts';

const NODE = 'job="node-exporter"';
/** Real filesystems only: not the kernel's and the container runtime's pseudo mounts. */
const FS = `${NODE}, fstype!~"tmpfs|ramfs|devtmpfs|overlay|squashfs|nsfs|autofs|fuse.*"`;
/** cAdvisor runs with --docker_only: one series set per container, named by its compose service label. */
const SERVICE_LABEL = 'container_label_com_docker_compose_service';
const CONTAINER = `job="cadvisor", ${SERVICE_LABEL}=~"$container"`;
const BY_SERVICE = `sum by (${SERVICE_LABEL})`;
const SERVICE_LEGEND = `{{${SERVICE_LABEL}}}`;

export function hostContainers(): dashboard.Dashboard {
  const containerQuery = `label_values(container_last_seen{job="cadvisor"}, ${SERVICE_LABEL})`;
  const board = stackDashboard(
    'Host and containers',
    'host-containers',
    'The host every container shares (node-exporter) and each container of the stack (cAdvisor): CPU, memory, disk, network, pressure.',
    ['infrastructure'],
  )
    .withVariable(
      new dashboard.QueryVariableBuilder('container')
        .label('Container')
        .description('Compose service of the container (cAdvisor\'s container_label_com_docker_compose_service).')
        .datasource(PROMETHEUS)
        .query(containerQuery)
        .definition(containerQuery)
        .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
        .sort(dashboard.VariableSort.NaturalAsc)
        .multi(true)
        .includeAll(true)
        .current({ text: 'All', value: '$__all' }),
    );

  // ---------------- host ----------------
  board.withRow(new dashboard.RowBuilder('Host (node-exporter)'));
  board.withPanel(
    statPanel({
      title: 'CPU cores',
      description: 'Logical CPUs of the host.',
      queries: [prom(`count(node_cpu_seconds_total{${NODE}, mode="idle"})`, 'cores', { instant: true })],
      width: 4,
      height: 4,
    }),
  );
  board.withPanel(
    statPanel({
      title: 'Memory total',
      description: 'Memory of the host.',
      queries: [prom(`sum(node_memory_MemTotal_bytes{${NODE}})`, 'total', { instant: true })],
      unit: 'bytes',
      width: 4,
      height: 4,
    }),
  );
  board.withPanel(
    statPanel({
      title: 'Fullest filesystem',
      description: 'Used share of the fullest real filesystem. Prometheus, Tempo and Loki write here.',
      queries: [prom(`max(1 - node_filesystem_avail_bytes{${FS}} / node_filesystem_size_bytes{${FS}})`, 'used', { instant: true })],
      unit: 'percentunit',
      decimals: 1,
      thresholds: [
        { value: null, color: 'green' },
        { value: 0.8, color: 'orange' },
        { value: 0.9, color: 'red' },
      ],
      width: 4,
      height: 4,
    }),
  );
  board.withPanel(
    statPanel({
      title: 'OOM kills (range)',
      description: 'Processes the kernel killed for lack of memory during the time range.',
      queries: [prom(`sum(increase(node_vmstat_oom_kill{${NODE}}[$__range]))`, 'oom kills', { instant: true })],
      decimals: 0,
      thresholds: [
        { value: null, color: 'green' },
        { value: 1, color: 'red' },
      ],
      width: 4,
      height: 4,
    }),
  );
  board.withPanel(
    statPanel({
      title: 'Load (1 m) per core',
      description: 'Runnable and waiting tasks per core: above 1 work queues for a CPU.',
      queries: [prom(`sum(node_load1{${NODE}}) / count(node_cpu_seconds_total{${NODE}, mode="idle"})`, 'load per core', { instant: true })],
      decimals: 2,
      thresholds: [
        { value: null, color: 'green' },
        { value: 1, color: 'orange' },
        { value: 2, color: 'red' },
      ],
      width: 4,
      height: 4,
    }),
  );
  board.withPanel(
    statPanel({
      title: 'node-exporter',
      description: 'Whether Prometheus can scrape node-exporter. DOWN: this row shows stale data.',
      queries: [prom(`max(up{${NODE}})`, 'scraped', { instant: true })],
      mappings: [valueText({ '0': { text: 'DOWN', color: 'red' }, '1': { text: 'UP', color: 'green' } })],
      width: 4,
      height: 4,
      links: [link('Dice API health', `/d/${landingUid}?\${__url_time_range}`)],
    }),
  );
  board.withPanel(
    timeSeries({
      title: 'CPU busy, by mode',
      description: 'Share of all cores busy, by mode: user and system are work; iowait is waiting on disk; steal is the hypervisor taking the CPU away.',
      queries: [
        prom(
          `sum by (mode) (rate(node_cpu_seconds_total{${NODE}, mode!="idle"}[$__rate_interval]))\n/ scalar(count(node_cpu_seconds_total{${NODE}, mode="idle"}))`,
          '{{mode}}',
        ),
      ],
      unit: 'percentunit',
      min: 0,
      max: 1,
      stack: true,
    }),
  );
  board.withPanel(
    timeSeries({
      title: 'Memory',
      description: 'Memory in use (total - available) and available to new work without swapping.',
      queries: [
        prom(`sum(node_memory_MemTotal_bytes{${NODE}} - node_memory_MemAvailable_bytes{${NODE}})`, 'used'),
        prom(`sum(node_memory_MemAvailable_bytes{${NODE}})`, 'available'),
      ],
      unit: 'bytes',
      min: 0,
      stack: true,
    }),
  );
  board.withPanel(
    timeSeries({
      title: 'Pressure: time stalled (PSI)',
      description: 'Share of time some task waited for CPU, memory or I/O (pressure stall information): the most direct measure of saturation.',
      queries: (['cpu', 'memory', 'io'] as const).map((r) => prom(`sum(rate(node_pressure_${r}_waiting_seconds_total{${NODE}}[$__rate_interval]))`, r)),
      unit: 'percentunit',
      min: 0,
    }),
  );
  board.withPanel(
    timeSeries({
      title: 'Filesystem used',
      description: 'Used share of each real filesystem.',
      queries: [prom(`1 - node_filesystem_avail_bytes{${FS}} / node_filesystem_size_bytes{${FS}}`, '{{mountpoint}}')],
      unit: 'percentunit',
      min: 0,
      max: 1,
      thresholds: [
        { value: null, color: 'green' },
        { value: 0.9, color: 'red' },
      ],
    }),
  );
  board.withPanel(
    timeSeries({
      title: 'Disk busy',
      description: 'Share of time each disk was busy with I/O. Near 100% every write waits.',
      queries: [prom(`rate(node_disk_io_time_seconds_total{${NODE}}[$__rate_interval])`, '{{device}}')],
      unit: 'percentunit',
      min: 0,
    }),
  );
  board.withPanel(
    timeSeries({
      title: 'Network (node-exporter container interfaces)',
      // node-exporter runs in its own network namespace in compose (host networking would take it
      // off the network Prometheus scrapes it on), so it sees its container's interfaces only.
      description:
        "Bytes received (positive) and sent (negative) per second, by interface, as node-exporter sees them. In compose it runs in its own network namespace, so these are its container's interfaces (its eth0 on the stack's network), not the host's: the containers' own traffic is in the cAdvisor panels below.",
      queries: [
        prom(`sum by (device) (rate(node_network_receive_bytes_total{${NODE}, device!="lo"}[$__rate_interval]))`, 'in {{device}}'),
        prom(`-sum by (device) (rate(node_network_transmit_bytes_total{${NODE}, device!="lo"}[$__rate_interval]))`, 'out {{device}}'),
      ],
      unit: 'Bps',
    }),
  );

  // ---------------- containers ----------------
  board.withRow(new dashboard.RowBuilder('Containers (cAdvisor)'));
  board.withPanel(
    timeSeries({
      title: 'CPU, by container',
      description: 'CPU each container uses (1 = one core).',
      queries: [prom(`${BY_SERVICE} (rate(container_cpu_usage_seconds_total{${CONTAINER}}[$__rate_interval]))`, SERVICE_LEGEND)],
      unit: 'short',
      min: 0,
    }),
  );
  board.withPanel(
    timeSeries({
      title: 'Memory working set, by container',
      description: 'Memory each container uses that the kernel cannot reclaim: what its mem_limit is compared with.',
      queries: [prom(`${BY_SERVICE} (container_memory_working_set_bytes{${CONTAINER}})`, SERVICE_LEGEND)],
      unit: 'bytes',
      min: 0,
    }),
  );
  board.withPanel(
    timeSeries({
      title: 'Memory vs limit, by container',
      description: 'Working set over mem_limit (docker-compose.yml). At 100% the container is killed (OOM); containers without a limit are left out.',
      queries: [
        prom(
          `${BY_SERVICE} (container_memory_working_set_bytes{${CONTAINER}})\n/\n${BY_SERVICE} (container_spec_memory_limit_bytes{${CONTAINER}} > 0)`,
          SERVICE_LEGEND,
        ),
      ],
      unit: 'percentunit',
      min: 0,
      max: 1,
      thresholds: [
        { value: null, color: 'green' },
        { value: 0.9, color: 'red' },
      ],
    }),
  );
  board.withPanel(
    timeSeries({
      title: 'Network received, by container',
      description: 'Bytes per second each container received.',
      queries: [prom(`${BY_SERVICE} (rate(container_network_receive_bytes_total{${CONTAINER}}[$__rate_interval]))`, SERVICE_LEGEND)],
      unit: 'Bps',
      min: 0,
      width: 12,
    }),
  );
  board.withPanel(
    timeSeries({
      title: 'Network sent, by container',
      description: 'Bytes per second each container sent.',
      queries: [prom(`${BY_SERVICE} (rate(container_network_transmit_bytes_total{${CONTAINER}}[$__rate_interval]))`, SERVICE_LEGEND)],
      unit: 'Bps',
      min: 0,
      width: 12,
    }),
  );

  return finalize(board.build());
}
