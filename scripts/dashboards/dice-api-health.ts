// The landing page (alerts link here): is the dice service healthy, and if not, where and why?
// Top to bottom it follows docs/health-model.md: the verdict (SLOs, budget, burn, alerts, whether
// the telemetry can be trusted, whether a drill is on), then RED per route with exemplars, each
// replica, saturation, fairness, the drill's settings, and the logs and traces to end on.
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { burnRates, fairness, landingUid, latencyThresholdSeconds, pageWindows, recordingRule, runbookUrl, sloByName, spec } from './lib/knobs.ts';
import {
  barGauge,
  finalize,
  link,
  logql,
  logsPanel,
  prom,
  promAnnotation,
  rangeText,
  replicaLogsLink,
  ratioOrZero,
  stateTimeline,
  statPanel,
  timeSeries,
  traceql,
  traceTable,
  valueText,
  stackDashboard,
} from './lib/panels.ts';
import { pipelineProblems } from './lib/signals.ts';
import { environmentVariable, replicaVariable } from './lib/variables.ts';

const SERVICE = spec.service;
const DICE_ROUTES = 'http_route=~"/|/roll"';
/** The app's own metrics, scraped from each replica by the collector (no environment label: the replica variable carries it). */
const app = (extra = '') => `{job="${SERVICE}", instance=~"$instance"${extra ? `, ${extra}` : ''}}`;
/** Span metrics: one series set per SERVER span, i.e. per request, with exemplars pointing at the trace. */
const spans = (extra = '') =>
  `{service_name="${SERVICE}", deployment_environment_name="$deployment_environment_name", instance=~"$instance", span_kind="SPAN_KIND_SERVER"${extra ? `, ${extra}` : ''}}`;
const lb = (extra = '') => `{job="load-balancer", proxy="public"${extra ? `, ${extra}` : ''}}`;
const slo = (name: string) => `{slo="${name}", slo_service="${SERVICE}"}`;

const availability = sloByName('availability');
const latency = sloByName('latency');
const period = `${spec.period_days}d`;
const thresholdMs = latencyThresholdSeconds * 1000;
const w = fairness.window;

const ROUTE_LEGEND = '{{http_request_method}} {{http_route}}';

/** Burn-rate colours: below 1x the budget lasts the period; a ticket's rate turns it orange, a page's red. */
const burnSteps = [
  { value: null, color: 'green' },
  ...[...spec.burn_rate_alerts]
    .sort((a, b) => a.burn_rate - b.burn_rate)
    .map((a) => ({ value: a.burn_rate, color: a.severity === 'page' ? 'red' : a.burn_rate <= 1 ? 'yellow' : 'orange' })),
];

const runbook = (alert: string) => link(`Runbook: ${alert}`, runbookUrl(alert), true);
const toPipeline = link('Telemetry pipeline dashboard', '/d/telemetry-pipeline?${__url_time_range}');
/** On every per-replica graph: click a replica's series for its log lines. */
const replicaLogs = replicaLogsLink(SERVICE);
const toHost = link('Host and containers dashboard', '/d/host-containers?${__url_time_range}');

export function diceApiHealth(): dashboard.Dashboard {
  const board = stackDashboard(
    'Dice API health',
    landingUid,
    'Is the dice service healthy? Verdict first (SLOs, error budget, burn, alerts, pipeline, drills), then RED per route, ' +
      'per replica, saturation, fairness, and the logs and traces behind them. The model: docs/health-model.md.',
    ['slo'],
  )
    .link(link('Health model and runbooks', `${spec.runbook_base.replace(/\/runbooks$/, '')}/health-model.md`, true).keepTime(false))
    .withVariable(environmentVariable())
    .withVariable(replicaVariable())
    // Shaded on every graph, so that a drill's errors and latency are never read as an incident.
    .annotation(
      promAnnotation(
        'Fault-injection drills',
        `max(dice_faults_active{job="${SERVICE}"}) > 0`,
        'purple',
        'Fault-injection drill',
        'dice_faults_active: errors, latency or bias are injected on purpose',
      ),
    )
    .annotation(
      promAnnotation(
        'Alerts firing',
        `ALERTS{alertstate="firing", service=~"${SERVICE}|otel-collector"}`,
        'red',
        '{{alertname}} ({{severity}})',
        'Prometheus alert {{alertname}} is firing',
      ),
    );

  // ---------------- verdict ----------------
  board.withRow(new dashboard.RowBuilder('Verdict: is the dice service healthy?'));
  board.withPanel(
    statPanel({
      title: `Availability, ${period}`,
      description: `${availability.description} Objective ${availability.objective}%. Red below it.`,
      queries: [prom(`1 - ${recordingRule(`slo:sli_error:ratio_rate${period}`)}${slo('availability')}`, 'availability', { instant: true })],
      unit: 'percentunit',
      decimals: 3,
      thresholds: [
        { value: null, color: 'red' },
        { value: availability.objective / 100, color: 'green' },
      ],
      links: [runbook('DiceApiAvailabilityBudgetBurn')],
    }),
  );
  board.withPanel(
    statPanel({
      title: `Latency SLI, ${period}`,
      description: `${latency.description} Objective ${latency.objective}% under ${thresholdMs} ms. Red below it.`,
      queries: [prom(`1 - ${recordingRule(`slo:sli_error:ratio_rate${period}`)}${slo('latency')}`, 'latency', { instant: true })],
      unit: 'percentunit',
      decimals: 3,
      thresholds: [
        { value: null, color: 'red' },
        { value: latency.objective / 100, color: 'green' },
      ],
      links: [runbook('DiceApiLatencyBudgetBurn')],
    }),
  );
  board.withPanel(
    statPanel({
      title: `Error budget left, ${period}`,
      description: `Share of each SLO's ${period} error budget not yet spent (1 - period burn rate). Below 0 the SLO is missed for the period.`,
      queries: [prom(`${recordingRule('slo:period_error_budget_remaining:ratio')}{slo_service="${SERVICE}"}`, '{{slo}}', { instant: true })],
      unit: 'percentunit',
      decimals: 1,
      thresholds: [
        { value: null, color: 'red' },
        { value: 0, color: 'orange' },
        { value: 0.25, color: 'green' },
      ],
    }),
  );
  board.withPanel(
    statPanel({
      title: 'Burn rate now (5 m)',
      description:
        `How fast each SLO spends its budget now: 1 spends exactly the budget over ${period}. ` +
        `Alerts page at ${burnRates.slice(0, 2).join('x and ')}x (both windows), ticket at ${burnRates.slice(2).join('x and ')}x.`,
      queries: [prom(`${recordingRule('slo:current_burn_rate:ratio')}{slo_service="${SERVICE}"}`, '{{slo}}', { instant: true })],
      unit: 'suffix:x',
      decimals: 2,
      thresholds: burnSteps,
    }),
  );
  board.withPanel(
    statPanel({
      title: 'Alerts firing',
      description: 'Alerts Prometheus is firing now (ALERTS), by severity: page wakes someone, ticket waits for working hours. The link opens the alert groups in Alertmanager.',
      queries: [
        prom(
          'sum by (severity) (ALERTS{alertstate="firing"})\n' +
            'or label_replace(vector(0), "severity", "page", "", "")\n' +
            'or label_replace(vector(0), "severity", "ticket", "", "")',
          '{{severity}}',
          { instant: true },
        ),
      ],
      thresholds: [
        { value: null, color: 'green' },
        { value: 1, color: 'red' },
      ],
      links: [link('Alert groups (Alertmanager)', '/alerting/groups?alertmanager=alertmanager')],
    }),
  );
  board.withPanel(
    statPanel({
      title: 'Telemetry pipeline',
      description:
        'How many pipeline checks fail now (collector or scrape down, exporter stalled, queue filling, refusals, SDK drops). ' +
        'Anything but OK means the panels below may undercount or be stale: check the telemetry pipeline dashboard first.',
      queries: [prom(pipelineProblems, 'failing checks', { instant: true })],
      mappings: [valueText({ '0': { text: 'OK', color: 'green' } }), rangeText(1, null, 'DEGRADED: data may be missing', 'red')],
      thresholds: [
        { value: null, color: 'green' },
        { value: 1, color: 'red' },
      ],
      links: [toPipeline, runbook('TelemetryExportBacklog'), runbook('TelemetryRefused'), runbook('TelemetryCollectorDown')],
    }),
  );
  board.withPanel(
    statPanel({
      title: 'Fault-injection drill',
      description: 'On while any replica injects errors, latency or bias (dice_faults_active). Errors and slowness during a drill are the drill, not an incident.',
      queries: [prom(`max(dice_faults_active${app()})`, 'drill', { instant: true })],
      mappings: [valueText({ '0': { text: 'off', color: 'green' }, '1': { text: 'DRILL ON', color: 'purple' } })],
    }),
  );
  board.withPanel(
    statPanel({
      title: 'Replicas in the balancer',
      description: 'Replicas that pass HAProxy\'s readiness check (GET /health/ready) and take traffic, whatever $instance says: HAProxy names its server slots (dice-api-1..N on Kubernetes), not replicas. One down is a ticket; both down burns the availability SLO.',
      queries: [prom(`sum(haproxy_server_status{proxy="${SERVICE}", state="UP"})`, 'UP', { instant: true })],
      thresholds: [
        { value: null, color: 'red' },
        { value: 1, color: 'orange' },
        { value: 2, color: 'green' },
      ],
      links: [runbook('DiceApiReplicaDown')],
    }),
  );

  // ---------------- SLOs over time ----------------
  board.withRow(new dashboard.RowBuilder('SLOs: error budget burn'));
  board.withPanel(
    timeSeries({
      title: 'Burn rate over the paging windows',
      description:
        `Error ratio / error budget over the windows the paging alerts compare (${pageWindows.join(', ')}). ` +
        `A page needs both windows of a pair above its line (${burnRates.slice(0, 2).join('x, ')}x).`,
      queries: pageWindows.map((win) =>
        prom(
          `max without (slo_window) (${recordingRule(`slo:sli_error:ratio_rate${win}`)}{slo_service="${SERVICE}"})\n/ on (slo, slo_service) group_left\n${recordingRule('slo:error_budget:ratio')}{slo_service="${SERVICE}"}`,
          `{{slo}} ${win}`,
        ),
      ),
      unit: 'suffix:x',
      min: 0,
      thresholds: burnSteps,
      links: [runbook('DiceApiAvailabilityBudgetBurn'), runbook('DiceApiLatencyBudgetBurn')],
    }),
  );
  board.withPanel(
    timeSeries({
      title: 'Responses at the load balancer, by status class',
      description: 'Every response of the public frontend as users see it, including the 503s HAProxy answers when no replica is up. The availability SLI counts the 5xx here.',
      queries: [prom(`sum by (code) (rate(haproxy_frontend_http_responses_total${lb()}[$__rate_interval]))`, '{{code}}')],
      unit: 'reqps',
      stack: true,
    }),
  );
  board.withPanel(
    timeSeries({
      title: 'SLI error ratios (5 m)',
      description: `Failed share of requests for each SLO: 5xx at the balancer (availability) and dice requests over ${thresholdMs} ms (latency). Dashed: each SLO's error budget.`,
      queries: [
        prom(`${recordingRule('slo:sli_error:ratio_rate5m')}{slo_service="${SERVICE}"}`, '{{slo}}'),
        prom(`${recordingRule('slo:error_budget:ratio')}{slo_service="${SERVICE}"}`, '{{slo}} budget'),
      ],
      unit: 'percentunit',
      min: 0,
    }),
  );

  // ---------------- RED per route ----------------
  board.withRow(new dashboard.RowBuilder('Requests, errors, duration per route (span metrics; dots are exemplars: click one for its trace)'));
  board.withPanel(
    timeSeries({
      title: 'Request rate by route',
      description: 'Requests per second by route and method, from the span metrics (one SERVER span per request). Unknown routes have no http.route.',
      queries: [prom(`sum by (http_request_method, http_route) (rate(traces_span_metrics_calls_total${spans()}[$__rate_interval]))`, ROUTE_LEGEND)],
      unit: 'reqps',
      stack: true,
    }),
  );
  board.withPanel(
    timeSeries({
      title: 'Error ratio by route, 5xx and 4xx',
      description: 'Share of requests answered with a 5xx (server errors: count against the SLO) and a 4xx (bad input: the client\'s error, not the service\'s), by route.',
      queries: [
        prom(
          ratioOrZero(
            `sum by (http_route) (rate(traces_span_metrics_calls_total${spans('http_response_status_code=~"5.."')}[$__rate_interval]))`,
            `sum by (http_route) (rate(traces_span_metrics_calls_total${spans()}[$__rate_interval]))`,
          ),
          '5xx {{http_route}}',
        ),
        prom(
          ratioOrZero(
            `sum by (http_route) (rate(traces_span_metrics_calls_total${spans('http_response_status_code=~"4.."')}[$__rate_interval]))`,
            `sum by (http_route) (rate(traces_span_metrics_calls_total${spans()}[$__rate_interval]))`,
          ),
          '4xx {{http_route}}',
        ),
      ],
      unit: 'percentunit',
      min: 0,
    }),
  );
  board.withPanel(
    timeSeries({
      title: 'Latency p50 / p95 / p99 by route (exemplars)',
      description:
        `Request duration quantiles by route from the span-metrics histogram; the dashed line is the latency SLO threshold (${thresholdMs} ms). ` +
        'Each dot is an exemplar: a real request in that bucket. Click it, then "View trace" to open the trace in Tempo, and from a span, its logs.',
      queries: [0.5, 0.95, 0.99].map((q) =>
        prom(
          `histogram_quantile(${q}, sum by (le, http_route) (rate(traces_span_metrics_duration_seconds_bucket${spans(DICE_ROUTES)}[$__rate_interval])))`,
          `p${q * 100} {{http_route}}`,
          { exemplar: true },
        ),
      ),
      unit: 's',
      min: 0,
      thresholds: [
        { value: null, color: 'green' },
        { value: latencyThresholdSeconds, color: 'red' },
      ],
      links: [runbook('DiceApiLatencyBudgetBurn')],
    }),
  );

  // ---------------- per replica ----------------
  board.withRow(new dashboard.RowBuilder('Per replica (the app\'s own metrics: the latency SLI\'s source)'));
  board.withPanel(
    timeSeries({
      title: 'Requests by replica',
      dataLinks: [replicaLogs],
      description: 'Requests per second each replica served (http.server.request.duration count). An even split means the balancer uses both.',
      queries: [prom(`sum by (instance) (rate(http_server_request_duration_count${app()}[$__rate_interval]))`, '{{instance}}')],
      unit: 'reqps',
      width: 6,
    }),
  );
  board.withPanel(
    timeSeries({
      title: '5xx ratio by replica',
      dataLinks: [replicaLogs],
      description: 'Share of each replica\'s requests answered with a 5xx. One replica alone failing points at that replica (or a drill on it).',
      queries: [
        prom(
          ratioOrZero(
            `sum by (instance) (rate(http_server_request_duration_count${app('http_response_status_code=~"5.."')}[$__rate_interval]))`,
            `sum by (instance) (rate(http_server_request_duration_count${app()}[$__rate_interval]))`,
          ),
          '{{instance}}',
        ),
      ],
      unit: 'percentunit',
      min: 0,
      width: 6,
    }),
  );
  board.withPanel(
    timeSeries({
      title: `Dice requests under ${thresholdMs} ms, by replica`,
      dataLinks: [replicaLogs],
      description: `The latency SLI per replica: share of GET / and /roll answered under ${thresholdMs} ms (the le="${latencyThresholdSeconds}" bucket). Dashed: the objective.`,
      queries: [
        prom(
          `sum by (instance) (rate(http_server_request_duration_bucket${app(`${DICE_ROUTES}, le="${latencyThresholdSeconds}"`)}[$__rate_interval]))\n/\n` +
            `sum by (instance) (rate(http_server_request_duration_count${app(DICE_ROUTES)}[$__rate_interval]))`,
          '{{instance}}',
        ),
      ],
      unit: 'percentunit',
      max: 1,
      thresholds: [
        { value: null, color: 'red' },
        { value: latency.objective / 100, color: 'green' },
      ],
      width: 6,
    }),
  );
  board.withPanel(
    timeSeries({
      title: 'p99 latency by replica',
      dataLinks: [replicaLogs],
      description: 'p99 duration of dice requests per replica, from the app\'s histogram. Dashed: the latency SLO threshold.',
      queries: [
        prom(
          `histogram_quantile(0.99, sum by (le, instance) (rate(http_server_request_duration_bucket${app(DICE_ROUTES)}[$__rate_interval])))`,
          '{{instance}}',
        ),
      ],
      unit: 's',
      min: 0,
      thresholds: [
        { value: null, color: 'green' },
        { value: latencyThresholdSeconds, color: 'red' },
      ],
      width: 6,
    }),
  );
  board.withPanel(
    stateTimeline({
      title: 'Replica state',
      description: 'In the balancer: HAProxy\'s readiness check passes (UP). Scraped: the collector reads the replica\'s /metrics (up). A replica that is scraped but out of the balancer is draining or not ready.',
      queries: [
        prom(`sum by (server) (haproxy_server_status{proxy="${SERVICE}", state="UP"})`, 'in balancer {{server}}'),
        prom(`max by (instance) (up${app()})`, 'scraped {{instance}}'),
      ],
      mappings: [valueText({ '0': { text: 'DOWN', color: 'red' }, '1': { text: 'UP', color: 'green' } })],
      width: 24,
      height: 5,
      links: [runbook('DiceApiReplicaDown')],
    }),
  );

  // ---------------- saturation ----------------
  board.withRow(new dashboard.RowBuilder('Saturation: event loop, CPU, memory (replica, container, host)'));
  board.withPanel(
    timeSeries({
      title: 'Event-loop utilisation by replica',
      dataLinks: [replicaLogs],
      description: 'Share of time the event loop was busy. Node serves every request on this one thread: near 100% means requests queue behind each other.',
      queries: [prom(`max by (instance) (nodejs_eventloop_utilization${app()})`, '{{instance}}')],
      unit: 'percentunit',
      min: 0,
      max: 1,
      thresholds: [
        { value: null, color: 'green' },
        { value: 0.8, color: 'red' },
      ],
      width: 6,
    }),
  );
  board.withPanel(
    timeSeries({
      title: 'Event-loop delay p99 by replica',
      dataLinks: [replicaLogs],
      description:
        'How late the event loop ran its timers (p99), above the monitor\'s own sampling interval: the histogram records whole intervals, ' +
        'so its minimum is the interval itself and p99 - min is the delay requests suffered.',
      queries: [prom(`max by (instance) (nodejs_eventloop_delay_p99${app()} - nodejs_eventloop_delay_min${app()})`, '{{instance}}')],
      unit: 's',
      min: 0,
      width: 6,
    }),
  );
  board.withPanel(
    timeSeries({
      title: 'CPU by replica',
      dataLinks: [replicaLogs],
      description: 'CPU seconds per second each replica\'s process uses (1 = one core). Node runs JavaScript on one core.',
      queries: [prom(`sum by (instance) (rate(process_cpu_time_total${app()}[$__rate_interval]))`, '{{instance}}')],
      unit: 'short',
      min: 0,
      width: 6,
    }),
  );
  board.withPanel(
    timeSeries({
      title: 'Memory by replica',
      dataLinks: [replicaLogs],
      description: 'Resident memory of each replica\'s process, and the V8 heap in use. A heap that only grows is a leak.',
      queries: [
        prom(`max by (instance) (process_memory_usage${app()})`, 'rss {{instance}}'),
        prom(`sum by (instance) (v8js_memory_heap_used${app()})`, 'heap {{instance}}'),
      ],
      unit: 'bytes',
      min: 0,
      width: 6,
    }),
  );
  board.withPanel(
    timeSeries({
      title: 'Container memory vs limit (cAdvisor)',
      description: 'Working set of each replica\'s container over its mem_limit (docker-compose.yml). At 100% the kernel kills it (OOM).',
      queries: [
        prom(
          `max by (container_label_com_docker_compose_service) (container_memory_working_set_bytes{job="cadvisor", container_label_com_docker_compose_service=~"$instance"})\n/\n` +
            `max by (container_label_com_docker_compose_service) (container_spec_memory_limit_bytes{job="cadvisor", container_label_com_docker_compose_service=~"$instance"} > 0)`,
          '{{container_label_com_docker_compose_service}}',
        ),
      ],
      unit: 'percentunit',
      min: 0,
      max: 1,
      thresholds: [
        { value: null, color: 'green' },
        { value: 0.9, color: 'red' },
      ],
      links: [toHost],
    }),
  );
  board.withPanel(
    timeSeries({
      title: 'Container CPU (cAdvisor)',
      description: 'CPU of each replica\'s container as the kernel accounts it (1 = one core), Node and everything else in it.',
      queries: [
        prom(
          `sum by (container_label_com_docker_compose_service) (rate(container_cpu_usage_seconds_total{job="cadvisor", container_label_com_docker_compose_service=~"$instance"}[$__rate_interval]))`,
          '{{container_label_com_docker_compose_service}}',
        ),
      ],
      unit: 'short',
      min: 0,
      links: [toHost],
    }),
  );
  board.withPanel(
    timeSeries({
      title: 'Host CPU and memory (node-exporter)',
      description: 'The machine every container shares: busy CPU share and used memory share. A busy host slows every replica at once.',
      queries: [
        prom('1 - avg(rate(node_cpu_seconds_total{job="node-exporter", mode="idle"}[$__rate_interval]))', 'cpu busy'),
        prom('1 - sum(node_memory_MemAvailable_bytes{job="node-exporter"}) / sum(node_memory_MemTotal_bytes{job="node-exporter"})', 'memory used'),
      ],
      unit: 'percentunit',
      min: 0,
      max: 1,
      links: [toHost],
    }),
  );

  // ---------------- fairness ----------------
  board.withRow(new dashboard.RowBuilder(`Correctness: is the die fair? (chi-square over ${w})`));
  board.withPanel(
    timeSeries({
      title: 'Chi-square / critical value, by die',
      description:
        `Pearson's chi-square of the face counts over ${w}, divided by its critical value at p = ${fairness.p_value}: above 1 the die is not fair ` +
        `(DiceBiased fires after ${fairness.for}, with at least ${fairness.min_rolls_per_face} expected rolls per face). A fair die crosses 1 once in ${1 / fairness.p_value} windows.`,
      queries: [
        prom(
          `${recordingRule('dice:chi_square:')}\n/ on (dice_sides)\n${recordingRule('dice:chi_square_critical:')}`,
          'd{{dice_sides}}',
        ),
      ],
      unit: 'short',
      min: 0,
      thresholds: [
        { value: null, color: 'green' },
        { value: 1, color: 'red' },
      ],
      links: [runbook('DiceBiased')],
    }),
  );
  board.withPanel(
    barGauge({
      title: `d6 faces vs expected (${w})`,
      description: 'Rolls of each face of the six-sided die (GET / and /roll?sides=6) over the expected count: a fair die stays near 1 for every face; a loaded one leans to one face.',
      queries: [
        prom(
          `sum by (dice_face) (${recordingRule('dice:face_rolls:increase')}{dice_sides="6"})\n/ ignoring (dice_face) group_left\nsum(${recordingRule('dice:face_rolls_expected:increase')}{dice_sides="6"})`,
          'face {{dice_face}}',
          { instant: true },
        ),
      ],
      unit: 'short',
      decimals: 2,
      min: 0,
      max: 2,
      thresholds: [
        { value: null, color: 'orange' },
        { value: 0.8, color: 'green' },
        { value: 1.2, color: 'orange' },
      ],
    }),
  );
  board.withPanel(
    barGauge({
      title: `Expected rolls per face (${w})`,
      description: `Rolls per face a fair die would show in the window. The chi-square test only means something from ${fairness.min_rolls_per_face} up; DiceBiased waits for it.`,
      queries: [prom(`${recordingRule('dice:face_rolls_expected:increase')}`, 'd{{dice_sides}}', { instant: true })],
      unit: 'short',
      decimals: 0,
      min: 0,
      thresholds: [
        { value: null, color: 'orange' },
        { value: fairness.min_rolls_per_face, color: 'green' },
      ],
    }),
  );

  // ---------------- drills ----------------
  board.withRow(new dashboard.RowBuilder('Fault injection (drills: dice_faults_*)'));
  board.withPanel(
    timeSeries({
      title: 'Injected errors and bias, by replica',
      dataLinks: [replicaLogs],
      description: 'Share of dice requests failed on purpose (dice_faults_error_ratio) and share of dice forced to their highest face (dice_faults_bias). Errors or an unfair die while these are up are the drill.',
      queries: [
        prom(`max by (instance) (dice_faults_error_ratio${app()})`, 'errors {{instance}}'),
        prom(`max by (instance) (dice_faults_bias${app()})`, 'bias {{instance}}'),
      ],
      unit: 'percentunit',
      min: 0,
      max: 1,
      width: 12,
    }),
  );
  board.withPanel(
    timeSeries({
      title: 'Injected latency, by replica',
      dataLinks: [replicaLogs],
      description: 'Latency the drill adds to dice requests: the fixed part and the maximum jitter on top (dice_faults_added_latency).',
      queries: [prom(`max by (instance, dice_faults_latency_part) (dice_faults_added_latency${app()})`, '{{dice_faults_latency_part}} {{instance}}')],
      unit: 's',
      min: 0,
      width: 12,
    }),
  );

  // ---------------- logs and traces ----------------
  board.withRow(new dashboard.RowBuilder('Logs and traces: from a symptom to the request'));
  const stream = `{service_name="${SERVICE}", deployment_environment_name="$deployment_environment_name"} | service_instance_id=~"$instance"`;
  board.withPanel(
    timeSeries({
      title: 'Log lines by level',
      description: 'Log records per level (detected_level, from the OTLP severity). A rise of error or warn lines dates the problem.',
      queries: [logql(`sum by (detected_level) (count_over_time(${stream} [$__auto]))`, '{{detected_level}}')],
      unit: 'short',
      stack: true,
      bars: true,
      width: 8,
    }),
  );
  board.withPanel(
    logsPanel({
      title: 'Errors, warnings and failed requests',
      description:
        'Error and warning records, and the access log of every request answered 4xx or 5xx, newest first. Open a line for its fields: "View trace" opens its trace in Tempo.',
      queries: [logql(`${stream} | detected_level=~"error|warn" or http_response_status_code=~"[45].."`)],
      width: 16,
    }),
  );
  const traces = `resource.service.name = "${SERVICE}" && resource.deployment.environment.name = "$deployment_environment_name" && resource.service.instance.id =~ "$instance" && kind = server`;
  // Tempo returns the first traces it finds, not the newest, unless asked (Tempo v3.0.3,
  // pkg/traceql/enum_hints.go: most_recent); the hint ends the query (expr.y: `root hints`).
  const columns = '| select(span.http.route, span.http.response.status_code) with (most_recent=true)';
  board.withPanel(
    traceTable({
      title: 'Slowest recent requests',
      description:
        'The most recent requests in the time range, slowest first (TraceQL). Click a trace ID for the trace; in the trace, "Logs for this span" shows its log lines (by trace ID).',
      queries: [traceql(`{ ${traces} } ${columns}`, 100)],
      sortBy: 'Duration',
    }),
  );
  board.withPanel(
    traceTable({
      title: 'Failed and rejected requests',
      description:
        'Recent requests that failed (span status error: the 5xx) or were rejected (4xx), newest first; expand a trace for its route and status. ' +
        'Click a trace ID for the trace and its logs.',
      queries: [traceql(`{ ${traces} && (status = error || span.http.response.status_code >= 400) } ${columns}`, 50)],
      sortBy: 'Start time',
    }),
  );

  return finalize(board.build());
}
