// Bad and hostile input over HTTP against the real app (AppModule on Fastify, as main.ts builds it):
// property-based queries, paths, methods and bodies; malformed and oversized trace headers; what
// supertest cannot send (raw sockets: bytes that are not HTTP, non-UTF-8, heads over 16 KiB).
// Whatever comes in: a clear 4xx problem+json or ignored, never a 5xx, never a crash; one JSON
// access-log line per request; span attributes bounded; no user input in metric labels; no
// secret a client sent in any log line, span or metric.
import { SpanKind, type Attributes } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import fc from 'fast-check';
import { connect } from 'node:net';
import request from 'supertest';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ALLOWED_SIDES, DICE_MAX } from '../src/dice/roll-query.js';
import { exported } from './support/telemetry-harness.js';
import { startTestApp, type TestApp } from './support/test-app.js';

const PROBLEM = /^application\/problem\+json(;|$)/;
/** libs/telemetry's default span attribute limit (SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT). */
const ATTRIBUTE_LIMIT = 2048;
/** Marks every hostile input, so that it can be looked for wherever it must not land. */
const MARK = 'h0st1le';
const SECRETS = ['s3cret-bearer-0f1e2d', 's3cret-query-token-9a8b', 's3cret-cookie-7c6d', 's3cret-api-key-5e4f'];
const RUNS = Number(process.env['HOSTILE_RUNS'] ?? 150);

/** Percent-encodes bytes, leaving unreserved ASCII as is: any byte sequence, UTF-8 or not. */
const encoded = (bytes: Uint8Array) =>
  [...bytes].map((b) => (/[A-Za-z0-9\-._~]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).padStart(2, '0')}`)).join('');
const component = fc.oneof(
  fc.uint8Array({ maxLength: 24 }).map(encoded),
  fc.string({ maxLength: 24 }).map(encodeURIComponent),
  fc.constantFrom('', MARK, '%', '%zz', '%c3%28', '%ed%a0%80', '%00', '%0d%0a', '..', '%2e%2e', '%2f', '[]', '[0]', '__proto__', 'constructor'),
);
const paramName = fc.oneof(fc.constantFrom('dice', 'sides', 'dice[]', 'sides[0]', 'DICE', '__proto__', 'constructor', 'hasOwnProperty', 'toString'), component);
const paramValue = fc.oneof(
  fc.integer().map(String),
  fc.integer({ min: 1, max: DICE_MAX }).map(String),
  fc.constantFrom(...ALLOWED_SIDES.map(String), '', ' 6', '6 ', '+6', '0x10', '1e2', '-0', '00006', '٣', '６', 'NaN', 'Infinity', '1.0', '9'.repeat(400)),
  component,
);
type Pair = [name: string, value: string | undefined];
const pairs = fc.array(fc.tuple(paramName, fc.option(paramValue, { nil: undefined })), { maxLength: 6 });
const queryOf = (list: Pair[]) => list.map(([k, v]) => (v === undefined ? k : `${k}=${encodeURIComponent(v)}`)).join('&');
const query = pairs.map(queryOf);

/**
 * What /roll must answer for these pairs, judged from the pairs themselves (not from the app's
 * parser): valid only when `dice` and `sides` each come exactly once, as plain decimal digits, in
 * range, and nothing else comes. Names are percent-decoded as any URL query parser would; one that
 * does not decode (invalid UTF-8) stays as sent and so cannot be `dice` or `sides`.
 */
function expectedRoll(list: Pair[]): { dice: number; sides: number } | undefined {
  const decode = (name: string) => {
    try {
      return decodeURIComponent(name);
    } catch {
      return name;
    }
  };
  const values = new Map<string, (string | undefined)[]>();
  for (const [name, value] of list) values.set(decode(name), [...(values.get(decode(name)) ?? []), value]);
  const once = (name: string) => (values.get(name)?.length === 1 ? values.get(name)![0] : undefined);
  const dice = once('dice');
  const sides = once('sides');
  if (values.size !== 2 || dice === undefined || sides === undefined || !/^[0-9]+$/.test(dice) || !/^[0-9]+$/.test(sides)) return undefined;
  if (Number(dice) < 1 || Number(dice) > DICE_MAX || !(ALLOWED_SIDES as readonly number[]).includes(Number(sides))) return undefined;
  return { dice: Number(dice), sides: Number(sides) };
}

interface Res {
  status: number;
  headers: Record<string, string>;
  text: string;
}

/** A 4xx answer must be problem+json with its own status, and small whatever came in. */
function expectProblem(res: Res, context: string) {
  expect(res.status, context).toBeGreaterThanOrEqual(400);
  expect(res.status, context).toBeLessThan(500);
  expect(res.headers['content-type'], context).toMatch(PROBLEM);
  const body = JSON.parse(res.text) as { status: number; type: string; title: string };
  expect(body.status, context).toBe(res.status);
  expect(typeof body.type === 'string' && typeof body.title === 'string', context).toBe(true);
  expect(res.text.length, `${context}: error body size`).toBeLessThan(8 * 1024);
}

/** Sends raw bytes and returns what came back before the server closed the connection. */
function raw(port: number, bytes: Buffer, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('close', () => (clearTimeout(timer), resolve(Buffer.concat(chunks).toString('latin1'))));
    socket.on('error', reject);
    socket.end(bytes);
  });
}

/** Status, content type and body of a raw HTTP/1.1 response. */
function parseRaw(response: string): Res {
  const [head = '', ...rest] = response.split('\r\n\r\n');
  const [statusLine = '', ...headerLines] = head.split('\r\n');
  const headers = Object.fromEntries(headerLines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
  return { status: Number(statusLine.split(' ')[1]), headers, text: rest.join('\r\n\r\n') };
}

const longest = (attributes: Attributes | undefined) =>
  Math.max(0, ...Object.values(attributes ?? {}).flatMap((v) => (Array.isArray(v) ? v : [v])).map((v) => String(v).length));

function longestAttribute(spans: ReadableSpan[]) {
  return Math.max(0, ...spans.flatMap((s) => [longest(s.attributes), ...s.events.map((e) => longest(e.attributes)), ...s.links.map((l) => longest(l.attributes))]));
}

const everything = (spans: ReadableSpan[]) =>
  JSON.stringify(spans.map((s) => ({ name: s.name, attributes: s.attributes, events: s.events, traceState: s.spanContext().traceState?.serialize() })));

describe('hostile input', () => {
  let t: TestApp;
  let port: number;
  let server: Parameters<typeof request>[0];

  beforeAll(async () => {
    t = await startTestApp();
    await t.app.listen(0, '127.0.0.1');
    server = t.app.getHttpServer();
    port = (server.address() as { port: number }).port;
  });
  afterAll(() => t.close());
  beforeEach(() => {
    exported.spans.reset();
    exported.logs.reset();
  });

  describe('property-based, through HTTP', () => {
    it('any query on /roll is a 200 exactly when it is valid (the roll asked for) and a 400 problem+json otherwise, never a 5xx', async () => {
      // Valid queries are rare among random pairs: mix in some built to be valid or nearly so.
      const near = fc.tuple(fc.integer({ min: -1, max: DICE_MAX + 1 }), fc.constantFrom(...ALLOWED_SIDES, 0, 7, 101), fc.boolean()).map(
        ([dice, sides, swap]): Pair[] => (swap ? [['sides', String(sides)], ['dice', String(dice)]] : [['dice', String(dice)], ['sides', String(sides)]]),
      );
      await fc.assert(
        fc.asyncProperty(fc.oneof(pairs, near), async (list) => {
          const q = queryOf(list);
          const res = await request(server).get(`/roll?${q}`);
          const expected = expectedRoll(list);
          if (expected) {
            expect(res.status, `/roll?${q} is valid`).toBe(200);
            expect(res.body).toMatchObject(expected);
            expect(res.body.rolls).toHaveLength(expected.dice);
            for (const face of res.body.rolls as number[]) expect(face >= 1 && face <= expected.sides, `${face} on a d${expected.sides}`).toBe(true);
            expect(res.body.total).toBe((res.body.rolls as number[]).reduce((a, b) => a + b, 0));
          } else {
            expect(res.status, `/roll?${q} is invalid`).toBe(400);
            expectProblem(res, `/roll?${q}`);
          }
        }),
        { numRuns: RUNS * 2 },
      );
    });

    it('any path is answered, with a problem+json for every error, never a 5xx', async () => {
      const path = fc.tuple(fc.array(component, { minLength: 1, maxLength: 5 }), fc.option(query, { nil: undefined }));
      await fc.assert(
        fc.asyncProperty(path, async ([segments, q]) => {
          const url = `/${segments.join('/')}${q === undefined ? '' : `?${q}`}`;
          const res = await request(server).get(url);
          expect(res.status, url).toBeLessThan(500);
          if (res.status >= 400) expectProblem(res, url);
        }),
        { numRuns: RUNS },
      );
    });

    it('any method, route, content type and body (up to twice the body limit) is never a 5xx', async () => {
      const methods = ['get', 'head', 'post', 'put', 'patch', 'delete', 'options'] as const;
      const routes = ['/', '/roll?dice=1&sides=6', '/roll', '/health/ready', '/metrics', '/openapi.json', '/docs', `/${MARK}`];
      const contentTypes = ['application/json', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', `${MARK}/${MARK}`, ''];
      const body = fc.oneof(
        fc.json(),
        fc.string({ maxLength: 200 }),
        fc.constantFrom('{"__proto__":{"polluted":1}}', '{"constructor":{"prototype":{"polluted":1}}}', '{', 'x'.repeat(32 * 1024)),
      );
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...methods), fc.constantFrom(...routes), fc.constantFrom(...contentTypes), fc.option(body, { nil: undefined }), async (method, route, type, payload) => {
          let req = request(server)[method](route);
          if (type) req = req.set('content-type', type);
          const res = payload === undefined ? await req : await req.send(payload);
          const context = `${method.toUpperCase()} ${route} (${type || 'no type'}, ${payload?.length ?? 0} bytes)`;
          expect(res.status, context).toBeLessThan(500);
          if (res.status >= 400 && method !== 'head') expectProblem(res, context);
          expect(({} as Record<string, unknown>)['polluted'], 'Object.prototype polluted').toBeUndefined();
        }),
        { numRuns: RUNS },
      );
    });
  });

  describe('malformed or oversized trace headers', () => {
    const zeros = '0'.repeat(32);
    const cases: [string, Record<string, string>][] = [
      ['garbage traceparent', { traceparent: `${MARK}-not-a-traceparent` }],
      ['all-zero trace id', { traceparent: `00-${zeros}-00f067aa0ba902b7-01` }],
      ['version ff', { traceparent: 'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' }],
      ['upper-case hex', { traceparent: '00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01' }],
      ['trailing data on version 00', { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra' }],
      ['8 KiB traceparent', { traceparent: `00-${'a'.repeat(8 * 1024)}` }],
      ['8 KiB tracestate', { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', tracestate: `${MARK}=v,`.repeat(800) }],
      ['invalid tracestate keys', { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', tracestate: '=,,==,UPPER=x,a=b c,@@=1' }],
      ['12 KiB baggage', { baggage: `${MARK}=v,`.repeat(1500) }],
      ['baggage with broken escapes', { baggage: `k=%ZZ%,${MARK}=%ff%fe,=,;;;` }],
      ['12 KiB user-agent', { 'user-agent': MARK.repeat(1500) }],
      ['8 KiB host', { host: `${MARK}.${'a'.repeat(8 * 1024)}` }],
    ];

    it.each(cases)('%s: served or refused with a 4xx, span attributes and trace state bounded', async (_name, headers) => {
      let req = request(server).get('/roll?dice=1&sides=6');
      for (const [k, v] of Object.entries(headers)) req = req.set(k, v);
      const res = await req;
      if (res.status !== 200) expectProblem(res, _name);
      const spans = exported.spans.getFinishedSpans();
      const serverSpan = spans.find((s) => s.kind === SpanKind.SERVER);
      if (res.status === 200) expect(serverSpan, 'SERVER span').toBeDefined();
      if (headers['traceparent'] && !headers['traceparent'].startsWith('00-4bf92f')) {
        // An invalid traceparent starts a new trace; it is never adopted.
        expect(serverSpan?.parentSpanContext, 'parent of the SERVER span').toBeUndefined();
      }
      expect(longestAttribute(spans)).toBeLessThanOrEqual(ATTRIBUTE_LIMIT);
      for (const s of spans) expect(s.spanContext().traceState?.serialize().length ?? 0).toBeLessThanOrEqual(512);
    });

    it('a 15 KiB query string is a 400 problem+json, and url.query on the span is cut to the limit', async () => {
      // A value of a recorded parameter: kept in url.query (not redacted), so only the limit bounds it.
      const q = `dice=1&sides=${'6'.repeat(15 * 1024)}`;
      const res = await request(server).get(`/roll?${q}`);
      expectProblem(res, 'huge query');
      const serverSpan = exported.spans.getFinishedSpans().find((s) => s.kind === SpanKind.SERVER)!;
      expect(String(serverSpan.attributes['url.query']).length).toBeLessThanOrEqual(ATTRIBUTE_LIMIT);
      expect(longestAttribute(exported.spans.getFinishedSpans())).toBeLessThanOrEqual(ATTRIBUTE_LIMIT);
    });
  });

  describe('what supertest cannot send (raw sockets)', () => {
    const head = (requestLine: Buffer | string, headers = '') =>
      Buffer.concat([Buffer.from(requestLine as string), Buffer.from(`\r\nHost: localhost\r\n${headers}Connection: close\r\n\r\n`)]);
    const rawCases: [string, Buffer, number | 'ok'][] = [
      ['non-UTF-8 bytes in the path', head(Buffer.concat([Buffer.from('GET /roll'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('?dice=1&sides=6 HTTP/1.1')])), 400],
      ['non-UTF-8 bytes in the query', head(Buffer.concat([Buffer.from('GET /roll?dice='), Buffer.from([0xc3, 0x28, 0xa0]), Buffer.from('&sides=6 HTTP/1.1')])), 400],
      ['invalid UTF-8 percent-escapes in the path', head('GET /%ff%fe%c3%28 HTTP/1.1'), 400],
      ['non-UTF-8 bytes in a header value', head('GET /roll?dice=1&sides=6 HTTP/1.1', `X-${MARK}: ${Buffer.from([0xff, 0xfe, 0x80]).toString('latin1')}\r\n`), 'ok'],
      ['a control character in a header value', head('GET / HTTP/1.1', `X-${MARK}: a\u0001b\r\n`), 400],
      ['a NUL in the path', head('GET /ro\u0000ll HTTP/1.1'), 400],
      ['a head over 16 KiB (one header)', head('GET / HTTP/1.1', `X-${MARK}: ${'a'.repeat(17 * 1024)}\r\n`), 431],
      ['a request line over 16 KiB', head(`GET /roll?dice=1&sides=6&${MARK}=${'a'.repeat(17 * 1024)} HTTP/1.1`), 431],
      ['bytes that are not HTTP', Buffer.from(`\u0016\u0003\u0001${MARK}\r\n\r\n`), 400],
      ['an obsolete line folding', head('GET / HTTP/1.1', `X-${MARK}: a\r\n folded\r\n`), 400],
    ];

    it.each(rawCases)('%s', async (name, bytes, expected) => {
      const res = parseRaw(await raw(port, bytes));
      if (expected === 'ok') {
        expect(res.status, name).toBe(200);
      } else {
        expect(res.status, name).toBe(expected);
        expectProblem(res, name);
        expect(res.text, 'the input is never echoed').not.toContain(MARK);
      }
      expect(longestAttribute(exported.spans.getFinishedSpans())).toBeLessThanOrEqual(ATTRIBUTE_LIMIT);
      // Still serving.
      await request(server).get('/').expect(200);
    });
  });

  describe('telemetry hygiene', () => {
    it('a hostile path or parameter yields exactly one JSON access-log line, which cannot be split or forged', async () => {
      const traceId = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
      const forged = encodeURIComponent(`\r\n{"level":"error","message":"forged ${MARK}"}\n\u001b[31m\u2028`);
      const before = t.logLines().length;
      const res = await request(server)
        .get(`/roll${forged}/x?dice=1${forged}&sides=6&${forged}=${forged}`)
        .set('traceparent', `00-${traceId}-00f067aa0ba902b7-01`);
      expectProblem(res, 'hostile path');
      // logLines() parses every stdout line as JSON: a split or forged line would throw here.
      const lines = t.logLines().slice(before);
      const access = lines.filter((l) => l['context'] === 'AccessLog' && l['trace_id'] === traceId);
      expect(access).toHaveLength(1);
      expect(access[0]).toMatchObject({ 'http.route': 'unmatched', 'http.response.status_code': 404 });
      expect(lines.filter((l) => JSON.stringify(l).includes('forged'))).toEqual([]);
    });

    it('no secret a client sends reaches a log line, a span or a metric; label values come from bounded sets', async () => {
      const traceId = '0f1e2d3c4b5a69788796a5b4c3d2e1f0';
      for (const path of [`/roll?dice=2&sides=6&token=${SECRETS[1]}`, `/roll?token=${SECRETS[1]}&dice=2&sides=6`, `/?access_token=${SECRETS[1]}`, `/${MARK}?${SECRETS[1]}`]) {
        await request(server)
          .get(path)
          .set('authorization', `Bearer ${SECRETS[0]}`)
          .set('cookie', `session=${SECRETS[2]}`)
          .set('x-api-key', SECRETS[3]!)
          .set('traceparent', `00-${traceId}-00f067aa0ba902b7-01`);
      }
      // Hostile traffic meant to widen label sets: methods, hosts, routes, agents.
      for (let i = 0; i < 50; i++) {
        await request(server)[i % 2 ? 'get' : 'delete'](`/${MARK}-${i}?${MARK}=${i}`).set('host', `${MARK}-${i}.example`).set('user-agent', `${MARK}-${i}`);
        await request(server).get(`/roll?dice=${i}&sides=${MARK}`).set('x-forwarded-host', `${MARK}-${i}`);
      }
      const spans = exported.spans.getFinishedSpans();
      expect(spans.some((s) => s.spanContext().traceId === traceId)).toBe(true);
      const serverSpan = spans.find((s) => s.spanContext().traceId === traceId && s.kind === SpanKind.SERVER)!;
      expect(serverSpan.attributes['url.query']).toBe('dice=2&sides=6&token=REDACTED');
      const logs = JSON.stringify(exported.logs.getFinishedLogRecords().map((r) => ({ body: r.body, attributes: r.attributes })));
      const stdout = JSON.stringify(t.logLines());
      const metrics = (await request(server).get('/metrics').expect(200)).text;
      for (const secret of SECRETS) {
        expect(everything(spans), `${secret} in a span`).not.toContain(secret);
        expect(logs, `${secret} in an OTLP log record`).not.toContain(secret);
        expect(stdout, `${secret} in a stdout log line`).not.toContain(secret);
        expect(metrics, `${secret} in /metrics`).not.toContain(secret);
      }
      expect(stdout, 'hostile input in a log line').not.toContain(MARK);

      // Every label value of every series: never user input, and from small fixed sets for HTTP.
      const series = metrics.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
      const labels = series.flatMap((l) => [...(/\{(.*)\}/.exec(l)?.[1] ?? '').matchAll(/([a-z_]+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1]!, m[2]!] as const));
      expect(labels.filter(([, v]) => v.toLowerCase().includes(MARK)), 'hostile input in a label value').toEqual([]);
      const allowed: Record<string, RegExp> = {
        http_request_method: /^(GET|HEAD|POST|PUT|DELETE|PATCH|OPTIONS|CONNECT|TRACE|_OTHER)$/,
        url_scheme: /^https?$/,
        network_protocol_version: /^(1\.0|1\.1|2)$/,
        http_response_status_code: /^[1-5]\d\d$/,
        error_type: /^([1-5]\d\d|_OTHER|[A-Z][A-Za-z]*)$/,
        http_route: /^\/[a-z/.*]*$/,
      };
      for (const [name, value] of labels) if (allowed[name]) expect(value, `label ${name}`).toMatch(allowed[name]!);
      const routes = new Set(labels.filter(([k]) => k === 'http_route').map(([, v]) => v));
      expect(routes.size, `http_route values: ${[...routes].join(' ')}`).toBeLessThanOrEqual(10);
    });
  });
});
