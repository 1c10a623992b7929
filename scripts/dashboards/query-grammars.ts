// LogQL and TraceQL (and PromQL's metric names) checked by the grammars Grafana's own query editors parse them with:
// @grafana/lezer-logql (the Loki data source's editor) and @grafana/lezer-traceql (Tempo's), both
// Apache-2.0. A query with an error node in its tree is one Grafana's editor underlines; the names
// a query uses (stream labels, label filters, TraceQL attributes) are read from the same tree, so
// test/config/grafana.test.ts can check them against what Loki and Tempo store for our services.
import { parser as logqlParser } from '@grafana/lezer-logql';
import { parser as traceqlParser } from '@grafana/lezer-traceql';
import { parser as promqlParser } from '@prometheus-io/lezer-promql';
import type { LRParser } from '@lezer/lr';

export type QueryLanguage = 'promql' | 'logql' | 'traceql';

/** Where each syntax error of `query` is, with the text around it, as a person would want to see it. */
function syntaxProblems(parser: LRParser, language: string, query: string): string[] {
  const problems: string[] = [];
  parser.parse(query).iterate({
    enter(node) {
      if (!node.type.isError) return;
      const near = query.slice(Math.max(0, node.from - 15), node.from + 15).replace(/\s+/g, ' ');
      problems.push(`${language} syntax error at character ${node.from + 1}: …${near}…`);
    },
  });
  return problems;
}

export const logqlProblems = (query: string): string[] => syntaxProblems(logqlParser, 'LogQL', query);
export const traceqlProblems = (query: string): string[] => syntaxProblems(traceqlParser, 'TraceQL', query);

/** The label names a LogQL query uses: in stream selectors, and in label filters and groupings after them. */
export function logqlLabels(query: string): { stream: string[]; filtered: string[]; parsed: boolean } {
  const stream = new Set<string>();
  const filtered = new Set<string>();
  let parsed = false;
  const tree = logqlParser.parse(query);
  tree.iterate({
    enter(node) {
      if (node.name === 'LabelParser' || node.name === 'JsonExpressionParser' || node.name === 'LabelFormatExpr') parsed = true;
      if (node.name !== 'Identifier') return;
      const parent = node.node.parent;
      const name = query.slice(node.from, node.to);
      if (parent?.name === 'Matcher') {
        (parent.parent?.name === 'Matchers' ? stream : filtered).add(name);
      } else if (parent?.name === 'Labels' || (parent && /Filter$/.test(parent.name))) {
        filtered.add(name);
      }
    },
  });
  return { stream: [...stream], filtered: [...filtered], parsed };
}

export interface TraceqlAttribute {
  /** `resource`, `span`, ... or `any` for an unscoped `.name`. */
  scope: string;
  name: string;
}

/** The attributes (not intrinsics) a TraceQL query names, with their scope. */
export function traceqlAttributes(query: string): TraceqlAttribute[] {
  const found: TraceqlAttribute[] = [];
  traceqlParser.parse(query).iterate({
    enter(node) {
      if (node.name !== 'AttributeField') return;
      const scope = node.node.firstChild?.name === 'Identifier' ? 'any' : node.node.firstChild!.name.toLowerCase();
      const identifier = node.node.getChild('Identifier');
      if (identifier) found.push({ scope, name: query.slice(identifier.from, identifier.to) });
    },
  });
  return found;
}

/** The query hints (`with (most_recent=true)`) a TraceQL query ends with. */
export function traceqlHints(query: string): Record<string, string> {
  const hints: Record<string, string> = {};
  traceqlParser.parse(query).iterate({
    enter(node) {
      if (node.name !== 'HintParameter') return;
      const key = node.node.getChild('HintIdentifier');
      const value = node.node.getChild('HintValue');
      if (key && value) hints[query.slice(key.from, key.to)] = query.slice(value.from, value.to);
    },
  });
  return hints;
}

// ---------- queries written in prose and code ----------

const TRACEQL_START = /^\{\s*(?:(?:resource|span|event|link|instrumentation|trace)?\.|(?:span:|trace:|event:|link:)?(?:name|kind|status|duration|rootName|rootServiceName|traceDuration|statusMessage)\b)/;
const LOGQL_START = /^\{\s*(?!__name__)[A-Za-z_][\w.]*\s*(?:=|!=|=~|!~)\s*["`]/;

/**
 * LogQL and TraceQL queries quoted in a text: code spans of Markdown, string literals of
 * TypeScript. A query is a quoted span that starts like a stream selector (`{label="`) or a
 * spanset (`{ resource.`, `{ kind`...). `${...}` in a template literal becomes `x`, `<id>` placeholders
 * stay (both are inside string values). Dotted LogQL labels are caught: they start like LogQL.
 */
export function queriesInText(text: string): { language: 'logql' | 'traceql'; query: string }[] {
  const found: { language: 'logql' | 'traceql'; query: string }[] = [];
  for (const match of text.matchAll(/`([^`\n]+)`|'(\{[^'\n]*)'/g)) {
    const query = (match[1] ?? match[2]!).replace(/\$\{[^}]*\}/g, 'x').trim();
    if (TRACEQL_START.test(query)) found.push({ language: 'traceql', query });
    else if (LOGQL_START.test(query)) found.push({ language: 'logql', query });
  }
  return found;
}

// ---------- PromQL: the metric names a query reads ----------

/**
 * The metric names a PromQL query reads, by the upstream grammar (@prometheus-io/lezer-promql,
 * Apache-2.0, the parser of Prometheus's own query editor): the name of each VectorSelector, or its
 * `__name__="..."` matcher. Grafana variables must be expanded first. Throws on a syntax error, and
 * on a `__name__` matched by a regex or negation (no fixed name to check).
 */
export function promqlMetricNames(query: string): string[] {
  const names = new Set<string>();
  const problems = syntaxProblems(promqlParser, 'PromQL', query);
  if (problems.length > 0) throw new Error(`${problems.join('; ')}\n${query}`);
  promqlParser.parse(query).iterate({
    enter(node) {
      if (node.name === 'Identifier' && node.node.parent?.name === 'VectorSelector') {
        names.add(query.slice(node.from, node.to));
      } else if (node.name === 'UnquotedLabelMatcher' || node.name === 'QuotedLabelMatcher') {
        const label = node.node.getChild('LabelName') ?? node.node.getChild('QuotedLabelName');
        if (!label || query.slice(label.from, label.to).replace(/^"|"$/g, '') !== '__name__') return;
        const op = node.node.getChild('MatchOp')?.firstChild?.name;
        const value = node.node.getChild('StringLiteral');
        if (op !== 'EqlSingle' || !value) throw new Error(`PromQL: __name__ matched other than by "=", no fixed metric name to check: ${query.slice(node.from, node.to)}\n${query}`);
        names.add(JSON.parse(query.slice(value.from, value.to).replace(/^'(.*)'$|^`(.*)`$/, '"$1$2"')) as string);
      }
    },
  });
  return [...names];
}
