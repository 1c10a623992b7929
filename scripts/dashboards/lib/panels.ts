// Building blocks shared by the dashboard modules: queries bound to a data source by UID, panels
// with the options this stack always wants (legend on, shared tooltip, units, thresholds), and
// `finalize`, which gives every panel a stable id and refIds and a link that opens its queries in
// Explore, so that any panel is one click from an ad-hoc query.
import * as bargauge from '@grafana/grafana-foundation-sdk/bargauge';
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as logs from '@grafana/grafana-foundation-sdk/logs';
import * as loki from '@grafana/grafana-foundation-sdk/loki';
import * as prometheus from '@grafana/grafana-foundation-sdk/prometheus';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as statetimeline from '@grafana/grafana-foundation-sdk/statetimeline';
import * as table from '@grafana/grafana-foundation-sdk/table';
import * as tempo from '@grafana/grafana-foundation-sdk/tempo';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import { LOKI, PROMETHEUS, TEMPO } from './datasources.ts';

type Query = prometheus.DataqueryBuilder | loki.DataqueryBuilder | tempo.DataqueryBuilder;

// ---------- queries ----------

/** A PromQL query over the dashboard's time range; `legend` is a Grafana legend format. */
export function prom(expr: string, legend = '__auto', { exemplar = false, instant = false } = {}): prometheus.DataqueryBuilder {
  const q = new prometheus.DataqueryBuilder().datasource(PROMETHEUS).expr(expr).legendFormat(legend);
  if (instant) q.instant();
  else q.range();
  if (exemplar) q.exemplar(true);
  return q;
}

/** A LogQL log query (lines) or metric query (`legend` given). */
export function logql(expr: string, legend?: string): loki.DataqueryBuilder {
  const q = new loki.DataqueryBuilder().datasource(LOKI).expr(expr).queryType('range');
  if (legend !== undefined) q.legendFormat(legend);
  return q;
}

/** A TraceQL search shown as a table of traces (each trace ID opens the trace view). */
export function traceql(query: string, limit = 20): tempo.DataqueryBuilder {
  return new tempo.DataqueryBuilder()
    .datasource(TEMPO)
    .queryType('traceql')
    .query(query)
    .limit(limit)
    .spss(3)
    .tableType(tempo.SearchTableType.Traces);
}

// ---------- PromQL idioms ----------

/**
 * `part / whole` that reads 0, not "No data", while `part` has no series yet: counters of
 * errors, refusals and drops are only created by the first event, and an empty panel in an
 * incident reads as "broken dashboard" rather than "none".
 */
export const ratioOrZero = (part: string, whole: string) => `(\n  ${part}\nor\n  ${whole} * 0\n)\n/\n${whole}`;

/** `expr`, or 0 for each series of `shape` (same labels) while `expr` has none. */
export const orZeroLike = (expr: string, shape: string) => `${expr}\nor\n${shape} * 0`;

// ---------- panels ----------

export interface Threshold {
  value: number | null;
  color: string;
}

export const thresholds = (steps: Threshold[]) =>
  new dashboard.ThresholdsConfigBuilder().mode(dashboard.ThresholdsMode.Absolute).steps(steps);

export function link(title: string, url: string, targetBlank = false) {
  return new dashboard.DashboardLinkBuilder(title).type(dashboard.DashboardLinkType.Link).url(url).targetBlank(targetBlank).icon('external link').tooltip(title);
}

/**
 * A data link from a replica's series to that replica's log lines in Explore, over the dashboard's
 * time range: Grafana fills `${__field.labels.instance}` from the series the user clicked (the
 * Prometheus -> Loki correlation in datasources.yaml works only in Explore's table view, where
 * `instance` is a field; on a graph it is a label). Replica names are plain words, so Grafana's
 * URL formatting of the value leaves them as they are.
 */
export function replicaLogsLink(service: string) {
  const expr = `{service_name="${service}", deployment_environment_name="\${deployment_environment_name}"} | service_instance_id="\${__field.labels.instance}"`;
  const url = exploreUrl([{ refId: 'A', datasource: LOKI, expr, queryType: 'range' }], [{ name: 'deployment_environment_name', multi: false }], ['__field.labels.instance']);
  const built = { title: 'Logs of ${__field.labels.instance}', url, targetBlank: false };
  return { build: () => built } as unknown as dashboard.DashboardLinkBuilder;
}

interface Common {
  title: string;
  description: string;
  queries: Query[];
  unit?: string;
  width?: number;
  height?: number;
  links?: dashboard.DashboardLinkBuilder[];
  thresholds?: Threshold[];
  min?: number;
  max?: number;
  decimals?: number;
}

const legend = () =>
  new common.VizLegendOptionsBuilder().displayMode(common.LegendDisplayMode.List).placement(common.LegendPlacement.Bottom).showLegend(true);

export function timeSeries(p: Common & { stack?: boolean; thresholdLines?: boolean; bars?: boolean; dataLinks?: dashboard.DashboardLinkBuilder[] }): timeseries.PanelBuilder {
  const panel = new timeseries.PanelBuilder()
    .title(p.title)
    .description(p.description)
    .span(p.width ?? 8)
    .height(p.height ?? 8)
    .unit(p.unit ?? 'short')
    .legend(legend())
    .tooltip(new common.VizTooltipOptionsBuilder().mode(common.TooltipDisplayMode.Multi).sort(common.SortOrder.Descending))
    .lineWidth(1)
    .fillOpacity(p.stack ? 40 : 10)
    .showPoints(common.VisibilityMode.Never)
    .spanNulls(false);
  for (const q of p.queries) panel.withTarget(q);
  panel.datasource(datasourceOf(p.queries));
  if (p.links) panel.links(p.links);
  if (p.dataLinks) panel.dataLinks(p.dataLinks);
  if (p.min !== undefined) panel.min(p.min);
  if (p.max !== undefined) panel.max(p.max);
  if (p.decimals !== undefined) panel.decimals(p.decimals);
  if (p.bars) panel.drawStyle(common.GraphDrawStyle.Bars);
  if (p.stack) panel.stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal));
  if (p.thresholds) {
    panel.thresholds(thresholds(p.thresholds));
    if (p.thresholdLines !== false) {
      panel.thresholdsStyle(new common.GraphThresholdsStyleConfigBuilder().mode(common.GraphThresholdsStyleMode.Dashed));
    }
  }
  return panel;
}

export function statPanel(
  p: Common & { mappings?: dashboard.ValueMapping[]; graph?: boolean; calc?: 'lastNotNull' | 'max' | 'mean'; textMode?: common.BigValueTextMode },
): stat.PanelBuilder {
  const panel = new stat.PanelBuilder()
    .title(p.title)
    .description(p.description)
    .span(p.width ?? 3)
    .height(p.height ?? 5)
    .unit(p.unit ?? 'short')
    .colorMode(common.BigValueColorMode.Background)
    .graphMode(p.graph ? common.BigValueGraphMode.Area : common.BigValueGraphMode.None)
    .textMode(p.textMode ?? common.BigValueTextMode.Auto)
    .justifyMode(common.BigValueJustifyMode.Auto)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs([p.calc ?? 'lastNotNull']).values(false))
    .thresholds(thresholds(p.thresholds ?? [{ value: null, color: 'green' }]));
  for (const q of p.queries) panel.withTarget(q);
  panel.datasource(datasourceOf(p.queries));
  if (p.links) panel.links(p.links);
  if (p.mappings) panel.mappings(p.mappings);
  if (p.decimals !== undefined) panel.decimals(p.decimals);
  if (p.min !== undefined) panel.min(p.min);
  if (p.max !== undefined) panel.max(p.max);
  return panel;
}

export function stateTimeline(p: Common & { mappings: dashboard.ValueMapping[] }): statetimeline.PanelBuilder {
  const panel = new statetimeline.PanelBuilder()
    .title(p.title)
    .description(p.description)
    .span(p.width ?? 8)
    .height(p.height ?? 8)
    .showValue(common.VisibilityMode.Never)
    .mergeValues(true)
    .legend(legend())
    .mappings(p.mappings)
    .thresholds(thresholds(p.thresholds ?? [{ value: null, color: 'green' }]));
  for (const q of p.queries) panel.withTarget(q);
  panel.datasource(datasourceOf(p.queries));
  if (p.links) panel.links(p.links);
  return panel;
}

export function barGauge(p: Common): bargauge.PanelBuilder {
  const panel = new bargauge.PanelBuilder()
    .title(p.title)
    .description(p.description)
    .span(p.width ?? 8)
    .height(p.height ?? 8)
    .unit(p.unit ?? 'short')
    .displayMode(common.BarGaugeDisplayMode.Basic)
    .orientation(common.VizOrientation.Horizontal)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false))
    .thresholds(thresholds(p.thresholds ?? [{ value: null, color: 'green' }]));
  for (const q of p.queries) panel.withTarget(q);
  panel.datasource(datasourceOf(p.queries));
  if (p.links) panel.links(p.links);
  if (p.min !== undefined) panel.min(p.min);
  if (p.max !== undefined) panel.max(p.max);
  if (p.decimals !== undefined) panel.decimals(p.decimals);
  return panel;
}

export function logsPanel(p: Common): logs.PanelBuilder {
  const panel = new logs.PanelBuilder()
    .title(p.title)
    .description(p.description)
    .span(p.width ?? 12)
    .height(p.height ?? 10)
    .showTime(true)
    .wrapLogMessage(true)
    .enableLogDetails(true)
    .sortOrder(common.LogsSortOrder.Descending)
    .dedupStrategy(common.LogsDedupStrategy.None);
  for (const q of p.queries) panel.withTarget(q);
  panel.datasource(datasourceOf(p.queries));
  if (p.links) panel.links(p.links);
  return panel;
}

/** A table of traces, slowest (or `sortBy`) first; each trace ID opens the trace, and from there its logs. */
export function traceTable(p: Common & { sortBy: string; desc?: boolean }): table.PanelBuilder {
  const panel = new table.PanelBuilder()
    .title(p.title)
    .description(p.description)
    .span(p.width ?? 12)
    .height(p.height ?? 10)
    .sortBy([new common.TableSortByFieldStateBuilder().displayName(p.sortBy).desc(p.desc ?? true)]);
  for (const q of p.queries) panel.withTarget(q);
  panel.datasource(datasourceOf(p.queries));
  if (p.links) panel.links(p.links);
  return panel;
}

function datasourceOf(queries: Query[]): common.DataSourceRef {
  const refs = [...new Set(queries.map((q) => JSON.stringify(q.build().datasource)))];
  if (refs.length !== 1) throw new Error(`a panel mixes data sources (${refs.join(', ')}); give each its own panel`);
  return JSON.parse(refs[0]!) as common.DataSourceRef;
}

// ---------- value mappings ----------

export const valueText = (entries: Record<string, { text: string; color: string }>): dashboard.ValueMapping => ({
  type: dashboard.MappingType.ValueToText,
  options: Object.fromEntries(Object.entries(entries).map(([value, result], index) => [value, { ...result, index }])),
});

export const rangeText = (from: number | null, to: number | null, text: string, color: string): dashboard.ValueMapping => ({
  type: dashboard.MappingType.RangeToText,
  options: { from, to, result: { text, color } },
});

// ---------- dashboards ----------

/**
 * A dashboard with the stack's conventions: tagged `dice` (so each lists the others), the last
 * hour refreshed every 30 s, shared crosshair, Grafana's own annotations and a dashboards menu.
 */
export function stackDashboard(title: string, uid: string, description: string, tags: string[]): dashboard.DashboardBuilder {
  return new dashboard.DashboardBuilder(title)
    .uid(uid)
    .description(description)
    .tags(['dice', ...tags, 'generated'])
    .editable()
    .refresh('30s')
    .time({ from: 'now-1h', to: 'now' })
    .timezone('browser')
    .tooltip(dashboard.DashboardCursorSync.Crosshair)
    .annotation(builtInAnnotations())
    .link(new dashboard.DashboardLinkBuilder('Dashboards').type(dashboard.DashboardLinkType.Dashboards).tags(['dice']).asDropdown(true).keepTime(true));
}

// ---------- annotations ----------

/** Grafana's own annotations and alerts, as every dashboard has them. */
export const builtInAnnotations = () =>
  new dashboard.AnnotationQueryBuilder()
    .name('Annotations & Alerts')
    .builtIn(1)
    .datasource({ type: 'grafana', uid: '-- Grafana --' })
    .enable(true)
    .hide(true)
    .iconColor('rgba(0, 211, 255, 1)')
    .type('dashboard');

/** A region on every time series while `expr` (a PromQL condition) holds. */
export const promAnnotation = (name: string, expr: string, color: string, title: string, text: string) =>
  new dashboard.AnnotationQueryBuilder()
    .name(name)
    .datasource(PROMETHEUS)
    .enable(true)
    .iconColor(color)
    .expr(expr)
    .step('30s')
    .titleFormat(title)
    .textFormat(text);

// ---------- finishing ----------

/**
 * Stable ids (in layout order) and refIds, and an "Explore" link on every panel with queries.
 * The link carries the panel's queries with the dashboard's variables interpolated by Grafana
 * (`${var:pipe}` for multi-value variables, as their regex matchers expect).
 */
export function finalize(board: dashboard.Dashboard): dashboard.Dashboard {
  const variables = (board.templating?.list ?? []).map((v) => ({ name: v.name, multi: Boolean(v.multi || v.includeAll) }));
  let id = 0;
  for (const panel of board.panels ?? []) {
    panel.id = ++id;
    if (!('targets' in panel) || !panel.targets?.length) continue;
    const targets = panel.targets as unknown as Record<string, unknown>[];
    targets.forEach((target, i) => {
      target['refId'] = String.fromCharCode(65 + i);
    });
    const explore = new dashboard.DashboardLinkBuilder('Open these queries in Explore')
      .type(dashboard.DashboardLinkType.Link)
      .url(exploreUrl(targets, variables))
      .icon('compass')
      .tooltip('The same queries, for the same time range and variables, in Explore')
      .targetBlank(false)
      .build();
    panel.links = [...(panel.links ?? []), explore];
  }
  return board;
}

/** Builtins kept as Grafana link variables in Explore URLs: the dashboard's time range. */
const LINK_BUILTINS = ['__from', '__to'];

export function exploreUrl(targets: Record<string, unknown>[], variables: { name: string; multi: boolean }[], linkVariables: string[] = []): string {
  const ds = targets[0]!['datasource'] as { uid: string };
  const pane = {
    a: {
      datasource: ds.uid,
      queries: targets.map((t) => {
        const { legendFormat: _legend, hide: _hide, ...query } = t;
        return query;
      }),
      range: { from: '${__from}', to: '${__to}' },
    },
  };
  let encoded = encodeURIComponent(JSON.stringify(pane));
  for (const name of [...LINK_BUILTINS, ...linkVariables]) encoded = encoded.replaceAll(`%24%7B${name}%7D`, `\${${name}}`);
  for (const v of variables) {
    const format = v.multi ? 'pipe' : 'raw';
    encoded = encoded
      .replaceAll(`%24%7B${v.name}%7D`, `\${${v.name}:${format}}`)
      .replace(new RegExp(`%24${v.name}(?![A-Za-z0-9_])`, 'g'), `\${${v.name}:${format}}`);
  }
  return `/explore?schemaVersion=1&orgId=1&panes=${encoded}`;
}
