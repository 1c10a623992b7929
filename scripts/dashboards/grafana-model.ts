// What Grafana does with our provisioning and dashboards, modelled closely enough to test it where
// Grafana cannot run (it is AGPL and not packaged here): list every panel query, expand dashboard
// variables as the Prometheus/Loki/Tempo data sources do, render a trace-to-logs link for a span,
// pick a derived field from a log line's labels, read provisioning values as Grafana reads `$`.
// Each function names the Grafana file it mirrors (Grafana v13.2.0, GRAFANA_VERSION in .env); test/config/grafana.test.ts and
// test/e2e/dashboards.e2e.test.ts use them.

import type { QueryLanguage } from './query-grammars.ts';

// ---------- dashboards ----------

export interface DashboardJson {
  uid: string;
  title: string;
  panels?: PanelJson[];
  templating?: { list?: VariableJson[] };
  annotations?: { list?: Record<string, unknown>[] };
  links?: Record<string, unknown>[];
}

export interface PanelJson {
  id?: number;
  type: string;
  title: string;
  datasource?: { type?: string; uid?: string };
  targets?: Record<string, unknown>[];
  panels?: PanelJson[];
  links?: { title: string; url?: string }[];
  fieldConfig?: { defaults?: { links?: { title: string; url?: string }[] } };
}

export interface VariableJson {
  name: string;
  type: string;
  query?: string | { query?: string };
  datasource?: { type?: string; uid?: string };
  multi?: boolean;
  includeAll?: boolean;
  allValue?: string;
}


export interface PanelQuery {
  dashboard: string;
  dashboardUid: string;
  panel: string;
  panelId?: number;
  refId: string;
  datasource: { type: string; uid: string };
  language: QueryLanguage;
  /** The query text as stored, variables unexpanded. */
  text: string;
  instant: boolean;
  target: Record<string, unknown>;
}

const LANGUAGE: Record<string, QueryLanguage> = { prometheus: 'promql', loki: 'logql', tempo: 'traceql' };

/** Every panel of a dashboard, rows' collapsed panels included, in layout order. */
export function allPanels(board: DashboardJson): PanelJson[] {
  return (board.panels ?? []).flatMap((p) => [p, ...(p.panels ?? [])]);
}

/** Every query of every panel (a target's own data source wins over the panel's, as in Grafana). */
export function panelQueries(board: DashboardJson): PanelQuery[] {
  return allPanels(board).flatMap((panel) =>
    (panel.targets ?? []).map((target) => {
      const ds = (target['datasource'] as { type?: string; uid?: string } | undefined) ?? panel.datasource ?? {};
      if (!ds.type || !ds.uid) throw new Error(`${board.title} / ${panel.title}: a query names no data source type and UID`);
      const language = LANGUAGE[ds.type];
      if (!language) throw new Error(`${board.title} / ${panel.title}: no query language known for data source type ${ds.type}`);
      const text = String(language === 'traceql' ? target['query'] : target['expr']);
      return {
        dashboard: board.title,
        dashboardUid: board.uid,
        panel: panel.title,
        panelId: panel.id,
        refId: String(target['refId'] ?? '?'),
        datasource: { type: ds.type, uid: ds.uid },
        language,
        text,
        instant: target['instant'] === true && target['range'] !== true,
        target,
      };
    }),
  );
}

/** Names of the dashboard variables a query text refers to ($name, ${name}, ${name:fmt}, [[name]]). */
export function variablesUsed(text: string, variables: string[]): string[] {
  return variables.filter((name) => new RegExp(`\\$\\{${name}(:[a-z]+)?\\}|\\$${name}(?![A-Za-z0-9_])|\\[\\[${name}\\]\\]`).test(text));
}

/** `label_values(<selector>, <label>)`, the Prometheus variable query form the dashboards use. */
export function parseLabelValues(query: string): { selector: string; label: string } {
  const match = /^label_values\((.*),\s*([A-Za-z_][A-Za-z0-9_]*)\)$/s.exec(query.trim());
  if (!match) throw new Error(`not a label_values(selector, label) query: ${query}`);
  return { selector: match[1]!.trim(), label: match[2]! };
}

/**
 * A dashboard variable's value as Grafana holds it before anything formats it: the selected
 * values (all of them when "All" is selected and no custom all value is set).
 */
export interface VariableValue {
  values: string[];
  multi?: boolean;
  includeAll?: boolean;
  /** The custom "All" value, used as is while `all` is set. */
  allValue?: string;
  all?: boolean;
}

/** What a query's `$name` refers to: a dashboard variable, or a built-in already rendered as text. */
export type Scope = Record<string, string | VariableValue>;

/** The data source that formats a variable written without `:format`, or `link` for panel and data links. */
export type Formatter = 'prometheus' | 'loki' | 'tempo' | 'link';

// Grafana v13.2.0, packages/grafana-prometheus/src/escaping.ts (the classic behaviour: the
// prometheusSpecialCharsInLabelValues feature toggle is off by default).
const promRegularEscape = (v: string) => v.replace(/\\/g, '\\\\').replace(/'/g, "\\\\'");
const promRegexEscape = (v: string) => v.replace(/\\/g, '\\\\\\\\').replace(/[$^*{}[\]+?.()|]/g, '\\\\$&');
// Grafana v13.2.0, public/app/plugins/datasource/loki/languageUtils.ts (lokiSpecialRegexEscape).
const lokiRegexEscape = (v: string) => v.replace(/\\/g, '\\\\\\\\').replace(/[$^*{}[\]+?.()|]/g, '\\\\$&');

/**
 * A variable's text where a query names it without a format, as each data source formats it:
 * Prometheus's interpolateQueryExpr (packages/grafana-prometheus/src/datasource.ts): one value
 * escaped as a string, several regex-escaped as `(a|b)`; Loki's interpolateQueryExpr
 * (public/app/plugins/datasource/loki/datasource.ts): one value as is, several regex-escaped as
 * `a|b` (no parentheses); Tempo's applyVariables (public/app/plugins/datasource/tempo/datasource.ts)
 * formats the whole TraceQL query with VariableFormatID.Pipe: `a|b`, nothing escaped. A link
 * without a format gets the scenes interpolator's default, `glob` (`{a,b}`).
 */
function formatDefault(v: VariableValue, values: string[], formatter: Formatter): string {
  const regex = Boolean(v.multi || v.includeAll);
  switch (formatter) {
    case 'prometheus':
      if (!regex) return promRegularEscape(values[0] ?? '');
      return values.length === 1 ? promRegexEscape(values[0]!) : `(${values.map(promRegexEscape).join('|')})`;
    case 'loki':
      if (!regex) return values[0] ?? '';
      return values.map(lokiRegexEscape).join('|');
    case 'tempo':
      return values.join('|');
    case 'link':
      return values.length === 1 ? values[0]! : `{${values.join(',')}}`;
  }
}

/**
 * `${name:format}` for the formats these dashboards and links use, as @grafana/scenes'
 * formatRegistry (packages/scenes/src/variables/interpolation/formatRegistry.ts, the version
 * Grafana v13.2.0 bundles) renders them: `pipe` joins with `|`, `raw` is the value as text (a list
 * joined with `,`), `regex` escapes each and wraps several in `(a|b)`, `csv` joins with `,`.
 */
function formatExplicit(values: string[], format: string, name: string): string {
  switch (format) {
    case 'pipe':
      return values.join('|');
    case 'raw':
    case 'csv':
      return values.join(',');
    case 'regex': {
      const escaped = values.map((v) => v.replace(/[\\^$*+?.()|[\]{}/]/g, '\\$&'));
      return escaped.length === 1 ? escaped[0]! : `(${escaped.join('|')})`;
    }
    default:
      throw new Error(`\${${name}:${format}}: the format ${format} is not modelled in scripts/dashboards/grafana-model.ts; add it from Grafana's formatRegistry`);
  }
}

/** The text `$name` becomes in a query run by `formatter`'s data source (or a link), format as written. */
export function formatVariable(value: string | VariableValue, formatter: Formatter, format?: string, name = '?'): string {
  if (typeof value === 'string') return value;
  // A custom all value is used verbatim, whatever the format (scenes' CustomAllValue).
  if (value.all && value.allValue) return value.allValue;
  return format ? formatExplicit(value.values, format, name) : formatDefault(value, value.values, formatter);
}

/** Grafana's built-in variables, as they expand for a query over `rangeSeconds` at a 15s scrape interval. */
export function builtins(rangeSeconds: number): Record<string, string> {
  return {
    __rate_interval: '1m', // max(4 x timeInterval 15s, interval + 15s)
    __interval: '15s',
    __auto: '1m',
    __range: `${rangeSeconds}s`,
    __range_s: String(rangeSeconds),
  };
}

/**
 * Replaces $name, ${name}, ${name:format} (and data-link names such as ${__field.labels.instance}) and [[name]] by the variable's text as `formatter`'s
 * data source renders it; names not in `scope` stay as written (Grafana leaves them too).
 */
export function interpolate(text: string, scope: Scope, formatter: Formatter): string {
  return text.replace(/\$\{([A-Za-z0-9_.]+)(?::([a-z]+))?\}|\$([A-Za-z0-9_]+)|\[\[([A-Za-z0-9_]+)\]\]/g, (whole, a?: string, format?: string, b?: string, c?: string) => {
    const name = a ?? b ?? c ?? '';
    return name in scope ? formatVariable(scope[name]!, formatter, format, name) : whole;
  });
}

// ---------- provisioning files ----------

/**
 * A provisioning value as Grafana reads it (pkg/services/provisioning/values): the text is split on
 * `$$`, environment variables ($NAME, ${NAME}) are expanded in each part, and the parts are joined
 * with a literal `$`. Returns the value and the environment references it would expand (usually a
 * forgotten `$$`).
 */
export function readProvisioningValue(raw: string): { value: string; envReferences: string[] } {
  const envReferences: string[] = [];
  const parts = raw.split('$$').map((part) =>
    part.replace(/\$\{([^}]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (_whole, braced?: string, bare?: string) => {
      envReferences.push(braced ?? bare ?? '');
      return '';
    }),
  );
  return { value: parts.join('$'), envReferences };
}

/** Every string in a parsed YAML document, with its path, for checks that apply to all values. */
export function stringsIn(node: unknown, path = ''): { path: string; value: string }[] {
  if (typeof node === 'string') return [{ path, value: node }];
  if (Array.isArray(node)) return node.flatMap((item, i) => stringsIn(item, `${path}[${i}]`));
  if (node && typeof node === 'object') return Object.entries(node).flatMap(([k, v]) => stringsIn(v, path ? `${path}.${k}` : k));
  return [];
}

// ---------- trace -> logs ----------

export interface TraceToLogsConfig {
  datasourceUid: string;
  spanStartTimeShift?: string;
  spanEndTimeShift?: string;
  tags?: { key: string; value?: string }[];
  filterByTraceID?: boolean;
  filterBySpanID?: boolean;
  customQuery?: boolean;
  query?: string;
}

export interface SpanModel {
  traceId: string;
  spanId: string;
  name: string;
  startMs: number;
  durationMs: number;
  /** Resource attributes (Grafana's span.process.tags). */
  resource: Record<string, string>;
  /** Span attributes (span.tags). */
  attributes: Record<string, string>;
}

const DEFAULT_TAGS: { key: string; value?: string }[] = ['cluster', 'hostname', 'namespace', 'pod'].map((key) => ({ key }));

const toMs = (shift: string | undefined): number => {
  if (!shift) return 0;
  const m = /^(-?)(\d+)(ms|s|m|h)$/.exec(shift.trim());
  if (!m) throw new Error(`not a time shift Grafana reads: ${shift}`);
  return (m[1] ? -1 : 1) * Number(m[2]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[3] as 'ms' | 's' | 'm' | 'h'];
};

/**
 * The Loki query and time range of a span's "Logs for this span" link, as Grafana v13.2.0's
 * public/app/features/explore/TraceView/createSpanLink.tsx builds it: `${__tags}` is `label="value"` for each configured tag present on
 * the span (resource first, then span attributes, mapped names), joined by ", "; a custom query
 * is then interpolated with the span's and trace's scoped variables. Undefined when Grafana
 * would show no link (no configured tag on the span and no custom query).
 */
export function renderTraceToLogs(config: TraceToLogsConfig, span: SpanModel): { query: string; fromMs: number; toMs: number } | undefined {
  const wanted = config.tags?.length ? config.tags : DEFAULT_TAGS;
  const all = [
    ...Object.entries(span.resource),
    ...Object.entries(span.attributes),
    ['spanId', span.spanId],
    ['traceId', span.traceId],
    ['name', span.name],
    ['duration', String(span.durationMs)],
  ] as [string, string][];
  const tags = all
    .map(([key, value]) => {
      const tag = wanted.find((t) => t.key === key);
      return tag ? `${tag.value || tag.key}="${value}"` : undefined;
    })
    .filter(Boolean)
    .join(', ');
  let template: string;
  if (config.customQuery && config.query) {
    template = config.query;
  } else {
    if (!tags) return undefined;
    template = '{${__tags}}';
    if (config.filterByTraceID) template += ' |="${__span.traceId}"';
    if (config.filterBySpanID) template += ' |="${__span.spanId}"';
  }
  const spanTags: Record<string, string> = { ...span.resource, ...span.attributes };
  // A scoped variable may carry a format (`${__span.tags.x:raw}`); each is one value, so the
  // formats of formatExplicit apply as for a one-value dashboard variable.
  const query = template.replace(/\$\{([^}:]+)(?::([a-z]+))?\}/g, (whole, expr: string, format?: string) => {
    const path = expr.trim();
    const formatted = (v: string | undefined) => (v === undefined ? whole : format ? formatVariable({ values: [v] }, 'link', format, path) : v);
    if (path === '__tags') return tags;
    if (path === '__trace.traceId' || path === '__span.traceId') return formatted(span.traceId);
    if (path === '__span.spanId') return formatted(span.spanId);
    if (path === '__span.name') return formatted(span.name);
    const tag = /^__span\.tags(?:\.([\w.]+)|\["([^"]+)"\])$/.exec(path);
    if (tag) return formatted(spanTags[tag[1] ?? tag[2]!]);
    return whole;
  });
  if (/\$\{/.test(query)) return undefined; // Grafana hides a link whose variables are not all defined
  const fromMs = Math.floor(span.startMs + toMs(config.spanStartTimeShift));
  let toMsValue = Math.floor(span.startMs + span.durationMs + toMs(config.spanEndTimeShift));
  if (toMsValue === fromMs) toMsValue++;
  return { query, fromMs, toMs: toMsValue };
}

/**
 * The time range of a trace-by-ID lookup (an exemplar's or a log line's trace link), as Grafana
 * v13.2.0's public/app/plugins/datasource/tempo/datasource.ts (makeTraceIdRequest) builds it: with
 * timeShiftEnabled, `from` minus spanStartTimeShift and `to` plus spanEndTimeShift (each 30m when
 * unset); without, no range (Tempo searches all of its blocks).
 */
export function traceIdLookupRange(
  traceQuery: { timeShiftEnabled?: boolean; spanStartTimeShift?: string; spanEndTimeShift?: string } | undefined,
  fromMs: number,
  toMsValue: number,
): { fromMs: number; toMs: number } | undefined {
  if (!traceQuery?.timeShiftEnabled) return undefined;
  return { fromMs: fromMs - toMs(traceQuery.spanStartTimeShift || '30m'), toMs: toMsValue + toMs(traceQuery.spanEndTimeShift || '30m') };
}

/** `$__tags` in a trace-to-metrics query: `label="value"` for each configured tag present on the span. */
export function renderTraceToMetrics(query: string, tags: { key: string; value?: string }[], span: SpanModel): string {
  const spanTags = { ...span.resource, ...span.attributes };
  const labels = tags.flatMap((t) => (spanTags[t.key] ? [`${t.value || t.key}="${spanTags[t.key]}"`] : []));
  return query.replace(/\$__tags/g, labels.join(', '));
}

// ---------- log line -> trace ----------

export interface DerivedFieldConfig {
  name: string;
  matcherType?: 'label' | 'regex';
  matcherRegex: string;
  datasourceUid?: string;
  url?: string;
}

/**
 * The value a derived field takes on one log line (Grafana's getDerivedFields.ts): with
 * matcherType "label", the first of the line's labels (stream labels, structured metadata,
 * parsed labels) whose key the regex matches; otherwise the regex's first group on the line.
 */
export function derivedFieldValue(config: DerivedFieldConfig, line: string, labels: Record<string, string>): { key?: string; value?: string } {
  if (config.matcherType === 'label') {
    const regex = new RegExp(config.matcherRegex);
    const key = Object.keys(labels).find((k) => regex.test(k));
    return key ? { key, value: labels[key] } : {};
  }
  const match = line.match(config.matcherRegex);
  return match?.[1] ? { value: match[1] } : {};
}

// ---------- Explore links ----------

/** The Explore pane a panel or data link opens, its variables rendered as Grafana renders a link's. */
export function explorePane(url: string, scope: Scope): { datasource: string; queries: Record<string, unknown>[]; range: { from: string; to: string } } {
  const filled = interpolate(url, scope, 'link');
  const parsed = new URL(filled, 'http://grafana.invalid');
  if (parsed.pathname !== '/explore') throw new Error(`not an Explore link: ${url}`);
  const panes = JSON.parse(parsed.searchParams.get('panes') ?? 'null') as Record<string, { datasource: string; queries: Record<string, unknown>[]; range: { from: string; to: string } }>;
  const pane = Object.values(panes ?? {})[0];
  if (!pane) throw new Error(`Explore link without a pane: ${url}`);
  return pane;
}
