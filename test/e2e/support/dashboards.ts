// Runs the dashboards' queries against the live backends the way Grafana would: variables
// expanded from real label values in Prometheus, built-ins at the e2e time range, and the query
// sent to the data source's own HTTP API. Also says which backend a query needs, so that one
// absent where the suite runs is skipped with its reason instead of failing or passing silently.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { NOT_NATIVE } from '../../../scripts/native/stack.ts';
import { builtins, interpolate, parseLabelValues, variablesUsed, type DashboardJson, type Formatter, type PanelQuery, type Scope } from '../../../scripts/dashboards/grafana-model.ts';
import { promQuery } from './poll.ts';
import type { Targets } from './targets.ts';

export const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

export function loadDashboards(): DashboardJson[] {
  const dir = join(ROOT, 'observability/grafana/dashboards');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as DashboardJson);
}

export interface ProvisionedDatasource {
  name: string;
  uid: string;
  type: string;
  url: string;
  jsonData?: Record<string, unknown>;
  correlations?: { targetUID: string; config: { field: string; target: Record<string, string> } }[];
}

export function loadDatasources(): ProvisionedDatasource[] {
  const file = join(ROOT, 'observability/grafana/provisioning/datasources/datasources.yaml');
  return (parse(readFileSync(file, 'utf8')) as { datasources: ProvisionedDatasource[] }).datasources;
}

/** What a query needs besides Prometheus: a backend's API, or a backend's own metrics in Prometheus. */
export function backendsNeeded(q: PanelQuery): string[] {
  if (q.language === 'traceql') return ['tempo'];
  if (q.language === 'logql') return ['loki'];
  const needs: string[] = [];
  if (/\btempo_[a-z_]+|\btraces_service_graph_|job="tempo"/.test(q.text)) needs.push('tempo metrics');
  if (/\bloki_[a-z_]+|job="loki"/.test(q.text)) needs.push('loki metrics');
  if (/\bcontainer_[a-z_]+|job="cadvisor"/.test(q.text)) needs.push('cadvisor');
  return needs;
}

/**
 * Why each backend a query may need is unavailable here, by the names backendsNeeded uses.
 * Tempo and Loki come from the targets (absent natively); cAdvisor never runs natively; and a
 * backend's own metrics need Prometheus to scrape it.
 */
export async function unavailableBackends(targets: Targets): Promise<Record<string, string>> {
  const why: Record<string, string> = {};
  if (!targets.tempo) why['tempo'] = `Tempo is absent: ${targets.absent['tempo'] ?? 'no URL'}`;
  if (!targets.loki) why['loki'] = `Loki is absent: ${targets.absent['loki'] ?? 'no URL'}`;
  for (const [name, job, native] of [
    ['tempo metrics', 'tempo', NOT_NATIVE.tempo],
    ['loki metrics', 'loki', NOT_NATIVE.loki],
    ['cadvisor', 'cadvisor', NOT_NATIVE.cadvisor],
  ] as const) {
    if (targets.mode === 'native') {
      why[name] = `${job} does not run natively (${native}), so Prometheus has none of its metrics`;
      continue;
    }
    const up = await promQuery(targets.prometheus, `max(up{job="${job}"})`);
    if (up[0]?.value[1] !== '1') why[name] = `Prometheus does not scrape ${job} (up{job="${job}"} is ${up[0]?.value[1] ?? 'absent'})`;
  }
  return why;
}

export interface Expansion {
  values: Scope;
  /** Variables whose query found no value, with the query. */
  empty: Record<string, string>;
}

/**
 * The dashboard's variables with every value their query finds in Prometheus (Grafana's "All"),
 * in order, each query seeing the variables before it; and the built-ins for `rangeSeconds`.
 */
export async function expandVariables(board: DashboardJson, prometheus: string, rangeSeconds: number): Promise<Expansion> {
  const values: Scope = { ...builtins(rangeSeconds) };
  const empty: Record<string, string> = {};
  for (const variable of board.templating?.list ?? []) {
    if (variable.type !== 'query' || variable.datasource?.type !== 'prometheus') {
      throw new Error(`${board.title}: variable ${variable.name} is not a Prometheus query variable; teach test/e2e/support/dashboards.ts to expand it`);
    }
    const raw = typeof variable.query === 'string' ? variable.query : (variable.query?.query ?? '');
    const { selector, label } = parseLabelValues(interpolate(raw, values, 'prometheus'));
    const res = await fetch(`${prometheus}/api/v1/label/${label}/values?${new URLSearchParams({ 'match[]': selector, start: String(Math.floor(Date.now() / 1000) - rangeSeconds) })}`);
    const body = (await res.json()) as { status: string; data: string[]; error?: string };
    if (body.status !== 'success') throw new Error(`${board.title}: variable ${variable.name}: Prometheus refused ${selector}: ${body.error}`);
    if (body.data.length === 0) empty[variable.name] = `label_values(${selector}, ${label})`;
    values[variable.name] = { values: body.data, multi: variable.multi, includeAll: variable.includeAll, allValue: variable.allValue, all: true };
  }
  return { values, empty };
}

export interface Outcome {
  /** Series (or streams, or traces) with at least one real value. */
  found: number;
  query: string;
  detail: string;
}

/** Runs one panel query, variables expanded, over the last `rangeSeconds` (or at now if instant). */
export async function runPanelQuery(targets: Targets, q: PanelQuery, expansion: Expansion, rangeSeconds: number): Promise<Outcome> {
  const query = interpolate(q.text, expansion.values, q.datasource.type as Formatter);
  const end = Math.floor(Date.now() / 1000);
  const start = end - rangeSeconds;
  if (q.language === 'promql') {
    const url = q.instant
      ? `${targets.prometheus}/api/v1/query?${new URLSearchParams({ query })}`
      : `${targets.prometheus}/api/v1/query_range?${new URLSearchParams({ query, start: String(start), end: String(end), step: '15' })}`;
    const body = (await (await fetch(url)).json()) as { status: string; error?: string; data?: { result: { value?: [number, string]; values?: [number, string][] }[] } };
    if (body.status !== 'success') throw new Error(`Prometheus refused the query: ${body.error}\n${query}`);
    const series = body.data!.result;
    const found = series.filter((s) => (s.values ?? (s.value ? [s.value] : [])).some(([, v]) => v !== 'NaN')).length;
    return { found, query, detail: `${series.length} series, ${found} with a value that is not NaN` };
  }
  if (q.language === 'logql') {
    const params = new URLSearchParams({ query, start: String(start * 1e9), end: String(end * 1e9), limit: '100' });
    if (!/^\s*\{/.test(query)) params.set('step', '15');
    const res = await fetch(`${targets.loki}/loki/api/v1/query_range?${params}`);
    if (!res.ok) throw new Error(`Loki refused the query (${res.status}): ${(await res.text()).slice(0, 300)}\n${query}`);
    const body = (await res.json()) as { data: { result: { values: unknown[] }[] } };
    const found = body.data.result.filter((r) => r.values.length > 0).length;
    return { found, query, detail: `${body.data.result.length} streams or series, ${found} not empty` };
  }
  const limit = String(q.target['limit'] ?? 20);
  const res = await fetch(`${targets.tempo}/api/search?${new URLSearchParams({ q: query, start: String(start), end: String(end), limit, spss: '3' })}`);
  if (!res.ok) throw new Error(`Tempo refused the query (${res.status}): ${(await res.text()).slice(0, 300)}\n${query}`);
  const body = (await res.json()) as { traces?: unknown[] };
  return { found: body.traces?.length ?? 0, query, detail: `${body.traces?.length ?? 0} traces` };
}

/** Why a query cannot run here, or undefined if it can. */
export function skipReason(q: PanelQuery, unavailable: Record<string, string>): string | undefined {
  const missing = backendsNeeded(q).filter((b) => unavailable[b]);
  return missing.length > 0 ? missing.map((b) => unavailable[b]).join('; ') : undefined;
}

/** The variables a query uses that found no value: its panel would be empty for that reason. */
export function emptyVariablesOf(q: PanelQuery, expansion: Expansion): string[] {
  return variablesUsed(q.text, Object.keys(expansion.empty)).map((name) => `${name} (${expansion.empty[name]})`);
}

// ---------- the real selector behind a zero fallback ----------

/** `[left, right]` of the first `or` outside parentheses and strings, or undefined. */
function splitTopLevelOr(expr: string): [string, string] | undefined {
  let depth = 0;
  let quote = '';
  for (let i = 0; i < expr.length; i++) {
    const c = expr[i]!;
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = '';
    } else if (c === '"' || c === "'" || c === '`') quote = c;
    else if (c === '(' || c === '{' || c === '[') depth++;
    else if (c === ')' || c === '}' || c === ']') depth--;
    else if (depth === 0 && /\sor\s/.test(expr.slice(i - 1, i + 3))) return [expr.slice(0, i).trim(), expr.slice(i + 2).trim()];
  }
  return undefined;
}

const ZERO_FALLBACK = /\*\s*0\s*\)?\s*$|^vector\(\s*0\s*\)$/;

/**
 * The series a panel query exists to show when it falls back to zeros: the left side of
 * `<selector> or <shape> * 0` (orZeroLike in scripts/dashboards/lib/panels.ts, and the Tempo and
 * Loki discard panels), or the numerator's left side in `(<part> or <whole> * 0) / <whole>`
 * (ratioOrZero), or the left side of a top-level `<selector> or vector(0)`. Undefined when the
 * query has no such fallback (a `vector(0)` nested inside a function or sum is not split: the
 * metric-name check in test/e2e/dashboards.e2e.test.ts covers those). The fallback makes "the panel has
 * data" true even when the selector is wrong, so the selector is checked on its own.
 */
export function realSelector(text: string): string | undefined {
  const t = text.trim();
  const top = splitTopLevelOr(t);
  if (top && ZERO_FALLBACK.test(top[1])) return top[0];
  if (!t.startsWith('(')) return undefined;
  let depth = 0;
  for (let i = 0; i < t.length; i++) {
    if (t[i] === '(') depth++;
    else if (t[i] === ')' && --depth === 0) {
      const inner = splitTopLevelOr(t.slice(1, i));
      return inner && ZERO_FALLBACK.test(inner[1]) ? inner[0] : undefined;
    }
  }
  return undefined;
}
