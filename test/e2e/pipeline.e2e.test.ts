// All three signals through the real pipeline: requests with known trace IDs go through the load
// balancer; then each backend's HTTP API is polled until what was sent shows up, and the time it
// took is printed. Backends that cannot run where the suite runs are skipped with the reason.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { getJson, promQuery, waitFor } from './support/poll.ts';
import { sendTraced, setFaults as setReplicaFaults, type Sent } from './support/requests.ts';

const targets = inject('targets');
const freshness: Record<string, number> = {};

const sent: Sent[] = [];
const send = async (path: string, expected: number) => sent.push(await sendTraced(targets, path, expected));
const setFaults = (body: Record<string, number>) => setReplicaFaults(targets, body);

// The replicas' own count of rejected rolls: this file's 400s are the only ones sent meanwhile.
const REJECTED_ROLLS = 'sum(http_server_request_duration_count{job="dice-api", http_route="/roll", http_response_status_code="400"})';
let rejectedBefore = 0;

beforeAll(async () => {
  rejectedBefore = Number((await promQuery(targets.prometheus, REJECTED_ROLLS))[0]?.value[1] ?? 0);
  for (let i = 0; i < 20; i++) await send(`/roll?dice=${1 + (i % 5)}&sides=20`, 200);
  for (let i = 0; i < 5; i++) await send('/roll?dice=0&sides=6', 400);
  if (targets.admins.length > 0) {
    await setFaults({ errorRatio: 1 });
    try {
      for (let i = 0; i < 4; i++) await send('/roll?dice=1&sides=6', 500);
    } finally {
      await setFaults({ errorRatio: 0 });
    }
  }
});

afterAll(() => {
  const lines = Object.entries(freshness).map(([what, ms]) => `  ${what.padEnd(48)} ${(ms / 1000).toFixed(1)} s`);
  console.log(`time from the last request to queryable (${targets.mode} stack):\n${lines.join('\n')}`);
});

describe('Prometheus', () => {
  it('has request metrics from both replicas, scraped by the collector', async () => {
    const { value } = await waitFor('http_server_request_duration_count of both replicas', async () => {
      const rows = await promQuery(targets.prometheus, 'sum by (instance) (http_server_request_duration_count{job="dice-api", http_route="/roll"})');
      const instances = rows.map((r) => r.metric['instance']).sort();
      return instances.length >= 2 ? instances : undefined;
    });
    expect(value).toEqual(['dice-api-1', 'dice-api-2']);
    const lastRejected = sent.filter((s) => s.status === 400).at(-1)!.at;
    await waitFor('the 5 rejected rolls counted by the replicas', async () => {
      const now = Number((await promQuery(targets.prometheus, REJECTED_ROLLS))[0]?.value[1] ?? 0);
      return now >= rejectedBefore + 5 ? now : undefined;
    });
    freshness['app metrics (scraped) in Prometheus'] = Date.now() - lastRejected;
  });

  it('has the load balancer counting responses by status class where users see them', async () => {
    await waitFor('haproxy frontend 2xx, 4xx and 5xx counts', async () => {
      const rows = await promQuery(targets.prometheus, 'sum by (code) (haproxy_frontend_http_responses_total{proxy="public"})');
      const byCode = Object.fromEntries(rows.map((r) => [r.metric['code'], Number(r.value[1])]));
      const want = targets.admins.length > 0 ? ['2xx', '4xx', '5xx'] : ['2xx', '4xx'];
      return want.every((code) => (byCode[code] ?? 0) > 0) ? byCode : undefined;
    });
  });

  it('has span metrics whose exemplars carry the trace IDs that were sent', async () => {
    const ids = new Set(sent.map((s) => s.traceId));
    const last = sent.at(-1)!.at;
    const { value } = await waitFor('an exemplar of traces_span_metrics_duration_seconds_bucket with a sent trace ID', async () => {
      const params = new URLSearchParams({
        query: 'traces_span_metrics_duration_seconds_bucket{service_name="dice-api"}',
        start: String(Math.floor(sent[0]!.at / 1000) - 60),
        end: String(Math.ceil(Date.now() / 1000) + 60),
      });
      const body = await getJson<{ data: { seriesLabels: Record<string, string>; exemplars: { labels: Record<string, string> }[] }[] }>(
        `${targets.prometheus}/api/v1/query_exemplars?${params}`,
      );
      const found = body.data.flatMap((series) =>
        series.exemplars.filter((e) => ids.has(e.labels['trace_id'] ?? '')).map((e) => ({ series: series.seriesLabels, traceId: e.labels['trace_id']! })),
      );
      return found.length > 0 ? found : undefined;
    });
    freshness['span metrics exemplar in Prometheus'] = Date.now() - last;
    expect(value[0]!.series).toMatchObject({ span_kind: 'SPAN_KIND_SERVER', job: 'dice-api' });
    expect(value[0]!.series['http_route']).toMatch(/^\/roll$/);
    if (targets.tempo) {
      const trace = await fetch(`${targets.tempo}/api/v2/traces/${value[0]!.traceId}`);
      expect(trace.status, `exemplar trace ${value[0]!.traceId} resolves in Tempo`).toBe(200);
    }
  });

  it('counts the injected errors as 5xx in the span metrics, by route', async () => {
    if (targets.admins.length === 0) return;
    await waitFor('5xx span metrics for /roll', async () => {
      const rows = await promQuery(
        targets.prometheus,
        'sum(traces_span_metrics_calls_total{service_name="dice-api", http_route="/roll", http_response_status_code="500"})',
      );
      return rows.length > 0 && Number(rows[0]!.value[1]) >= 4 ? rows : undefined;
    });
  });

  it('scrapes the collector, node-exporter and the load balancer, and sees every replica up', async () => {
    await waitFor('up == 1 for the stack components', async () => {
      const rows = await promQuery(targets.prometheus, 'up{job=~"otel-collector|node-exporter|load-balancer|alertmanager|prometheus"} == 1');
      return rows.length >= 5 ? rows : undefined;
    });
    await waitFor('the collector accepting spans and logs', async () => {
      const rows = await promQuery(targets.prometheus, 'sum(otelcol_receiver_accepted_spans) > 0 and sum(otelcol_receiver_accepted_log_records) > 0');
      return rows.length > 0 ? rows : undefined;
    });
  });
});

describe.skipIf(!targets.tempo)(`Tempo${targets.absent['tempo'] ? ` (skipped: ${targets.absent['tempo']})` : ''}`, () => {
  it('returns each sent trace by ID with its spans and resource, and TraceQL finds them by route and status', async () => {
    const ok = sent.find((s) => s.status === 200)!;
    const { value } = await waitFor(`trace ${ok.traceId} in Tempo`, async () => {
      const res = await fetch(`${targets.tempo}/api/v2/traces/${ok.traceId}`);
      return res.ok ? ((await res.json()) as Record<string, unknown>) : undefined;
    });
    freshness['trace queryable in Tempo'] = Date.now() - ok.at;
    const text = JSON.stringify(value);
    expect(text).toContain('dice.roll');
    expect(text).toContain('"service.name"');
    const q = encodeURIComponent('{ resource.service.name = "dice-api" && span.http.route = "/roll" && span.http.response.status_code = 500 }');
    await waitFor('TraceQL search for the 500s', async () => {
      const body = await getJson<{ traces?: { traceID: string }[] }>(`${targets.tempo}/api/search?q=${q}&limit=100`);
      const ids = new Set((body.traces ?? []).map((t) => t.traceID.padStart(32, '0')));
      return sent.filter((s) => s.status === 500).some((s) => ids.has(s.traceId)) ? ids : undefined;
    });
  });
});

describe.skipIf(!targets.loki)(`Loki${targets.absent['loki'] ? ` (skipped: ${targets.absent['loki']})` : ''}`, () => {
  it("returns each trace's access-log and error records by trace_id, with service and level labels", async () => {
    const failed = sent.find((s) => s.status === 500) ?? sent[0]!;
    const query = `{service_name="dice-api"} | trace_id="${failed.traceId}"`;
    const { value } = await waitFor(`log records of ${failed.traceId} in Loki`, async () => {
      const params = new URLSearchParams({ query, start: String((failed.at - 60_000) * 1e6), end: String((Date.now() + 60_000) * 1e6) });
      const body = await getJson<{ data: { result: { stream: Record<string, string>; values: [string, string][] }[] } }>(
        `${targets.loki}/loki/api/v1/query_range?${params}`,
      );
      return body.data.result.length > 0 ? body.data.result : undefined;
    });
    freshness['log line queryable in Loki'] = Date.now() - failed.at;
    expect(value[0]!.stream).toHaveProperty('service_name', 'dice-api');
    expect(value.some((s) => s.values.some(([, line]) => line.includes('request')))).toBe(true);
  });
});

describe('the collector', () => {
  it.skipIf(!targets.collectorLog)('started without a deprecation warning', () => {
    const log = readFileSync(targets.collectorLog!, 'utf8');
    const deprecations = log.split('\n').filter((line) => /deprecat/i.test(line));
    expect(deprecations).toEqual([]);
    expect(log).toContain('Everything is ready');
  });
});
