import SwaggerParser from '@apidevtools/swagger-parser';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALLOWED_SIDES } from '../src/dice/roll-query.js';
import { ScriptedRandom, startTestApp, type TestApp } from './support/test-app.js';

const PROBLEM = /^application\/problem\+json(;|$)/;

describe('dice API contract', () => {
  let t: TestApp;
  let server: Parameters<typeof request>[0];

  beforeAll(async () => {
    t = await startTestApp();
    server = t.app.getHttpServer();
  });
  afterAll(() => t.close());

  it('GET / returns one roll from 1 to 6, and every face shows up', async () => {
    const seen = new Set<number>();
    for (let i = 0; i < 300; i++) {
      const res = await request(server).get('/').expect(200);
      expect(res.headers['content-type']).toMatch(/^text\/plain/);
      const face = Number(res.text);
      expect(Number.isInteger(face)).toBe(true);
      expect(face).toBeGreaterThanOrEqual(1);
      expect(face).toBeLessThanOrEqual(6);
      seen.add(face);
    }
    // 300 fair rolls all missing one face: probability 6 * (5/6)^300, about 1e-23.
    expect([...seen].sort()).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it.each(ALLOWED_SIDES)('GET /roll totals the rolls of %i-sided dice, each in range', async (sides) => {
    const res = await request(server).get(`/roll?dice=25&sides=${sides}`).expect(200);
    expect(res.body.dice).toBe(25);
    expect(res.body.sides).toBe(sides);
    expect(res.body.rolls).toHaveLength(25);
    for (const face of res.body.rolls) expect(face >= 1 && face <= sides).toBe(true);
    expect(res.body.total).toBe(res.body.rolls.reduce((a: number, b: number) => a + b, 0));
  });

  it('accepts the bounds of dice', async () => {
    await request(server).get('/roll?dice=1&sides=4').expect(200);
    const res = await request(server).get('/roll?dice=100&sides=100').expect(200);
    expect(res.body.rolls).toHaveLength(100);
  });

  const badInput: [string, string, RegExp][] = [
    ['missing dice', '/roll?sides=6', /required/],
    ['missing sides', '/roll?dice=2', /required/],
    ['non-numeric dice', '/roll?dice=two&sides=6', /not a whole number/],
    ['fractional dice', '/roll?dice=1.5&sides=6', /not a whole number/],
    ['negative dice', '/roll?dice=-1&sides=6', /not a whole number/],
    ['empty dice', '/roll?dice=&sides=6', /not a whole number/],
    ['zero dice', '/roll?dice=0&sides=6', /from 1 to 100/],
    ['too many dice', '/roll?dice=101&sides=6', /from 1 to 100/],
    ['huge dice', '/roll?dice=99999999999999999999&sides=6', /from 1 to 100/],
    ['sides not allowed', '/roll?dice=1&sides=7', /one of 4, 6, 8, 10, 12, 20, 100/],
    ['repeated sides', '/roll?dice=1&sides=6&sides=8', /given 2 times/],
    ['repeated dice', '/roll?dice=1&dice=2&sides=6', /given 2 times/],
  ];

  it.each(badInput)('%s is a 400 problem naming the parameter', async (_case, url, reason) => {
    const res = await request(server).get(url).expect(400);
    expect(res.headers['content-type']).toMatch(PROBLEM);
    expect(res.body).toMatchObject({ type: '/problems/invalid-parameters', status: 400, instance: '/roll' });
    const param = url.includes('sides=7') || url.includes('sides=6&sides') || url.endsWith('dice=2') ? 'sides' : 'dice';
    const named = res.body['invalid-params'].find((p: { name: string }) => p.name === param);
    expect(named, JSON.stringify(res.body)).toBeDefined();
    expect(named.reason).toMatch(reason);
  });

  it('an unknown parameter is a 400 naming it and listing the allowed ones', async () => {
    const res = await request(server).get('/roll?dice=1&sides=6&colour=red').expect(400);
    expect(res.headers['content-type']).toMatch(PROBLEM);
    expect(res.body['invalid-params']).toEqual([{ name: 'colour', reason: 'is not a parameter of /roll; allowed: dice, sides' }]);
  });

  it('reports every wrong parameter at once', async () => {
    const res = await request(server).get('/roll?dice=0&sides=3').expect(400);
    expect(res.body['invalid-params'].map((p: { name: string }) => p.name)).toEqual(['dice', 'sides']);
  });

  it('an unknown route is a 404 problem', async () => {
    const res = await request(server).get('/no/such/route?x=1').expect(404);
    expect(res.headers['content-type']).toMatch(PROBLEM);
    expect(res.body).toMatchObject({ type: 'about:blank', title: 'Not Found', status: 404, instance: '/no/such/route' });
  });

  it('an unsupported method on a known path is a 404 problem, not a 500', async () => {
    const res = await request(server).post('/roll?dice=1&sides=6').expect(404);
    expect(res.headers['content-type']).toMatch(PROBLEM);
  });

  it('does not serve the fault-injection admin API on the public port', async () => {
    await request(server).get('/faults').expect(404);
    await request(server).put('/faults').send({ errorRatio: 1 }).expect(404);
  });

  it('liveness and readiness are up while serving', async () => {
    const live = await request(server).get('/health/live').expect(200);
    expect(live.body.status).toBe('ok');
    const ready = await request(server).get('/health/ready').expect(200);
    expect(ready.body.details.lifecycle).toEqual({ status: 'up', state: 'serving' });
  });

  it('serves a valid OpenAPI document that lists the error responses', async () => {
    const res = await request(server).get('/openapi.json').expect(200);
    const doc = res.body;
    await SwaggerParser.validate(structuredClone(doc));
    const roll = doc.paths['/roll'].get;
    expect(Object.keys(roll.responses).sort()).toEqual(['200', '400', '500']);
    expect(roll.responses['400'].content).toHaveProperty(['application/problem+json']);
    expect(roll.parameters.map((p: { name: string }) => p.name).sort()).toEqual(['dice', 'sides']);
    expect(doc.components.schemas.ProblemDetails.required).toEqual(expect.arrayContaining(['type', 'title', 'status']));
    expect(doc.paths).not.toHaveProperty('/faults');
  });

  it('serves the docs page', async () => {
    const res = await request(server).get('/docs').redirects(1).expect(200);
    expect(res.text).toContain('swagger-ui');
  });
});

describe('dice API with a scripted die', () => {
  let t: TestApp;
  beforeAll(async () => {
    // RandomSource.int(1, sides + 1) is the face: 3, 1, 6, ...
    t = await startTestApp({ random: new ScriptedRandom([3, 1, 6, 2]) });
  });
  afterAll(() => t.close());

  it('returns exactly the faces the random source gives', async () => {
    const res = await request(t.app.getHttpServer()).get('/roll?dice=4&sides=6').expect(200);
    expect(res.body).toEqual({ dice: 4, sides: 6, rolls: [3, 1, 6, 2], total: 12 });
  });
});
