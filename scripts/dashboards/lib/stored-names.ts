// The label and attribute names a LogQL or TraceQL query may filter on: what the dice service
// emits (resource attributes as docker-compose.yml and the native stack set them, the span and log
// attributes the code sets), as Loki and Tempo store it. test/config/grafana.test.ts checks every
// query's names against these, and each hand-listed attribute against the source line that sets it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ATTR_ERROR_TYPE, ATTR_HTTP_REQUEST_METHOD, ATTR_HTTP_RESPONSE_STATUS_CODE, ATTR_HTTP_ROUTE } from '@opentelemetry/semantic-conventions';
import { parse } from 'yaml';
import { ROOT } from '../generate.ts';

/** An attribute the code sets, and the file that sets it (checked to name it). */
export interface Emitted {
  name: string;
  source: string;
}

/** Attributes of every log record of the access log and the error log. */
export const LOG_ATTRIBUTES: Emitted[] = [
  { name: 'context', source: 'apps/dice-api/src/app.setup.ts' },
  { name: 'http.request.method', source: 'apps/dice-api/src/app.setup.ts' },
  { name: 'http.route', source: 'apps/dice-api/src/app.setup.ts' },
  { name: 'http.response.status_code', source: 'apps/dice-api/src/app.setup.ts' },
  { name: 'http.server.request.duration', source: 'apps/dice-api/src/app.setup.ts' },
  { name: 'error.type', source: 'apps/dice-api/src/problem/problem.filter.ts' },
  { name: 'status', source: 'apps/dice-api/src/problem/problem.filter.ts' },
];

/** Span attributes: the HTTP server span's (stable semantic conventions) and the dice.roll span's. */
export const SPAN_ATTRIBUTES: Emitted[] = [
  ...[ATTR_HTTP_ROUTE, ATTR_HTTP_REQUEST_METHOD, ATTR_HTTP_RESPONSE_STATUS_CODE, ATTR_ERROR_TYPE].map((name) => ({ name, source: 'node_modules/@opentelemetry/semantic-conventions/package.json' })),
  { name: 'dice.count', source: 'apps/dice-api/src/dice/dice.service.ts' },
  { name: 'dice.sides', source: 'apps/dice-api/src/dice/dice.service.ts' },
  { name: 'dice.total', source: 'apps/dice-api/src/dice/dice.service.ts' },
];

const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

/**
 * Resource attributes of the replicas: service.name (OTEL_SERVICE_NAME) and every key of
 * OTEL_RESOURCE_ATTRIBUTES in docker-compose.yml and scripts/native/stack.ts, plus the SDK's own
 * telemetry.sdk.* (@opentelemetry/resources' default resource).
 */
export function resourceAttributes(): string[] {
  const keys = new Set(['service.name', 'telemetry.sdk.language', 'telemetry.sdk.name', 'telemetry.sdk.version']);
  for (const file of ['docker-compose.yml', 'scripts/native/stack.ts']) {
    const settings = [...read(file).matchAll(/OTEL_RESOURCE_ATTRIBUTES:\s*['"`]?([^'"`\n]+)/g)].map((m) => m[1]!);
    if (settings.length === 0) throw new Error(`${file} sets no OTEL_RESOURCE_ATTRIBUTES: where do the replicas' resource attributes come from now?`);
    for (const setting of settings) for (const pair of setting.split(',')) keys.add(pair.split('=')[0]!.trim());
  }
  return [...keys].sort();
}

/** An OTLP attribute name as Loki stores it: otlptranslator's LabelNamer turns what is not [A-Za-z0-9_] into `_`. */
export const lokiName = (attribute: string) => attribute.replace(/[^A-Za-z0-9_]/g, '_');

/**
 * What a LogQL query can name on the dice service's log lines, as Loki v3.7.6 stores an OTLP
 * record (pkg/loghttp/push/otlp.go, otlp_config.go): resource attributes in
 * observability/loki/loki.yaml's index_label list become stream labels; every other resource
 * attribute, the scope's name and version, the record's attributes, severity_text and severity_number,
 * observed_timestamp, flags, trace_id and span_id become structured metadata; discover_log_levels
 * adds detected_level.
 */
export function lokiNames(): { stream: string[]; metadata: string[] } {
  const loki = parse(read('observability/loki/loki.yaml')) as {
    limits_config: { discover_log_levels?: boolean; otlp_config: { resource_attributes: { attributes_config: { action: string; attributes: string[] }[] } } };
  };
  const indexed = loki.limits_config.otlp_config.resource_attributes.attributes_config.filter((a) => a.action === 'index_label').flatMap((a) => a.attributes);
  const resource = resourceAttributes();
  const stream = indexed.filter((a) => resource.includes(a)).map(lokiName);
  const metadata = [
    ...resource.filter((a) => !indexed.includes(a)).map(lokiName),
    ...LOG_ATTRIBUTES.map((a) => lokiName(a.name)),
    'scope_name',
    'scope_version',
    'severity_text',
    'severity_number',
    'observed_timestamp',
    'flags',
    'trace_id',
    'span_id',
    ...(loki.limits_config.discover_log_levels ? ['detected_level'] : []),
  ];
  return { stream, metadata };
}
