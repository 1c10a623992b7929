import type { INestApplication } from '@nestjs/common';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { hasDestination, UNOBSERVED_PATHS } from '@app/telemetry';
import type { FastifyError, FastifyReply } from 'fastify';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger as WinstonLogger } from 'winston';
import { PROBLEM_CONTENT_TYPE, type ProblemDetails } from './problem/problem-details.js';
import { ProblemFilter } from './problem/problem.filter.js';

/** The API contract's version (the build's version is the service.version resource attribute). */
const API_VERSION = '1';

/**
 * The Fastify adapter both servers use. Limits are tight because no route takes a body larger
 * than a few fields; Fastify's own errors (bad URL encoding, oversized body) become problem+json.
 */
export function createFastifyAdapter(): FastifyAdapter {
  return new FastifyAdapter({
    bodyLimit: 16 * 1024,
    // Longer than the load balancer's idle timeout, so the balancer closes idle connections first.
    keepAliveTimeout: 75_000,
    requestTimeout: 30_000,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    frameworkErrors: (error: FastifyError, _request: unknown, reply: FastifyReply) => {
      const problem: ProblemDetails = { type: 'about:blank', title: 'Malformed request', status: 400, detail: error.message };
      void reply.code(400).header('content-type', PROBLEM_CONTENT_TYPE).send(JSON.stringify(problem));
    },
    clientErrorHandler: answerUnparsableRequest,
  });
}

/**
 * What Node's HTTP parser refuses before Fastify sees a request (bytes that are not HTTP, control
 * characters or raw non-ASCII in the request line, headers over Node's 16 KiB limit) is answered
 * problem+json too, instead of Fastify's default `application/json` body. Like that default, it
 * never echoes the input and closes the connection, which cannot be parsed any further.
 */
function answerUnparsableRequest(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, detail] =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'The request line and headers exceed the size this server accepts (16 KiB)']
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'The request did not arrive in time']
        : [400, 'The request is not valid HTTP/1.1'];
  const title = STATUS_CODES[status] ?? 'Bad Request';
  const body = JSON.stringify({ type: 'about:blank', title, status, detail } satisfies ProblemDetails);
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${title}\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}

/** Everything the public app needs beyond its modules; main.ts and the tests both call it. */
export function configurePublicApp(app: NestFastifyApplication, accessLog: WinstonLogger): INestApplication {
  app.useGlobalFilters(new ProblemFilter());

  // One access-log record per request, including 404s and errors that never reach a controller.
  // It runs inside the request's context, so the winston instrumentation adds trace_id/span_id.
  // With neither stdout (ACCESS_LOG_STDOUT=false) nor the OTLP log path, there is none to write.
  if (hasDestination(accessLog)) {
    app
      .getHttpAdapter()
      .getInstance()
      .addHook('onResponse', (request, reply, done) => {
        const path = request.url.split('?', 1)[0] ?? '';
        accessLog.log(UNOBSERVED_PATHS.has(path) ? 'debug' : 'info', 'request', {
          context: 'AccessLog',
          'http.request.method': request.method,
          'http.route': request.routeOptions.url ?? 'unmatched',
          'http.response.status_code': reply.statusCode,
          'http.server.request.duration': Number((reply.elapsedTime / 1000).toFixed(6)),
        });
        done();
      });
  }

  const openApi = new DocumentBuilder()
    .setTitle('Dice API')
    .setDescription(
      'Rolls dice, and is observed: every request yields a trace, metrics and logs sharing one trace ID. ' +
        `Every error is RFC 9457 ${PROBLEM_CONTENT_TYPE}.`,
    )
    .setVersion(API_VERSION)
    .build();
  SwaggerModule.setup('docs', app, () => SwaggerModule.createDocument(app, openApi), {
    jsonDocumentUrl: 'openapi.json',
    yamlDocumentUrl: 'openapi.yaml',
  });
  return app;
}

/** The admin server: fault injection only, problem+json errors, no docs. */
export function configureAdminApp(app: NestFastifyApplication): INestApplication {
  app.useGlobalFilters(new ProblemFilter());
  return app;
}
