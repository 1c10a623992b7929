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

/**
 * The only query parameters whose values traces keep (the SERVER span's url.query): the API's own,
 * never secret. Any other value, e.g. a token a client put in a URL, is recorded as REDACTED.
 */
export const RECORDED_QUERY_PARAMS: ReadonlySet<string> = new Set(['dice', 'sides']);

/**
 * Longest span attribute value kept, unless OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT or
 * OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT says otherwise. User input reaches span attributes (url.path,
 * url.query, user_agent.original, server.address from the Host header); Node lets a request head
 * reach 16 KiB, and each span would carry all of it. 2048 is what Tempo keeps by default
 * (max_attribute_bytes).
 */
export const SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT = 2048;
