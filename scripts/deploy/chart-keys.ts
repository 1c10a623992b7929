// Key paths of a Helm chart's values.yaml, so that our values files (deploy/values/*.yaml) can be
// checked offline against the chart version they pin: no chart repository is reachable here, so
// `helm template` cannot run, but a misspelt or moved key is the commonest values-file bug.
//   node scripts/deploy/chart-keys.ts --git <mirror git dir> --rev <tag> --path <values.yaml>
//        --repo <owner/name> --out deploy/values/upstream-keys/<chart>-<version>.txt
//        [--note "<label>=<key path>"]   also record that key's default in the header (e.g. an image tag)
// Each line of the list is a key path; a path ending in " {}" is a map the chart leaves free-form
// (empty by default: resources, podAnnotations, structuredConfig...), under which any key is allowed.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { parse } from 'yaml';

export type KeyList = { paths: Set<string>; freeForm: Set<string> };

const seg = (k: string) => (/^[A-Za-z0-9_-]+$/.test(k) ? k : JSON.stringify(k));
const join = (prefix: string, k: string) => (prefix ? `${prefix}.${seg(k)}` : seg(k));

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Every key path of a parsed values document. Lists are leaves: charts take them whole. */
export function keyPaths(doc: unknown): { path: string; freeForm: boolean }[] {
  const out: { path: string; freeForm: boolean }[] = [];
  const walk = (v: unknown, prefix: string) => {
    if (!isMap(v)) return;
    for (const [k, child] of Object.entries(v)) {
      const p = join(prefix, k);
      const freeForm = isMap(child) && Object.keys(child).length === 0;
      out.push({ path: p, freeForm });
      walk(child, p);
    }
  };
  walk(doc, '');
  return out;
}

export function renderKeyList(header: string[], doc: unknown): string {
  const lines = keyPaths(doc).map((k) => (k.freeForm ? `${k.path} {}` : k.path));
  return header.map((h) => `# ${h}\n`).join('') + lines.join('\n') + '\n';
}

export function parseKeyList(text: string): KeyList {
  const paths = new Set<string>();
  const freeForm = new Set<string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    if (line.endsWith(' {}')) {
      const p = line.slice(0, -3);
      paths.add(p);
      freeForm.add(p);
    } else paths.add(line);
  }
  return { paths, freeForm };
}

export function loadKeyList(file: string): KeyList {
  return parseKeyList(readFileSync(file, 'utf8'));
}

/** Key paths of `ours` that the chart does not know: neither listed nor under a free-form map. */
export function unknownKeys(ours: unknown, upstream: KeyList): string[] {
  const unknown: string[] = [];
  const walk = (v: unknown, prefix: string) => {
    if (!isMap(v)) return;
    for (const [k, child] of Object.entries(v)) {
      const p = join(prefix, k);
      if (upstream.freeForm.has(p)) continue; // anything goes below it
      if (!upstream.paths.has(p)) {
        unknown.push(p);
        continue;
      }
      walk(child, p);
    }
  };
  walk(ours, '');
  return unknown;
}

function arg(name: string): string {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0 || !process.argv[i + 1]) throw new Error(`missing --${name}`);
  return process.argv[i + 1];
}

function main() {
  const [git, rev, path, repo, out] = ['git', 'rev', 'path', 'repo', 'out'].map(arg);
  const commit = execFileSync('git', ['--git-dir', git, 'rev-list', '-n1', rev], { encoding: 'utf8' }).trim();
  const text = execFileSync('git', ['--git-dir', git, 'show', `${commit}:${path}`], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const chart = parse(execFileSync('git', ['--git-dir', git, 'show', `${commit}:${path.replace(/values\.yaml$/, 'Chart.yaml')}`], { encoding: 'utf8' })) as {
    name: string;
    version: string;
    appVersion: string;
  };
  const header = [
    `Key paths of ${chart.name} chart ${chart.version} (appVersion ${chart.appVersion}), extracted by scripts/deploy/chart-keys.ts`,
    `from https://github.com/${repo} ${path} at tag ${rev} (commit ${commit}).`,
    `A path ending in " {}" is an empty map upstream: any key may go below it. Regenerate, never edit.`,
  ];
  const doc = parse(text);
  const i = process.argv.indexOf('--note');
  if (i >= 0) {
    const [label, path] = process.argv[i + 1]!.split('=') as [string, string];
    const value = path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], doc);
    header.push(`${label} ${String(value)} (default of ${path}).`);
  }
  writeFileSync(out, renderKeyList(header, doc));
  console.log(`${out}: ${keyPaths(parse(text)).length} key paths`);
}

if (import.meta.url === `file://${process.argv[1]}`) main();
