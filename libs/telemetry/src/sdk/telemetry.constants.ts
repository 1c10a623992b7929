/**
 * Bucket boundaries of http.server.request.duration, in seconds. The latency SLO threshold must be
 * one of them (observability/slo) so that "requests faster than T" is an exact bucket, not an
 * interpolation.
 */
export const HTTP_DURATION_BUCKETS_SECONDS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
] as const;

/** Routes that are polled by machines (scrapes, probes): neither traced nor access-logged at info. */
export const UNOBSERVED_PATHS: ReadonlySet<string> = new Set(['/metrics', '/health/live', '/health/ready']);
