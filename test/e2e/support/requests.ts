import { expect } from 'vitest';
import { randomTraceId, traceparent } from './poll.ts';
import type { Targets } from './targets.ts';

/** A request sent through the load balancer with a known trace ID. */
export interface Sent {
  traceId: string;
  path: string;
  status: number;
  at: number;
}

/** Sends `path` through the load balancer under a fresh trace ID and checks its status. */
export async function sendTraced(targets: Targets, path: string, expected: number): Promise<Sent> {
  const traceId = randomTraceId();
  const res = await fetch(`${targets.loadBalancer}${path}`, { headers: { traceparent: traceparent(traceId) } });
  expect(res.status, `${path} through the load balancer`).toBe(expected);
  return { traceId, path, status: res.status, at: Date.now() };
}

/** Changes the fault injection of every replica (admin API), as a drill does. */
export async function setFaults(targets: Targets, body: Record<string, number>): Promise<void> {
  for (const admin of targets.admins) {
    const res = await fetch(`${admin}/faults`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(res.status, `PUT ${admin}/faults ${JSON.stringify(body)}`).toBe(200);
  }
}
