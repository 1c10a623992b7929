// The values a chart's templates see, computed offline as Helm 3.22 computes them, so that tests can
// check what a user gets (e.g. kube-prometheus-stack's Alertmanager config) without a chart repository.
// Mirrors helm v3.22.0: pkg/cli/values/options.go mergeMaps (several -f files, later wins) and
// pkg/chartutil/coalesce.go CoalesceValues/coalesceTablesFullKey (user values over the chart's
// values.yaml): maps merge key by key at every depth, a list or scalar replaces the default whole
// (a list is never merged item by item), and a user null deletes the chart's key.

type Map = Record<string, unknown>;
const isMap = (v: unknown): v is Map => typeof v === 'object' && v !== null && !Array.isArray(v);

/** mergeMaps of options.go: b over a, recursing where both hold a map. Nulls are kept (coalesce drops them). */
export function mergeValueFiles(...files: Map[]): Map {
  const merge = (a: Map, b: Map): Map => {
    const out: Map = { ...a };
    for (const [k, v] of Object.entries(b)) out[k] = isMap(v) && isMap(out[k]) ? merge(out[k] as Map, v) : v;
    return out;
  };
  return files.reduce(merge, {});
}

/** coalesce.go: the user's values over the chart's defaults. */
export function coalesce(user: Map, defaults: Map): Map {
  const out: Map = {};
  for (const [k, v] of Object.entries(user)) {
    if (v === null) continue; // "delete the key": a user null removes the default
    const d = defaults[k];
    out[k] = isMap(v) && isMap(d) ? coalesce(v, d) : isMap(v) ? coalesce(v, {}) : v;
  }
  for (const [k, d] of Object.entries(defaults)) {
    if (k in user) continue;
    if (d === null) continue;
    out[k] = isMap(d) ? coalesce({}, d) : d;
  }
  return out;
}

/** What the templates see as .Values: `-f` files in order, coalesced over the chart's defaults. */
export function helmValues(defaults: Map, ...files: Map[]): Map {
  return coalesce(mergeValueFiles(...files), defaults);
}
