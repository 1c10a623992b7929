import autocannon from 'autocannon';

export interface Load {
  /** Stops the load and resolves with what it sent. */
  stop(): Promise<{ requests: number; non2xx: number; errors: number }>;
}

/**
 * A steady load at `rate` requests per second to `paths` (taken in turn), from this process, until
 * stopped or `maxSeconds` pass (bounded, so a failing test cannot leave load running).
 */
export function steadyLoad(baseUrl: string, paths: string[], rate: number, maxSeconds = 600): Load {
  let next = 0;
  let finish: (result: autocannon.Result) => void = () => {};
  const done = new Promise<autocannon.Result>((resolve) => (finish = resolve));
  const instance = autocannon(
    {
    url: baseUrl,
    connections: Math.max(2, Math.min(50, Math.ceil(rate / 10))),
    overallRate: rate,
    duration: maxSeconds,
    requests: [{ setupRequest: (request) => ({ ...request, path: paths[next++ % paths.length]! }) }],
    },
    (error, result) => {
      if (error) throw error;
      finish(result);
    },
  );
  return {
    stop: async () => {
      instance.stop();
      const result = await done;
      return { requests: result.requests.total, non2xx: result.non2xx, errors: result.errors };
    },
  };
}
