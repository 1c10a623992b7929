/**
 * Polls `probe` until it returns a value (not undefined) or the time runs out; then fails
 * naming what was awaited and the last thing seen, so a red test says what is missing.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  { timeoutMs = 60_000, intervalMs = 500 } = {},
): Promise<{ value: T; afterMs: number }> {
  const started = Date.now();
  let last: unknown = 'nothing yet';
  while (Date.now() - started < timeoutMs) {
    try {
      const value = await probe();
      if (value !== undefined) return { value, afterMs: Date.now() - started };
      last = 'no match yet';
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}; last: ${String(last).slice(0, 500)}`);
}

export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

export async function promQuery(prometheus: string, query: string): Promise<PromSample[]> {
  const res = await fetch(`${prometheus}/api/v1/query?${new URLSearchParams({ query })}`);
  const body = (await res.json()) as { status: string; error?: string; data: { result: PromSample[] } };
  if (body.status !== 'success') throw new Error(`Prometheus refused ${query}: ${body.error}`);
  return body.data.result;
}

export async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url}: ${res.status} ${(await res.text()).slice(0, 200)}`);
  return (await res.json()) as T;
}

export const randomTraceId = () => crypto.randomUUID().replaceAll('-', '');
export const traceparent = (traceId: string) => `00-${traceId}-${crypto.randomUUID().replaceAll('-', '').slice(0, 16)}-01`;
