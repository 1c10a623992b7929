// What Grafana does with our provisioning and dashboards, modelled closely enough to test it where
// Grafana cannot run (it is AGPL and not packaged here): list every panel query, expand dashboard
// variables as the Prometheus/Loki/Tempo data sources do, render a trace-to-logs link for a span,
// pick a derived field from a log line's labels, read provisioning values as Grafana reads `$`.
// Each function names the Grafana code it mirrors; test/config/grafana.test.ts and
// test/e2e/dashboards.e2e.test.ts use them.

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

export type QueryLanguage = 'promql' | 'logql' | 'traceql';

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

/** Regex metacharacters Grafana escapes in multi-value Prometheus/Loki/Tempo regex values (prometheusSpecialRegexEscape). */
const regexEscape = (value: string) => value.replace(/[\\^$*+?.()|{}[\]]/g, '\\\\$&');

/**
 * A variable's value in a query, as the data source's interpolateQueryExpr formats it: a single
 * value as is; several as a regex alternation `(a|b)`; "All" as the custom all value if set.
 */
export function formatVariable(variable: Pick<VariableJson, 'multi' | 'includeAll' | 'allValue'>, values: string[], all: boolean): string {
  if (all && variable.allValue) return variable.allValue;
  if (!variable.multi && !variable.includeAll) return values[0] ?? '';
  const escaped = values.map(regexEscape);
  return escaped.length === 1 ? escaped[0]! : `(${escaped.join('|')})`;
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

/** Replaces $name, ${name}, ${name:format} and [[name]] by `values[name]`; unknown names stay. */
export function interpolate(text: string, values: Record<string, string>): string {
  return text.replace(/\$\{([A-Za-z0-9_]+)(?::[a-z]+)?\}|\$([A-Za-z0-9_]+)|\[\[([A-Za-z0-9_]+)\]\]/g, (whole, a?: string, b?: string, c?: string) => {
    const name = a ?? b ?? c ?? '';
    return name in values ? values[name]! : whole;
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
 * The Loki query and time range of a span's "Logs for this span" link, as Grafana's
 * createSpanLink.tsx builds it: `${__tags}` is `label="value"` for each configured tag present on
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
  const query = template.replace(/\$\{([^}]+)\}/g, (whole, expr: string) => {
    const path = expr.trim();
    if (path === '__tags') return tags;
    if (path === '__trace.traceId' || path === '__span.traceId') return span.traceId;
    if (path === '__span.spanId') return span.spanId;
    if (path === '__span.name') return span.name;
    const tag = /^__span\.tags(?:\.([\w.]+)|\["([^"]+)"\])$/.exec(path);
    if (tag) return spanTags[tag[1] ?? tag[2]!] ?? whole;
    return whole;
  });
  if (/\$\{/.test(query)) return undefined; // Grafana hides a link whose variables are not all defined
  const fromMs = Math.floor(span.startMs + toMs(config.spanStartTimeShift));
  let toMsValue = Math.floor(span.startMs + span.durationMs + toMs(config.spanEndTimeShift));
  if (toMsValue === fromMs) toMsValue++;
  return { query, fromMs, toMs: toMsValue };
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

// ---------- LogQL, the subset the stack writes ----------

/**
 * Checks a LogQL query against the part of the grammar this stack uses (Loki's own parser is
 * AGPL and cannot run here; the e2e suite runs every query against the real Loki when there is
 * one): a stream selector, line filters, label filters joined by and/or, json/logfmt parsers,
 * and metric queries `agg [by|without (l,...)] (range_fn(<log query> [dur]))`. Returns problems.
 */
export function checkLogQL(query: string): string[] {
  const tokens = tokenizeLogQL(query);
  if (typeof tokens === 'string') return [tokens];
  const p = new LogQLParser(tokens);
  try {
    p.query();
    if (!p.done()) p.fail(`unexpected ${p.peek()?.text}`);
    return [];
  } catch (error) {
    return [error instanceof Error ? error.message : String(error)];
  }
}

interface Token {
  kind: 'ident' | 'string' | 'number' | 'duration' | 'op' | 'punct';
  text: string;
  at: number;
}

function tokenizeLogQL(q: string): Token[] | string {
  const tokens: Token[] = [];
  const patterns: [Token['kind'], RegExp][] = [
    ['string', /^"(?:[^"\\]|\\.)*"|^`[^`]*`/],
    ['duration', /^\d+(?:ms|s|m|h|d)\b/],
    ['number', /^\d+(?:\.\d+)?\b/],
    ['op', /^(?:\|=|\|~|!=|!~|=~|==|>=|<=|=|>|<|\|)/],
    ['punct', /^[{}(),[\]]/],
    ['ident', /^[A-Za-z_][A-Za-z0-9_.]*/],
  ];
  let i = 0;
  while (i < q.length) {
    const rest = q.slice(i);
    const space = /^\s+/.exec(rest);
    if (space) {
      i += space[0].length;
      continue;
    }
    const found = patterns.find(([, re]) => re.test(rest));
    if (!found) return `unexpected character ${JSON.stringify(rest[0])} at ${i}`;
    const text = found[1].exec(rest)![0];
    tokens.push({ kind: found[0], text, at: i });
    i += text.length;
  }
  return tokens;
}

const AGGREGATIONS = new Set(['sum', 'count', 'max', 'min', 'avg', 'topk', 'bottomk']);
const RANGE_FUNCTIONS = new Set(['count_over_time', 'rate', 'bytes_over_time', 'bytes_rate', 'absent_over_time']);
const PARSERS = new Set(['json', 'logfmt']);

class LogQLParser {
  private i = 0;
  private readonly tokens: Token[];
  constructor(tokens: Token[]) {
    this.tokens = tokens;
  }
  peek(offset = 0): Token | undefined {
    return this.tokens[this.i + offset];
  }
  done(): boolean {
    return this.i >= this.tokens.length;
  }
  fail(why: string): never {
    throw new Error(`LogQL: ${why} (token ${this.i + 1} of ${this.tokens.length})`);
  }
  take(text?: string, kind?: Token['kind']): Token {
    const t = this.peek();
    if (!t || (text !== undefined && t.text !== text) || (kind !== undefined && t.kind !== kind)) {
      this.fail(`expected ${text ?? kind}, got ${t?.text ?? 'end of query'}`);
    }
    this.i++;
    return t;
  }
  query(): void {
    const t = this.peek();
    if (t?.text === '{') return this.logQuery();
    if (t && AGGREGATIONS.has(t.text)) return this.aggregation();
    if (t && RANGE_FUNCTIONS.has(t.text)) return this.rangeAggregation();
    this.fail(`a query starts with { or a function, not ${t?.text ?? 'nothing'}`);
  }
  aggregation(): void {
    this.take(undefined, 'ident');
    if (this.peek()?.text === 'by' || this.peek()?.text === 'without') {
      this.take();
      this.labelList();
    }
    this.take('(');
    this.query();
    this.take(')');
    if (this.peek()?.text === 'by' || this.peek()?.text === 'without') {
      this.take();
      this.labelList();
    }
  }
  labelList(): void {
    this.take('(');
    this.take(undefined, 'ident');
    while (this.peek()?.text === ',') {
      this.take(',');
      this.take(undefined, 'ident');
    }
    this.take(')');
  }
  rangeAggregation(): void {
    this.take(undefined, 'ident');
    this.take('(');
    this.logQuery();
    this.take('[');
    this.take(undefined, 'duration');
    this.take(']');
    this.take(')');
  }
  logQuery(): void {
    this.take('{');
    this.matcher();
    while (this.peek()?.text === ',') {
      this.take(',');
      this.matcher();
    }
    this.take('}');
    while (this.peek()?.kind === 'op' && ['|=', '|~', '!=', '!~', '|'].includes(this.peek()!.text)) this.stage();
  }
  matcher(): void {
    this.take(undefined, 'ident');
    const op = this.take(undefined, 'op');
    if (!['=', '!=', '=~', '!~'].includes(op.text)) this.fail(`${op.text} is not a label matcher operator`);
    this.stringValue(op.text.includes('~'));
  }
  stringValue(regex: boolean): void {
    const s = this.take(undefined, 'string');
    if (regex) {
      const body = s.text.startsWith('`') ? s.text.slice(1, -1) : (JSON.parse(s.text) as string);
      try {
        new RegExp(body);
      } catch {
        this.fail(`invalid regex ${s.text}`);
      }
    }
  }
  stage(): void {
    const op = this.take(undefined, 'op');
    if (op.text !== '|') {
      if (op.text === '!=' || op.text === '!~' || op.text === '|=' || op.text === '|~') return this.stringValue(op.text.endsWith('~'));
      this.fail(`${op.text} cannot start a pipeline stage`);
    }
    const next = this.peek();
    // `| json` and `| logfmt` are parsers when no comparison follows (`| json="x"` filters a label).
    const after = this.peek(1)?.text;
    if (next && PARSERS.has(next.text) && (after === undefined || ['|', '|=', '|~', ')', '['].includes(after))) {
      this.take();
      return;
    }
    this.labelFilter();
    while (this.peek()?.text === 'or' || this.peek()?.text === 'and' || this.peek()?.text === ',') {
      this.take();
      this.labelFilter();
    }
  }
  labelFilter(): void {
    if (this.peek()?.text === '(') {
      this.take('(');
      this.labelFilter();
      while (this.peek()?.text === 'or' || this.peek()?.text === 'and') {
        this.take();
        this.labelFilter();
      }
      this.take(')');
      return;
    }
    this.take(undefined, 'ident');
    const op = this.take(undefined, 'op');
    if (['=', '!=', '=~', '!~'].includes(op.text) && this.peek()?.kind === 'string') return this.stringValue(op.text.includes('~'));
    if (['>', '>=', '<', '<=', '==', '!='].includes(op.text)) {
      const value = this.take();
      if (value.kind !== 'number' && value.kind !== 'duration') this.fail(`${op.text} compares with a number or duration, not ${value.text}`);
      return;
    }
    this.fail(`${op.text} is not a label filter operator here`);
  }
}

// ---------- Explore links ----------

/** The Explore pane a panel link opens, with Grafana's link variables given `values`. */
export function explorePane(url: string, values: Record<string, string>): { datasource: string; queries: Record<string, unknown>[]; range: { from: string; to: string } } {
  const filled = url.replace(/\$\{([A-Za-z0-9_]+)(?::[a-z]+)?\}/g, (whole, name: string) => values[name] ?? whole);
  const parsed = new URL(filled, 'http://grafana.invalid');
  if (parsed.pathname !== '/explore') throw new Error(`not an Explore link: ${url}`);
  const panes = JSON.parse(parsed.searchParams.get('panes') ?? 'null') as Record<string, { datasource: string; queries: Record<string, unknown>[]; range: { from: string; to: string } }>;
  const pane = Object.values(panes ?? {})[0];
  if (!pane) throw new Error(`Explore link without a pane: ${url}`);
  return pane;
}
