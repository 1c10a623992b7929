// Grafana's provisioning and dashboards, checked without Grafana (AGPL, not packaged here) and
// without a running stack: the files match Grafana 13's documented provisioning schema, every
// data source UID used is provisioned, the JSON is what the generator makes, every query parses
// (PromQL by promtool, LogQL and TraceQL by the lezer grammars of Grafana's own query editors) and
// names only labels and attributes Loki and Tempo store for our services, and every link from one
// signal to another is built the way Grafana builds it and lands on the right labels.
// test/e2e/dashboards.e2e.test.ts runs the same queries and links against the live backends.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseDocument } from 'yaml';
import { describe, expect, it } from 'vitest';
import { renderDashboards } from '../../scripts/dashboards/generate.ts';
import {
  allPanels,
  builtins,
  derivedFieldValue,
  explorePane,
  formatVariable,
  interpolate,
  panelQueries,
  parseLabelValues,
  readProvisioningValue,
  renderTraceToLogs,
  renderTraceToMetrics,
  stringsIn,
  traceIdLookupRange,
  type DashboardJson,
  type DerivedFieldConfig,
  type Formatter,
  type Scope,
  type SpanModel,
  type TraceToLogsConfig,
} from '../../scripts/dashboards/grafana-model.ts';
import { logqlLabels, logqlProblems, queriesInText, traceqlAttributes, traceqlHints, traceqlProblems } from '../../scripts/dashboards/query-grammars.ts';
import { LOG_ATTRIBUTES, lokiNames, resourceAttributes, SPAN_ATTRIBUTES } from '../../scripts/dashboards/lib/stored-names.ts';
import { alertNames, landingUid, runbookUrl, spec } from '../../scripts/dashboards/lib/knobs.ts';
import { binary, ROOT, run } from './support/tools.ts';
import { realSelector } from '../e2e/support/dashboards.ts';

const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const DATASOURCES_FILE = 'observability/grafana/provisioning/datasources/datasources.yaml';
const PROVIDERS_FILE = 'observability/grafana/provisioning/dashboards/dashboards.yaml';

/** Parses YAML strictly: duplicate keys and syntax errors fail, as they would in Grafana's loader. */
function strictYaml(path: string): any {
  const doc = parseDocument(read(path), { uniqueKeys: true, strict: true, prettyErrors: true });
  if (doc.errors.length > 0) throw new Error(`${path}: ${doc.errors.map((e) => e.message).join('; ')}`);
  return doc.toJS();
}

// ---------- Grafana 13's provisioning schema, as documented ----------
// administration/provisioning (data sources, dashboards), administration/correlations
// (provisioning), and each data source's "Provision the data source" page (Prometheus, Tempo,
// Loki, Alertmanager). Only the keys listed there are accepted: a misspelt key is silently
// ignored by Grafana, so here it fails.

type Shape = 'string' | 'boolean' | 'number' | 'duration' | { oneOf: string[] } | { object: Schema } | { list: Shape };
interface Schema {
  [key: string]: Shape | { required: Shape };
}

const TAGS: Shape = { list: { object: { key: { required: 'string' }, value: 'string' } } };
const JSON_DATA: Record<string, Schema> = {
  prometheus: {
    httpMethod: { oneOf: ['GET', 'POST'] },
    prometheusType: { oneOf: ['Prometheus', 'Cortex', 'Mimir', 'Thanos'] },
    prometheusVersion: 'string',
    timeInterval: 'duration',
    queryTimeout: 'duration',
    manageAlerts: 'boolean',
    alertmanagerUid: 'string',
    cacheLevel: { oneOf: ['Low', 'Medium', 'High', 'None'] },
    incrementalQuerying: 'boolean',
    incrementalQueryOverlapWindow: 'duration',
    disableRecordingRules: 'boolean',
    customQueryParameters: 'string',
    exemplarTraceIdDestinations: { list: { object: { name: { required: 'string' }, datasourceUid: 'string', url: 'string', urlDisplayLabel: 'string' } } },
  },
  tempo: {
    tracesToLogsV2: {
      object: {
        datasourceUid: { required: 'string' },
        spanStartTimeShift: 'duration',
        spanEndTimeShift: 'duration',
        tags: TAGS,
        filterByTraceID: 'boolean',
        filterBySpanID: 'boolean',
        customQuery: 'boolean',
        query: 'string',
      },
    },
    tracesToMetrics: {
      object: {
        datasourceUid: { required: 'string' },
        spanStartTimeShift: 'duration',
        spanEndTimeShift: 'duration',
        tags: TAGS,
        queries: { list: { object: { name: 'string', query: { required: 'string' } } } },
      },
    },
    serviceMap: { object: { datasourceUid: { required: 'string' } } },
    nodeGraph: { object: { enabled: 'boolean' } },
    search: { object: { hide: 'boolean' } },
    traceQuery: { object: { timeShiftEnabled: 'boolean', spanStartTimeShift: 'duration', spanEndTimeShift: 'duration' } },
    spanBar: { object: { type: 'string', tag: 'string' } },
    streamingEnabled: { object: { search: 'boolean', metrics: 'boolean' } },
  },
  loki: {
    maxLines: 'number',
    timeout: 'number',
    manageAlerts: 'boolean',
    alertmanagerUid: 'string',
    derivedFields: {
      list: {
        object: {
          name: { required: 'string' },
          matcherType: { oneOf: ['label', 'regex'] },
          matcherRegex: { required: 'string' },
          datasourceUid: 'string',
          url: 'string',
          urlDisplayLabel: 'string',
          targetBlank: 'boolean',
        },
      },
    },
  },
  alertmanager: {
    implementation: { oneOf: ['prometheus', 'cortex', 'mimir'] },
    handleGrafanaManagedAlerts: 'boolean',
  },
};

const DATASOURCE: Schema = {
  name: { required: 'string' },
  type: { required: { oneOf: Object.keys(JSON_DATA) } },
  access: { required: { oneOf: ['proxy', 'direct'] } },
  orgId: 'number',
  uid: { required: 'string' },
  url: { required: 'string' },
  user: 'string',
  database: 'string',
  basicAuth: 'boolean',
  basicAuthUser: 'string',
  withCredentials: 'boolean',
  isDefault: 'boolean',
  version: 'number',
  editable: 'boolean',
  jsonData: { object: {} }, // checked per type below
  secureJsonData: { object: {} },
  correlations: {
    list: {
      object: {
        targetUID: { required: 'string' },
        label: { required: 'string' },
        description: 'string',
        config: {
          required: {
            object: {
              type: { required: { oneOf: ['query'] } },
              field: { required: 'string' },
              target: { required: { object: {} } },
              transformations: { list: { object: { type: { oneOf: ['regex', 'logfmt'] }, field: 'string', expression: 'string', mapValue: 'string' } } },
            },
          },
        },
      },
    },
  },
};

const DATASOURCES_FILE_SCHEMA: Schema = {
  apiVersion: { required: 'number' },
  prune: 'boolean',
  deleteDatasources: { list: { object: { name: { required: 'string' }, orgId: 'number' } } },
  datasources: { required: { list: { object: DATASOURCE } } },
};

const PROVIDERS_FILE_SCHEMA: Schema = {
  apiVersion: { required: 'number' },
  providers: {
    required: {
      list: {
        object: {
          name: { required: 'string' },
          orgId: 'number',
          folder: 'string',
          folderUid: 'string',
          type: { oneOf: ['file'] },
          disableDeletion: 'boolean',
          updateIntervalSeconds: 'number',
          allowUiUpdates: 'boolean',
          options: { required: { object: { path: { required: 'string' }, foldersFromFilesStructure: 'boolean' } } },
        },
      },
    },
  },
};

/** Problems of `value` against `schema`, each with its path; objects with an empty schema are open. */
function validate(value: unknown, schema: Schema, path: string): string[] {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return [`${path}: expected a mapping`];
  const problems: string[] = [];
  const open = Object.keys(schema).length === 0;
  for (const key of Object.keys(value)) {
    if (!open && !(key in schema)) problems.push(`${path}.${key}: not a documented key`);
  }
  for (const [key, rule] of Object.entries(schema)) {
    const required = typeof rule === 'object' && 'required' in rule;
    const shape = (required ? (rule as { required: Shape }).required : rule) as Shape;
    const v = (value as Record<string, unknown>)[key];
    if (v === undefined || v === null) {
      if (required) problems.push(`${path}.${key}: required`);
      continue;
    }
    problems.push(...check(v, shape, `${path}.${key}`));
  }
  return problems;
}

function check(v: unknown, shape: Shape, path: string): string[] {
  if (shape === 'string') return typeof v === 'string' ? [] : [`${path}: expected a string`];
  if (shape === 'boolean') return typeof v === 'boolean' ? [] : [`${path}: expected true or false`];
  if (shape === 'number') return typeof v === 'number' ? [] : [`${path}: expected a number`];
  if (shape === 'duration') return typeof v === 'string' && /^-?\d+(ms|s|m|h|d)$/.test(v) ? [] : [`${path}: expected a duration like 15s or -5m`];
  if ('oneOf' in shape) return shape.oneOf.includes(v as string) ? [] : [`${path}: ${JSON.stringify(v)} is not one of ${shape.oneOf.join(', ')}`];
  if ('list' in shape) return Array.isArray(v) ? v.flatMap((item, i) => check(item, shape.list, `${path}[${i}]`)) : [`${path}: expected a list`];
  return validate(v, shape.object, path);
}

// ---------- the files ----------

interface Datasource {
  name: string;
  uid: string;
  type: string;
  url: string;
  isDefault?: boolean;
  jsonData: Record<string, any>;
  correlations?: { targetUID: string; config: { field: string; target: Record<string, string> } }[];
}

const datasourcesFile = strictYaml(DATASOURCES_FILE);
const datasources: Datasource[] = datasourcesFile.datasources;
const byUid = new Map(datasources.map((d) => [d.uid, d]));
const ds = (uid: string) => byUid.get(uid)!;
/** A provisioning value as Grafana reads it ($$ -> $). */
const value = (raw: string) => readProvisioningValue(raw).value;

const files = renderDashboards();
const boards: DashboardJson[] = Object.values(files).map((content) => JSON.parse(content) as DashboardJson);
const board = (uid: string) => boards.find((b) => b.uid === uid)!;

/** Sample values of the dashboard variables, for checks that need no stack ("All" of two replicas). */
const SAMPLE_VALUES: Record<string, string[]> = {
  deployment_environment_name: ['compose'],
  instance: ['dice-api-1', 'dice-api-2'],
  container: ['dice-api-1', 'prometheus'],
};

/** A dashboard's variables with the sample values, as Grafana holds them, and the built-ins. */
function sampleScope(b: DashboardJson, extra: Scope = builtins(3600)): Scope {
  const scope: Scope = { ...extra };
  for (const v of b.templating?.list ?? []) {
    const values = SAMPLE_VALUES[v.name];
    if (!values) throw new Error(`${b.uid}: no sample value for variable ${v.name}; add one to SAMPLE_VALUES`);
    scope[v.name] = { values, multi: v.multi, includeAll: v.includeAll, allValue: v.allValue, all: Boolean(v.multi || v.includeAll) };
  }
  return scope;
}

/** Every LogQL and TraceQL query of the dashboards, with the board's sample variables as its data source renders them. */
const dashboardQueries = (language: 'logql' | 'traceql') =>
  boards.flatMap((b) => panelQueries(b).filter((q) => q.language === language).map((q) => ({ where: `${b.uid} / ${q.panel} ${q.refId}`, query: interpolate(q.text, sampleScope(b), q.datasource.type as Formatter) })));

/** promtool's parser (the pinned Prometheus version's), on many expressions; returns the ones it rejects. */
function promtoolRejects(exprs: { where: string; expr: string }[]): string[] {
  const promtool = binary('promtool');
  return exprs.flatMap(({ where, expr }) => {
    const result = run(promtool, ['--experimental', 'promql', 'format', '--', expr]);
    return result.status === 0 ? [] : [`${where}: ${result.output.trim()}\n  ${expr}`];
  });
}

/** A SERVER span of a /roll request as the app records it (libs/telemetry) and Tempo returns it. */
const SPAN: SpanModel = {
  traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
  spanId: '00f067aa0ba902b7',
  name: 'GET /roll',
  startMs: Date.parse('2026-01-01T12:00:00Z'),
  durationMs: 3,
  resource: {
    'service.name': 'dice-api',
    'service.version': '1.0.0',
    'service.instance.id': 'dice-api-1',
    'deployment.environment.name': 'compose',
    'telemetry.sdk.language': 'nodejs',
  },
  attributes: { 'http.route': '/roll', 'http.request.method': 'GET', 'http.response.status_code': '200' },
};

/** The trace-to-logs settings as Grafana reads them ($$ -> $). */
const traceToLogsConfig = (): TraceToLogsConfig => {
  const raw = ds('tempo').jsonData['tracesToLogsV2'] as TraceToLogsConfig;
  return { ...raw, query: raw.query && value(raw.query) };
};

/** The correlations' LogQL, for a replica series whose instance is dice-api-1. */
const correlationQueries = () =>
  (ds('prometheus').correlations ?? []).map((c) => ({ where: `correlation ${c.targetUID} on ${c.config.field}`, expr: value(c.config.target['expr']!).replaceAll('${instance}', 'dice-api-1') }));

/**
 * The LogQL and TraceQL written outside the dashboards: runbooks, alert texts, the tests' and
 * benchmarks' own queries, the data sources' links. This file is left out: its queries are the
 * grammar fixtures, some broken on purpose.
 */
function otherQueries(): { where: string; language: 'logql' | 'traceql'; query: string }[] {
  const found: { where: string; language: 'logql' | 'traceql'; query: string }[] = [];
  const scan = (path: string) => found.push(...queriesInText(read(path)).map((q) => ({ where: path, ...q })));
  for (const name of readdirSync(join(ROOT, 'docs/runbooks'))) scan(`docs/runbooks/${name}`);
  for (const name of readdirSync(join(ROOT, 'observability/prometheus/rules'))) scan(`observability/prometheus/rules/${name}`);
  for (const dir of ['test/e2e', 'test/e2e/support', 'test/faults', 'bench/lib']) {
    for (const name of readdirSync(join(ROOT, dir)).filter((n) => n.endsWith('.ts'))) scan(`${dir}/${name}`);
  }
  for (const { where, expr } of correlationQueries()) found.push({ where, language: 'logql', query: expr });
  found.push({ where: 'tracesToLogsV2', language: 'logql', query: renderTraceToLogs(traceToLogsConfig(), SPAN)!.query });
  return found;
}

describe('Grafana provisioning files (Grafana 13 documented schema)', () => {
  it('the data source file parses strictly and uses only documented keys, per data source type', () => {
    const problems = validate(datasourcesFile, DATASOURCES_FILE_SCHEMA, 'datasources.yaml');
    for (const d of datasources) {
      problems.push(...validate(d.jsonData ?? {}, JSON_DATA[d.type] ?? {}, `datasources.yaml ${d.uid}.jsonData`));
    }
    expect(problems).toEqual([]);
    expect(datasourcesFile.apiVersion).toBe(1);
  });

  it('provisions Prometheus, Tempo, Loki and Alertmanager with stable UIDs at their compose addresses, one of them default', () => {
    expect(Object.fromEntries(datasources.map((d) => [d.uid, [d.type, d.url]]))).toEqual({
      prometheus: ['prometheus', 'http://prometheus:9090'],
      tempo: ['tempo', 'http://tempo:3200'],
      loki: ['loki', 'http://loki:3100'],
      alertmanager: ['alertmanager', 'http://alertmanager:9093'],
    });
    expect(datasources.filter((d) => d.isDefault).map((d) => d.uid)).toEqual(['prometheus']);
    expect(ds('alertmanager').jsonData['implementation']).toBe('prometheus');
    for (const d of datasources) expect(d.uid, `${d.name}: Grafana UIDs are at most 40 of [A-Za-z0-9_-]`).toMatch(/^[A-Za-z0-9_-]{1,40}$/);
  });

  it('writes every literal $ as $$ (Grafana would expand $name and ${name} from its environment)', () => {
    const leaks = stringsIn(datasourcesFile).flatMap(({ path, value: raw }) => readProvisioningValue(raw).envReferences.map((name) => `${path}: $${name}`));
    expect(leaks).toEqual([]);
  });

  it('the dashboard provider reads the files compose mounts at /etc/grafana/dashboards', () => {
    const providers = strictYaml(PROVIDERS_FILE);
    expect(validate(providers, PROVIDERS_FILE_SCHEMA, 'dashboards.yaml')).toEqual([]);
    expect(providers.providers.map((p: { options: { path: string } }) => p.options.path)).toEqual(['/etc/grafana/dashboards']);
    const grafana = (parse(read('docker-compose.yml')) as { services: Record<string, { volumes: string[] }> }).services['grafana']!;
    // `z`: relabelled for the container on SELinux hosts (test/config/compose.test.ts).
    expect(grafana.volumes).toContain('./observability/grafana/dashboards:/etc/grafana/dashboards:ro,z');
    expect(grafana.volumes).toContain('./observability/grafana/provisioning:/etc/grafana/provisioning:ro,z');
  });
});

describe('Grafana opens on the landing dashboard', () => {
  it('compose sets the home dashboard to the landing dashboard\'s generated file, where the provider mounts it', () => {
    const grafana = (parse(read('docker-compose.yml')) as { services: Record<string, { environment: Record<string, string> }> }).services['grafana']!;
    const home = grafana.environment['GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH'];
    expect(home, 'GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH in docker-compose.yml').toBe(`/etc/grafana/dashboards/${landingUid}.json`);
    expect(Object.keys(files)).toContain(`${landingUid}.json`);
  });
});

describe('dashboards as code', () => {
  it('the committed JSON equals a fresh generation (npm run generate:dashboards)', () => {
    for (const [name, content] of Object.entries(files)) {
      expect(read(`observability/grafana/dashboards/${name}`), `${name} is stale: run npm run generate:dashboards`).toBe(content);
    }
    const check = run(process.execPath, ['scripts/dashboards/generate.ts', '--check']);
    expect(check.status, check.output).toBe(0);
  });

  it('has the four dashboards at stable UIDs, the landing one where the alerts link', () => {
    expect(boards.map((b) => b.uid).sort()).toEqual(['dice-api-health', 'dice-slo-budget', 'host-containers', 'telemetry-pipeline']);
    expect(landingUid).toBe('dice-api-health');
    expect(spec.dashboard_url).toMatch(/\/d\/dice-api-health$/);
  });

  it('every data source UID a panel, query, variable, annotation or correlation uses is provisioned, with its type', () => {
    const used: { where: string; ref: { type?: string; uid?: string } }[] = [];
    for (const b of boards) {
      for (const p of allPanels(b)) {
        if (p.datasource) used.push({ where: `${b.uid} / ${p.title}`, ref: p.datasource });
        for (const t of p.targets ?? []) used.push({ where: `${b.uid} / ${p.title} / ${t['refId']}`, ref: t['datasource'] as { uid: string } });
      }
      for (const v of b.templating?.list ?? []) used.push({ where: `${b.uid} / variable ${v.name}`, ref: v.datasource ?? {} });
      for (const a of b.annotations?.list ?? []) {
        const ref = a['datasource'] as { type?: string; uid?: string };
        if (a['builtIn'] === 1) expect(ref.uid, 'the built-in annotation').toBe('-- Grafana --');
        else used.push({ where: `${b.uid} / annotation ${String(a['name'])}`, ref });
      }
    }
    for (const d of datasources) {
      for (const c of d.correlations ?? []) used.push({ where: `correlation from ${d.uid}`, ref: { uid: c.targetUID, type: byUid.get(c.targetUID)?.type } });
      const json = d.jsonData ?? {};
      for (const link of [json['tracesToLogsV2'], json['tracesToMetrics'], json['serviceMap']].filter(Boolean)) {
        used.push({ where: `${d.uid} link`, ref: { uid: link.datasourceUid, type: byUid.get(link.datasourceUid)?.type } });
      }
      for (const e of json['exemplarTraceIdDestinations'] ?? []) used.push({ where: `${d.uid} exemplars`, ref: { uid: e.datasourceUid, type: 'tempo' } });
      for (const f of json['derivedFields'] ?? []) used.push({ where: `${d.uid} derived field ${f.name}`, ref: { uid: f.datasourceUid, type: 'tempo' } });
      if (json['alertmanagerUid']) used.push({ where: `${d.uid} alertmanagerUid`, ref: { uid: json['alertmanagerUid'], type: 'alertmanager' } });
    }
    const wrong = used.filter(({ ref }) => !ref.uid || !byUid.has(ref.uid) || (ref.type && byUid.get(ref.uid)!.type !== ref.type));
    expect(wrong.map((w) => `${w.where}: ${JSON.stringify(w.ref)}`)).toEqual([]);
    expect(used.length).toBeGreaterThan(100);
  });

  it('no dashboard link, panel link or annotation has a placement (Grafana 13.2 shows none of them then)', () => {
    // Grafana 13.2 shows above the panels only links without a placement, and its controls menu
    // drops links of type `dashboards`; the foundation SDK adds `placement: inControlsMenu` to each.
    const placed: string[] = [];
    for (const b of boards) {
      for (const l of b.links ?? []) if ('placement' in l) placed.push(`${b.uid} link ${String(l['title'])}`);
      for (const a of b.annotations?.list ?? []) if ('placement' in a) placed.push(`${b.uid} annotation ${String(a['name'])}`);
      for (const p of allPanels(b)) for (const l of p.links ?? []) if ('placement' in l) placed.push(`${b.uid} / ${p.title} link ${l.title}`);
    }
    expect(placed).toEqual([]);
    expect(boards.every((b) => (b.links ?? []).some((l) => l['type'] === 'dashboards')), 'each dashboard has its dashboards dropdown').toBe(true);
  });

  it('filters by environment (deployment_environment_name) and replica (instance), both from Prometheus', () => {
    for (const uid of ['dice-api-health', 'telemetry-pipeline']) {
      const vars = board(uid).templating?.list ?? [];
      expect(vars.map((v) => v.name), uid).toEqual(['deployment_environment_name', 'instance']);
      for (const v of vars) expect(parseLabelValues(String(v.query)).label, `${uid} ${v.name}`).toBe(v.name);
    }
  });

  it('every PromQL query (panels, variables, annotations) parses in promtool, with variables filled in', () => {
    const exprs: { where: string; expr: string }[] = [];
    for (const b of boards) {
      for (const q of panelQueries(b).filter((q) => q.language === 'promql')) exprs.push({ where: `${b.uid} / ${q.panel} ${q.refId}`, expr: interpolate(q.text, sampleScope(b), 'prometheus') });
      for (const v of b.templating?.list ?? []) exprs.push({ where: `${b.uid} / variable ${v.name}`, expr: parseLabelValues(interpolate(String(v.query), sampleScope(b), 'prometheus')).selector });
      for (const a of b.annotations?.list ?? []) if (a['expr']) exprs.push({ where: `${b.uid} / annotation ${String(a['name'])}`, expr: String(a['expr']) });
    }
    expect(exprs.length).toBeGreaterThan(90);
    expect(promtoolRejects(exprs)).toEqual([]);
  });

  it('every LogQL and TraceQL query of a panel parses in the grammar of Grafana\'s query editor', () => {
    const logql = dashboardQueries('logql');
    const traceql = dashboardQueries('traceql');
    expect(logql.length).toBeGreaterThanOrEqual(2);
    expect(traceql.length).toBeGreaterThanOrEqual(2);
    const problems = [
      ...logql.flatMap(({ where, query }) => logqlProblems(query).map((p) => `${where}: ${p}\n  ${query}`)),
      ...traceql.flatMap(({ where, query }) => traceqlProblems(query).map((p) => `${where}: ${p}\n  ${query}`)),
    ];
    expect(problems).toEqual([]);
  });

  it('the grammars reject what Loki and Tempo reject, and accept the forms the stack writes', () => {
    for (const ok of [
      '{service_name="dice-api"} | trace_id="4bf92f3577b34da6a3ce929d0e0e4736"',
      '{a="b", c=~"d|e"} |= "x" != "y" | json | level=~"error|warn" or status=~"[45].."',
      'sum by (detected_level) (count_over_time({a="b"} | x="y" [1m]))',
      '{a="b"} | duration >= 250ms',
    ]) {
      expect(logqlProblems(ok), ok).toEqual([]);
    }
    for (const bad of [
      '{service.instance.id="x"}', // Loki label names have no dots: it is service_instance_id
      '{service_name="dice-api"',
      '{service_name=dice-api}',
      '{a="b"} | trace_id=',
      'sum(count_over_time({a="b"}))',
      '{a="b"} | x >= "y"',
      'service_name="dice-api"',
    ]) {
      expect(logqlProblems(bad), bad).not.toEqual([]);
    }
    for (const ok of ['{ resource.service.name = "dice-api" && kind = server } | select(span.http.route) with (most_recent=true)', '{ status = error || span.http.response.status_code >= 400 }']) {
      expect(traceqlProblems(ok), ok).toEqual([]);
    }
    for (const bad of ['{ resource.service.name = }', '{ kind = sever }', '{ .a = 1 } | with (most_recent=true)', '{ span.http.route = "/roll" ']) {
      expect(traceqlProblems(bad), bad).not.toEqual([]);
    }
  });

  it('every LogQL and TraceQL query in the data sources, runbooks, alerts and tests parses too', () => {
    const found = otherQueries();
    expect(found.filter((q) => q.where.startsWith('docs/runbooks')).length).toBeGreaterThanOrEqual(5);
    expect(found.filter((q) => q.where.startsWith('test/')).length).toBeGreaterThanOrEqual(3);
    const problems = found.flatMap(({ where, language, query }) => (language === 'logql' ? logqlProblems(query) : traceqlProblems(query)).map((p) => `${where}: ${p}\n  ${query}`));
    expect(problems).toEqual([]);
  });

  it('LogQL names only stream labels Loki indexes and metadata it stores for our log records (Loki 3.7.6 OTLP mapping)', () => {
    const { stream, metadata } = lokiNames();
    expect(stream.sort()).toEqual(['deployment_environment_name', 'service_name']);
    const queries = [...dashboardQueries('logql'), ...otherQueries().filter((q) => q.language === 'logql')];
    expect(queries.length).toBeGreaterThan(8);
    const problems = queries.flatMap(({ where, query }) => {
      const used = logqlLabels(query);
      return [
        ...used.stream.filter((l) => !stream.includes(l)).map((l) => `${where}: stream selector on ${l}, which Loki does not index (index labels: ${stream.join(', ')})`),
        ...(used.parsed ? [] : used.filtered.filter((l) => !stream.includes(l) && !metadata.includes(l)).map((l) => `${where}: filter on ${l}, which no dice-api log line carries`)),
      ];
    });
    expect(problems).toEqual([]);
  });

  it('TraceQL names only resource and span attributes our services emit', () => {
    const resource = resourceAttributes();
    const span = SPAN_ATTRIBUTES.map((a) => a.name);
    const queries = [...dashboardQueries('traceql'), ...otherQueries().filter((q) => q.language === 'traceql')];
    expect(queries.length).toBeGreaterThan(4);
    const problems = queries.flatMap(({ where, query }) =>
      traceqlAttributes(query)
        .filter(({ scope, name }) => !(scope === 'resource' ? resource : scope === 'span' ? span : [...resource, ...span]).includes(name))
        .map(({ scope, name }) => `${where}: ${scope}.${name} is not an attribute our services emit`),
    );
    expect(problems).toEqual([]);
  });

  it('each hand-listed log and span attribute is set where the list says', () => {
    for (const { name, source } of [...LOG_ATTRIBUTES, ...SPAN_ATTRIBUTES]) {
      if (source.startsWith('node_modules/')) continue; // a semantic-conventions constant: the name comes from the package
      const escaped = name.replace(/\./g, '\\.');
      expect(read(source), `${source} sets ${name}`).toMatch(new RegExp(`['"]${escaped}['"]|\\b${escaped}:`));
    }
    expect(resourceAttributes()).toEqual(expect.arrayContaining(['service.name', 'service.instance.id', 'deployment.environment.name', 'service.version']));
  });

  it('TraceQL panels that promise recent traces ask Tempo for the most recent ones', () => {
    const traceql = boards.flatMap((b) => panelQueries(b).filter((q) => q.language === 'traceql'));
    expect(traceql.length).toBeGreaterThanOrEqual(2);
    for (const q of traceql) expect(traceqlHints(q.text), `${q.dashboardUid} / ${q.panel}: Tempo returns the first traces it finds without the hint`).toMatchObject({ most_recent: 'true' });
  });

  it('variables are rendered as each data source renders them (Grafana v13.2.0), formats included', () => {
    const all = { values: ['dice-api-1', 'dice.api-2'], multi: true, includeAll: true, all: true };
    const one = { values: ['dice.api-1'], multi: true, includeAll: true };
    const single = { values: ["it's"] };
    expect(formatVariable(all, 'prometheus')).toBe('(dice-api-1|dice\\\\.api-2)');
    expect(formatVariable(one, 'prometheus')).toBe('dice\\\\.api-1');
    expect(formatVariable(single, 'prometheus')).toBe("it\\\\'s");
    expect(formatVariable(all, 'loki')).toBe('dice-api-1|dice\\\\.api-2');
    expect(formatVariable(single, 'loki')).toBe("it's");
    expect(formatVariable(all, 'tempo')).toBe('dice-api-1|dice.api-2');
    expect(formatVariable(all, 'link')).toBe('{dice-api-1,dice.api-2}');
    expect(formatVariable(all, 'prometheus', 'pipe')).toBe('dice-api-1|dice.api-2');
    expect(formatVariable(all, 'loki', 'raw')).toBe('dice-api-1,dice.api-2');
    expect(formatVariable(all, 'link', 'regex')).toBe('(dice-api-1|dice\\.api-2)');
    expect(formatVariable({ ...all, allValue: '.*' }, 'prometheus', 'pipe')).toBe('.*');
    expect(() => formatVariable(all, 'link', 'percentencode')).toThrow(/not modelled/);
    const scope: Scope = { instance: all, __range: '1h' };
    expect(interpolate('a=~"$instance" b=~"${instance}" c="${instance:pipe}" d=[[instance]] e=$__range f=$unknown', scope, 'tempo')).toBe(
      'a=~"dice-api-1|dice.api-2" b=~"dice-api-1|dice.api-2" c="dice-api-1|dice.api-2" d=dice-api-1|dice.api-2 e=1h f=$unknown',
    );
  });

  it('the landing dashboard answers the health model: verdict, RED with exemplars, replicas, saturation, fairness, drills, logs, traces', () => {
    const landing = board('dice-api-health');
    const text = JSON.stringify(landing);
    const verdict = allPanels(landing).filter((p) => p.type === 'stat').map((p) => p.title);
    for (const title of ['Availability', 'Latency SLI', 'Error budget left', 'Burn rate now', 'Alerts firing', 'Telemetry pipeline', 'Fault-injection drill']) {
      expect(verdict.some((t) => t.startsWith(title)), `a verdict panel "${title}..."`).toBe(true);
    }
    for (const metric of ['dice_faults_active', 'dice_faults_error_ratio', 'dice_faults_added_latency', 'dice_faults_bias', 'dice:chi_square:', 'nodejs_eventloop_utilization', 'process_cpu_time_total', 'container_memory_working_set_bytes', 'node_cpu_seconds_total']) {
      expect(text, metric).toContain(metric);
    }
    const latency = allPanels(landing).find((p) => p.title.startsWith('Latency p50'))!;
    expect(latency.targets!.every((t) => t['exemplar'] === true && String(t['expr']).includes('traces_span_metrics_duration_seconds_bucket'))).toBe(true);
    const languages = new Set(panelQueries(landing).map((q) => q.language));
    expect([...languages].sort()).toEqual(['logql', 'promql', 'traceql']);
  });

  it('every zero fallback (or ... * 0, and a top-level or vector(0)) is split off, so the e2e suite can run the real selector alone', () => {
    const fallbacks = boards.flatMap((b) => panelQueries(b).filter((q) => /\*\s*0\b/.test(q.text)));
    expect(fallbacks.length).toBeGreaterThanOrEqual(10);
    // `X or vector(0)` as the whole query; a vector(0) nested in a function or sum is not split
    // (the e2e metric-name check covers the names in those).
    const vectorZero = boards.flatMap((b) => panelQueries(b).filter((q) => /\bor\s+vector\(0\)\s*$/.test(q.text)));
    expect(vectorZero.length).toBeGreaterThanOrEqual(6);
    for (const q of [...fallbacks, ...vectorZero]) {
      const selector = realSelector(q.text);
      expect(selector, `${q.dashboardUid} / ${q.panel} ${q.refId}`).toBeDefined();
      expect(selector, `${q.dashboardUid} / ${q.panel} ${q.refId}`).not.toMatch(/\*\s*0\b|\bor\b|vector\(/);
    }
  });

  it('every panel with queries links to them in Explore, same data source, same queries', () => {
    for (const b of boards) {
      for (const p of allPanels(b).filter((p) => p.targets?.length)) {
        const explore = (p.links ?? []).find((l) => l.url?.startsWith('/explore'));
        expect(explore, `${b.uid} / ${p.title} has an Explore link`).toBeDefined();
        const pane = explorePane(explore!.url!, sampleScope(b, { __from: '1', __to: '2' }));
        expect(pane.datasource, `${b.uid} / ${p.title}`).toBe(p.datasource!.uid);
        expect(byUid.has(pane.datasource)).toBe(true);
        const texts = pane.queries.map((q) => String(q['expr'] ?? q['query']));
        // Grafana fills the dashboard's variables into the link (`:pipe`, `:raw`), so Explore gets
        // `a|b` where the panel's data source may write `(a|b)`: the same regex. Explore expands
        // the built-ins itself.
        const expected = p.targets!.map((t) => interpolate(String(t['expr'] ?? t['query']), sampleScope(b, {}), 'tempo'));
        expect(texts, `${b.uid} / ${p.title}`).toEqual(expected);
      }
    }
  });

  it('every runbook link points at docs/runbooks/<AlertName>.md of an alert the rules define', () => {
    const runbooks = boards.flatMap((b) => allPanels(b).flatMap((p) => (p.links ?? []).filter((l) => l.title.startsWith('Runbook:'))));
    expect(runbooks.length).toBeGreaterThan(5);
    for (const l of runbooks) {
      const alert = l.title.replace('Runbook: ', '');
      expect(alertNames).toContain(alert);
      expect(l.url).toBe(runbookUrl(alert));
    }
  });
});

describe('links between signals, built as Grafana builds them', () => {
  const tempo = () => ds('tempo').jsonData;
  /** overrides.defaults.metrics_generator of tempo.yaml: the generator's processors and their settings. */
  const tempoGenerator = () => parse(read('observability/tempo/tempo.yaml')).overrides.defaults.metrics_generator;
  const traceToLogs = traceToLogsConfig;

  it('trace -> logs: the query for a real span is valid LogQL that filters on the trace ID, over Loki index labels', () => {
    const link = renderTraceToLogs(traceToLogs(), SPAN);
    expect(link, 'Grafana shows "Logs for this span"').toBeDefined();
    expect(logqlProblems(link!.query)).toEqual([]);
    expect(link!.query).toBe(`{service_name="dice-api", deployment_environment_name="compose"} | trace_id="${SPAN.traceId}"`);
    // The selector may only use labels Loki indexes (observability/loki/loki.yaml): anything else
    // is structured metadata, and a stream selector on it matches nothing.
    const indexed = lokiNames().stream;
    const selector = /^\{([^}]*)\}/.exec(link!.query)![1]!;
    for (const label of selector.split(',').map((m) => m.trim().split('=')[0]!)) expect(indexed).toContain(label);
    // The trace ID filters; the window only absorbs clock skew and export delay.
    expect(link!.toMs - link!.fromMs).toBeLessThanOrEqual(15 * 60_000);
  });

  it('trace -> logs: no link is silently lost when the span lacks an optional tag', () => {
    const { 'deployment.environment.name': _env, ...resource } = SPAN.resource;
    const link = renderTraceToLogs(traceToLogs(), { ...SPAN, resource });
    expect(link!.query).toBe(`{service_name="dice-api"} | trace_id="${SPAN.traceId}"`);
    expect(logqlProblems(link!.query)).toEqual([]);
  });

  it('trace -> logs: a custom query\'s span variables may carry a format, and an undefined one hides the link', () => {
    const base = { datasourceUid: 'loki', customQuery: true };
    const rendered = renderTraceToLogs({ ...base, query: '{service_name="${__span.tags["service.name"]:raw}"} | trace_id="${__trace.traceId:pipe}"' }, SPAN);
    expect(rendered?.query).toBe(`{service_name="dice-api"} | trace_id="${SPAN.traceId}"`);
    expect(logqlProblems(rendered!.query)).toEqual([]);
    expect(renderTraceToLogs({ ...base, query: '{service_name="${__span.tags.no.such.tag}"}' }, SPAN)).toBeUndefined();
  });

  it('trace -> metrics: each query, for a real span, is a route-scoped PromQL query over the span metrics', () => {
    const config = tempo()['tracesToMetrics'] as { tags: { key: string; value?: string }[]; queries: { name: string; query: string }[] };
    expect(config.queries.length).toBeGreaterThanOrEqual(3);
    const exprs = config.queries.map((q) => ({ where: q.name, expr: renderTraceToMetrics(value(q.query), config.tags, SPAN) }));
    for (const { where, expr } of exprs) {
      expect(expr, where).toContain('service_name="dice-api", http_route="/roll", http_request_method="GET"');
      expect(expr, where).toMatch(/traces_span_metrics_(calls_total|duration_seconds_bucket)/);
    }
    expect(promtoolRejects(exprs)).toEqual([]);
  });

  it('trace -> service map and node graph read the service-graph metrics from Prometheus', () => {
    expect(tempo()['serviceMap']).toEqual({ datasourceUid: 'prometheus' });
    expect(tempo()['nodeGraph']).toEqual({ enabled: true });
    expect(tempoGenerator().processors).toContain('service-graphs');
  });

  it("service graph in Explore: the table under the node graph reads series Tempo's generator writes, with the labels it filters on", () => {
    // What Grafana's Tempo data source asks Prometheus for the table, whatever its settings say:
    // rateMetric, errorRateMetric, durationMetric and defaultTableFilter, constants of
    // public/app/plugins/datasource/tempo/graphTransform.ts (jsonData.serviceMap holds only
    // datasourceUid and histogramType), with datasource.ts's buildExpr filling the braces.
    const table = [
      { where: 'rate', expr: 'topk(5, sum(rate(traces_spanmetrics_calls_total{span_kind="SPAN_KIND_SERVER"}[5m])) by (span_name))' },
      { where: 'error rate', expr: 'topk(5, sum(rate(traces_spanmetrics_calls_total{status_code="STATUS_CODE_ERROR",span_name=~"GET /roll"}[5m])) by (span_name))' },
      { where: 'p90', expr: 'histogram_quantile(.9, sum(rate(traces_spanmetrics_latency_bucket{span_name=~"GET /roll"}[5m])) by (le))' },
    ];
    // What Tempo 3.0.3's generator writes: modules/generator/processor/spanmetrics/spanmetrics.go
    // (metricCallsTotal, metricDurationSeconds, a histogram: _bucket), one processor name each
    // (processor_names.go; `span-metrics` is all three); labels from intrinsic dimensions, service,
    // span_name, span_kind and status_code on by default (config.go).
    const written: Record<string, string[]> = {
      'span-metrics': ['traces_spanmetrics_calls_total', 'traces_spanmetrics_latency_bucket', 'traces_spanmetrics_size_total'],
      'span-metrics-count': ['traces_spanmetrics_calls_total'],
      'span-metrics-latency': ['traces_spanmetrics_latency_bucket'],
      'span-metrics-size': ['traces_spanmetrics_size_total'],
    };
    const generator = tempoGenerator();
    const names = new Set(generator.processors.flatMap((p: string) => written[p] ?? []));
    const dimensions = { service: true, span_name: true, span_kind: true, status_code: true, ...generator.processor?.span_metrics?.intrinsic_dimensions };
    for (const { where, expr } of table) {
      for (const metric of expr.match(/traces_\w+/g)!) expect(names, `${where}: ${metric} is written by no enabled processor of tempo.yaml`).toContain(metric);
      for (const label of [...expr.matchAll(/(\w+)=~?"/g)].map((m) => m[1]!)) expect(dimensions[label as keyof typeof dimensions], `${where}: label ${label} is an intrinsic dimension`).toBe(true);
    }
    // The table shows SERVER spans: a filter may narrow the generator to them, never leave them out.
    const policies = generator.processor?.span_metrics?.filter_policies ?? [];
    for (const policy of policies) {
      expect(policy.exclude, 'no exclude policy').toBeUndefined();
      for (const a of policy.include?.attributes ?? []) expect(a, 'only a span-kind filter, on SERVER').toEqual({ key: 'kind', value: 'SPAN_KIND_SERVER' });
    }
    expect(promtoolRejects(table)).toEqual([]);
  });

  it("trace IDs in TraceQL tables have their 32 hex digits, as a LogQL trace_id filter needs (Tempo's left_pad_trace_ids)", () => {
    // modules/overrides/config.go at v3.0.3: ReadOverrides.LeftPadTraceIDs, `read.left_pad_trace_ids`
    // in the per-tenant overrides (default false), applied to search results by the query-frontend's
    // combiner (modules/frontend/combiner/search.go). tempo.yaml uses the new overrides format.
    const config = parse(read('observability/tempo/tempo.yaml'));
    expect(config.overrides?.defaults, 'new-format overrides (overrides.defaults)').toBeDefined();
    expect(config.overrides.defaults.read?.left_pad_trace_ids).toBe(true);
    expect(config.query_frontend?.left_pad_trace_ids, 'not a query_frontend setting').toBeUndefined();
    // The Kubernetes Tempo (tempo-distributed's values pass `overrides` to Tempo as they are) too.
    expect(parse(read('deploy/values/tempo-distributed.yaml')).overrides.defaults.read?.left_pad_trace_ids).toBe(true);
  });

  it('log line -> trace: the derived field takes the trace_id Loki stores with an app log record, not another ID', () => {
    const fields = (ds('loki').jsonData['derivedFields'] as DerivedFieldConfig[]).map((f) => ({ ...f, url: f.url && value(f.url) }));
    expect(fields).toHaveLength(1);
    const field = fields[0]!;
    expect(field).toMatchObject({ matcherType: 'label', datasourceUid: 'tempo', url: '${__value.raw}' });
    // What Grafana sees on one access-log line of the app (libs/telemetry, app.setup.ts) as Loki
    // 3.7 stores an OTLP record (pkg/loghttp/push/otlp.go at v3.7.6): the index labels; the
    // record's trace and span IDs, flags and severity, its scope (the winston transport's logger),
    // the other resource attributes and the record's attributes as structured metadata (dots
    // become underscores); detected_level added by discover_log_levels.
    const labels: Record<string, string> = {
      service_name: 'dice-api',
      deployment_environment_name: 'compose',
      service_instance_id: 'dice-api-1',
      service_version: '1.0.0',
      telemetry_sdk_language: 'nodejs',
      scope_name: '@opentelemetry/winston-transport',
      scope_version: '0.34.0',
      severity_number: '9',
      severity_text: 'info',
      detected_level: 'info',
      context: 'AccessLog',
      http_request_method: 'GET',
      http_route: '/roll',
      http_response_status_code: '200',
      http_server_request_duration: '0.000941',
      span_id: SPAN.spanId,
      flags: '1',
      trace_id: SPAN.traceId,
    };
    // Grafana takes the first key the regex matches, so the order of the keys must not matter.
    for (const order of [labels, Object.fromEntries(Object.entries(labels).reverse())]) {
      expect(derivedFieldValue(field, 'request', order)).toEqual({ key: 'trace_id', value: SPAN.traceId });
    }
  });

  it('trace by ID (exemplar, log line): the lookup searches at least the whole range of the panel it came from', () => {
    const traceQuery = tempo()['traceQuery'] as { timeShiftEnabled?: boolean; spanStartTimeShift?: string; spanEndTimeShift?: string };
    // A 5-minute panel range, the shortest the dashboards offer; an exemplar in its first minute.
    const from = Date.parse('2026-01-01T12:00:00Z');
    const to = from + 5 * 60_000;
    const range = traceIdLookupRange(traceQuery, from, to);
    expect(range, 'timeShiftEnabled: a lookup without a range scans all of Tempo\'s blocks').toBeDefined();
    expect(range!.fromMs, 'the lookup starts no later than the panel range').toBeLessThanOrEqual(from);
    expect(range!.toMs, 'the lookup ends no earlier than the panel range').toBeGreaterThanOrEqual(to);
    // A trace that started a little before the range (its exemplar is from a later span) is found too.
    expect(range!.fromMs).toBeLessThanOrEqual(from - 5 * 60_000);
  });

  it('log line -> trace: the derived field matches the label trace_id and no other label Loki stores', () => {
    const field = (ds('loki').jsonData['derivedFields'] as DerivedFieldConfig[])[0]!;
    const { stream, metadata } = lokiNames();
    // Label names a log record could also carry: an attribute naming another trace.
    const names = [...stream, ...metadata, 'linked_trace_id', 'trace_id_source', 'otel_trace_id'];
    const regex = new RegExp(field.matcherRegex);
    expect(names.filter((n) => regex.test(n))).toEqual(['trace_id']);
    const labels = { linked_trace_id: 'ffffffffffffffffffffffffffffffff', trace_id: SPAN.traceId };
    expect(derivedFieldValue(field, 'request', labels)).toEqual({ key: 'trace_id', value: SPAN.traceId });
  });

  it("metric -> logs on a graph: every per-replica series links to that replica's log lines in Explore", () => {
    const landing = board(landingUid);
    const perReplica = allPanels(landing).filter((p) => p.type === 'timeseries' && p.targets?.length && p.targets.every((t) => String(t['legendFormat'] ?? '').includes('{{instance}}')));
    expect(perReplica.length).toBeGreaterThanOrEqual(8);
    const { stream, metadata } = lokiNames();
    for (const p of perReplica) {
      const link = (p.fieldConfig?.defaults?.links ?? []).find((l) => l.url?.startsWith('/explore'));
      expect(link, `${p.title}: a data link to the clicked replica's logs`).toBeDefined();
      // Grafana fills ${__field.labels.instance} from the series clicked, the rest from the dashboard.
      const pane = explorePane(link!.url!, { ...sampleScope(landing, { __from: '1', __to: '2' }), '__field.labels.instance': 'dice-api-2' });
      expect(pane.datasource, p.title).toBe('loki');
      expect(pane.range).toEqual({ from: '1', to: '2' });
      const expr = String(pane.queries[0]!['expr']);
      expect(logqlProblems(expr), expr).toEqual([]);
      expect(expr, p.title).toBe('{service_name="dice-api", deployment_environment_name="compose"} | service_instance_id="dice-api-2"');
      const used = logqlLabels(expr);
      expect(used.stream.every((l) => stream.includes(l)) && used.filtered.every((l) => metadata.includes(l)), expr).toBe(true);
    }
  });

  it("metric -> trace: exemplars' trace-ID label is the one the span_metrics connector writes, linked to Tempo", () => {
    const destinations = ds('prometheus').jsonData['exemplarTraceIdDestinations'] as { name: string; datasourceUid: string }[];
    expect(destinations).toEqual([expect.objectContaining({ name: 'trace_id', datasourceUid: 'tempo' })]);
    const collector = parse(read('otel-collector/config.yaml')) as { connectors: { span_metrics: { exemplars: { enabled: boolean } } } };
    expect(collector.connectors.span_metrics.exemplars.enabled).toBe(true);
    expect(read('observability/prometheus/flags.txt')).toContain('--enable-feature=exemplar-storage');
  });

  it('metric -> logs: the correlation from a replica series is valid LogQL on the replica\'s structured metadata', () => {
    const correlations = ds('prometheus').correlations ?? [];
    expect(correlations.map((c) => [c.targetUID, c.config.field])).toEqual([['loki', 'instance']]);
    const expr = value(correlations[0]!.config.target['expr']!).replaceAll('${instance}', 'dice-api-1');
    expect(expr).toBe('{service_name="dice-api"} | service_instance_id="dice-api-1"');
    expect(logqlProblems(expr)).toEqual([]);
  });
});

describe('docs/health-model.md', () => {
  const doc = read('docs/health-model.md');

  it('links the runbook of every alert the rules define', () => {
    for (const alert of alertNames) expect(doc, alert).toContain(`(runbooks/${alert}.md)`);
  });

  it('names only panels that exist, and every dashboard', () => {
    const titles = new Set(boards.flatMap((b) => allPanels(b).map((p) => p.title)));
    const named = [...doc.matchAll(/panel "([^"]+)"/g)].map((m) => m[1]!);
    expect(named.length).toBeGreaterThan(15);
    expect(named.filter((t) => !titles.has(t))).toEqual([]);
    for (const b of boards) expect(doc).toContain(`/d/${b.uid}`);
  });
});
