// Renders the four official charts with our values (helm template), from chart sources read out of
// local git mirrors of their repositories: no chart repository is reachable here, so `helm pull`
// cannot run. Subcharts our values leave disabled are dropped from Chart.yaml (helm refuses a chart
// with a missing dependency even when its condition is false); enabled ones come from the mirror.
//   HELM=/path/to/helm node scripts/deploy/render-charts.ts --grafana-community <git dir>
//        --prometheus-community <git dir> [--out DIR]
// Prints what rendered; the manifests land in --out (default $TMPDIR/dice-rendered-charts).
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const arg = (n: string, d?: string) => {
  const i = process.argv.indexOf(`--${n}`);
  const v = i >= 0 ? process.argv[i + 1] : d;
  if (!v) throw new Error(`missing --${n}`);
  return v;
};

// A current Kubernetes minor: a helm built from source defaults to v1.20, which the charts refuse.
const KUBE_VERSION = '1.34.0';
type Dep = { name: string; version?: string; condition?: string; repository?: string };
export const CHARTS = [
  { release: 'tempo', chart: 'tempo-distributed', tag: 'tempo-distributed-3.3.0', mirror: 'grafana-community', values: 'tempo-distributed.yaml' },
  { release: 'loki', chart: 'loki', tag: 'loki-18.11.0', mirror: 'grafana-community', values: 'loki.yaml' },
  { release: 'grafana', chart: 'grafana', tag: 'grafana-12.11.1', mirror: 'grafana-community', values: 'grafana.yaml' },
  { release: 'kps', chart: 'kube-prometheus-stack', tag: 'kube-prometheus-stack-88.5.3', mirror: 'prometheus-community', values: 'kube-prometheus-stack.yaml' },
] as const;

function get(obj: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), obj);
}

function extract(git: string, rev: string, path: string, into: string) {
  mkdirSync(into, { recursive: true });
  const tar = execFileSync('git', ['--git-dir', git, 'archive', rev, path], { maxBuffer: 256 << 20 });
  execFileSync('tar', ['x', '-C', into, `--strip-components=${path.split('/').length - 1}`], { input: tar });
}

/**
 * Renders one chart from its mirror with the given values files (paths under deploy/values/), into
 * <out>/<name>.yaml; the chart's source is extracted under <out>/src-<name>.
 */
export function renderChart(
  helm: string,
  c: { release: string; chart: string; tag: string; mirror: string },
  mirrors: Record<string, string>,
  valueFiles: string[],
  out: string,
  name: string = c.chart,
): string {
  const git = mirrors[c.mirror]!;
  const work = join(out, `src-${name}`);
  extract(git, c.tag, `charts/${c.chart}`, work);
  const dir = join(work, c.chart);
  const path = (f: string) => (isAbsolute(f) ? f : join(ROOT, 'deploy/values', f)); // absolute: a file of the caller's
  const values = valueFiles.map((f) => parse(readFileSync(path(f), 'utf8')));
  const chartYaml = parse(readFileSync(join(dir, 'Chart.yaml'), 'utf8')) as { dependencies?: Dep[] };
  const kept: Dep[] = [];
  for (const d of chartYaml.dependencies ?? []) {
    if (!d.repository) { kept.push(d); continue; } // vendored in charts/ (kube-prometheus-stack's crds)
    const cond = d.condition?.split(',')[0];
    const ours = cond ? values.map((v) => get(v, cond)).filter((v) => v !== undefined).at(-1) : true;
    const enabled = cond ? (ours ?? get(parse(readFileSync(join(dir, 'values.yaml'), 'utf8')), cond)) : true;
    if (enabled === false || enabled === undefined) { console.log(`  ${c.chart}: subchart ${d.name} disabled by ${cond}: dropped`); continue; }
    // Enabled subchart: take it from the same mirror at its own tag (<name>-<version>).
    const tag = `${d.name}-${d.version}`;
    extract(git, tag, `charts/${d.name}`, join(dir, 'charts'));
    console.log(`  ${c.chart}: subchart ${d.name} ${d.version} from ${c.mirror} tag ${tag}`);
    kept.push(d);
  }
  chartYaml.dependencies = kept;
  writeFileSync(join(dir, 'Chart.yaml'), stringify(chartYaml));
  rmSync(join(dir, 'Chart.lock'), { force: true });
  const manifest = execFileSync(
    helm,
    ['template', c.release, dir, '--namespace', 'observability', '--kube-version', KUBE_VERSION, ...valueFiles.flatMap((f) => ['-f', path(f)])],
    { encoding: 'utf8', maxBuffer: 256 << 20 },
  );
  writeFileSync(join(out, `${name}.yaml`), manifest);
  const kinds = [...manifest.matchAll(/^kind: (\w+)/gm)].length;
  console.log(`${c.chart} ${c.tag} (${valueFiles.join(', ')}): rendered ${kinds} objects -> ${join(out, `${name}.yaml`)}`);
  return manifest;
}

function main() {
  const helm = process.env.HELM ?? 'helm';
  const mirrors: Record<string, string> = { 'grafana-community': arg('grafana-community'), 'prometheus-community': arg('prometheus-community') };
  const out = arg('out', join(tmpdir(), 'dice-rendered-charts'));
  rmSync(out, { recursive: true, force: true });
  for (const c of CHARTS) renderChart(helm, c, mirrors, [c.values], out);
}

if (import.meta.url === `file://${process.argv[1]}`) main();
