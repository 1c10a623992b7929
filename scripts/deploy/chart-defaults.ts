// One subtree of a pinned chart's values.yaml, committed so that offline tests can merge our values
// over the chart's defaults as Helm does (scripts/deploy/helm-merge.ts). The header names the
// repository, path, tag and commit it came from; regenerate, never edit:
//   node scripts/deploy/chart-defaults.ts --git <mirror git dir> --rev kube-prometheus-stack-88.5.3 \
//     --path charts/kube-prometheus-stack/values.yaml --repo prometheus-community/helm-charts \
//     --key alertmanager.config --out deploy/values/upstream-defaults/kube-prometheus-stack-88.5.3.alertmanager.config.yaml
//   ... --check   fail if the committed file differs from the extract (run with a mirror at hand)
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parse, stringify } from 'yaml';

export type Extract = { header: { repo: string; path: string; tag: string; commit: string; key: string }; value: unknown };

/** Reads a committed extract: its provenance header and the subtree. */
export function readExtract(file: string): Extract {
  const text = readFileSync(file, 'utf8');
  const m = /^# (\S+) at key (\S+) of https:\/\/github\.com\/(\S+) (\S+) at tag (\S+) \(commit ([0-9a-f]{40})\)/m.exec(text);
  if (!m) throw new Error(`${file}: no provenance header (regenerate it with scripts/deploy/chart-defaults.ts)`);
  return { header: { key: m[2]!, repo: m[3]!, path: m[4]!, tag: m[5]!, commit: m[6]! }, value: parse(text) };
}

export function renderExtract(opts: { git: string; rev: string; path: string; repo: string; key: string }): string {
  const commit = execFileSync('git', ['--git-dir', opts.git, 'rev-list', '-n1', opts.rev], { encoding: 'utf8' }).trim();
  const doc = parse(execFileSync('git', ['--git-dir', opts.git, 'show', `${commit}:${opts.path}`], { encoding: 'utf8', maxBuffer: 64 << 20 }));
  const value = opts.key.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], doc);
  if (value === undefined) throw new Error(`${opts.path} at ${opts.rev} has no key ${opts.key}`);
  const chart = opts.rev.replace(/-\d+\.\d+\.\d+$/, '');
  return (
    `# ${chart} at key ${opts.key} of https://github.com/${opts.repo} ${opts.path} at tag ${opts.rev} (commit ${commit}).\n` +
    '# The chart default, as its values.yaml has it (comments dropped), extracted by scripts/deploy/chart-defaults.ts;\n' +
    '# tests merge our values over it as Helm does. Regenerate, never edit.\n' +
    stringify(value, { lineWidth: 0 })
  );
}

function arg(name: string): string {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0 || !process.argv[i + 1]) {
    console.error(`missing --${name} (usage in the header of scripts/deploy/chart-defaults.ts)`);
    process.exit(2);
  }
  return process.argv[i + 1]!;
}

function main() {
  const [git, rev, path, repo, key, out] = ['git', 'rev', 'path', 'repo', 'key', 'out'].map(arg) as [string, string, string, string, string, string];
  const text = renderExtract({ git, rev, path, repo, key });
  if (process.argv.includes('--check')) {
    if (!existsSync(out) || readFileSync(out, 'utf8') !== text) {
      console.error(`${out} differs from ${key} of ${path} at ${rev}: regenerate it (without --check)`);
      process.exit(1);
    }
    console.log(`${out} matches ${rev}`);
    return;
  }
  writeFileSync(out, text);
  console.log(`wrote ${out}`);
}

if (process.argv[1] && pathToFileURL(process.argv[1]).href === import.meta.url) main();
