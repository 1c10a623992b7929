import { subscribe } from 'node:diagnostics_channel';
import { context } from '@opentelemetry/api';
import { getRPCMetadata, RPCType } from '@opentelemetry/core';
import type { FastifyInstance } from 'fastify';

/**
 * Gives the HTTP instrumentation's SERVER span and http.server.request.duration their http.route:
 * every Fastify instance, as it is created (Fastify's `fastify.initialization` diagnostics channel,
 * so no ESM loader hook and no change to the app), gets an onRequest hook that writes the matched
 * route template into the request's RPC metadata, which instrumentation-http reads when the
 * response ends. It is the mechanism @fastify/otel 0.21 uses (its startRequestSpanHook), without its
 * `request` and `handler` spans, which repeated what the SERVER span says. Unknown routes have no
 * template, so they get no http.route and add no series.
 */
export function recordFastifyRoutes(): void {
  subscribe('fastify.initialization', (message) => {
    const { fastify } = message as { fastify: FastifyInstance };
    fastify.addHook('onRequest', (request, _reply, done) => {
      const route = request.routeOptions.url;
      if (route !== undefined) {
        const metadata = getRPCMetadata(context.active());
        if (metadata?.type === RPCType.HTTP) metadata.route = route;
      }
      done();
    });
  });
}
