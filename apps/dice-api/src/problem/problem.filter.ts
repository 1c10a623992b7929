import { ArgumentsHost, Catch, HttpException, HttpStatus, Logger, type ExceptionFilter } from '@nestjs/common';
import { isSpanContextValid, trace } from '@opentelemetry/api';
import { STATUS_CODES } from 'node:http';
import { PROBLEM_CONTENT_TYPE, type ProblemDetails } from './problem-details.js';
import { InjectedFaultException, InvalidParamsException } from './problem.exception.js';

interface RawReply {
  status(code: number): RawReply;
  header(name: string, value: string): RawReply;
  send(body: string): void;
}

/**
 * Every error leaves as RFC 9457 problem+json: bad input, unknown routes (Nest's not-found handler
 * goes through filters too), health checks that fail, and anything unexpected. Unexpected errors
 * become a 500 whose body says nothing about internals; the span records the exception.
 */
@Catch()
export class ProblemFilter implements ExceptionFilter {
  private readonly logger = new Logger('ProblemFilter');

  catch(exception: unknown, host: ArgumentsHost) {
    const http = host.switchToHttp();
    const request = http.getRequest<{ url?: string; originalUrl?: string }>();
    const reply = http.getResponse<RawReply>();
    const problem = toProblem(exception, pathOf(request.originalUrl ?? request.url));

    const span = trace.getActiveSpan();
    if (span && isSpanContextValid(span.spanContext())) {
      problem.trace_id = span.spanContext().traceId;
      if (problem.status >= 500) span.recordException(exception instanceof Error ? exception : new Error(String(exception)));
    }
    if (problem.status >= 500 && !problem.checks) {
      const error = exception instanceof Error ? exception : new Error(String(exception));
      this.logger.error(
        { message: `${problem.title}: ${error.message}`, status: problem.status, 'error.type': errorType(exception) },
        exception instanceof InjectedFaultException ? undefined : error.stack,
      );
    }
    reply.status(problem.status).header('content-type', PROBLEM_CONTENT_TYPE).send(JSON.stringify(problem));
  }
}

export function toProblem(exception: unknown, instance: string): ProblemDetails {
  if (exception instanceof InvalidParamsException) {
    return {
      type: exception.problemType,
      title: exception.title,
      status: exception.getStatus(),
      detail: exception.message,
      instance,
      'invalid-params': exception.invalidParams,
    };
  }
  if (exception instanceof InjectedFaultException) {
    return { type: exception.problemType, title: 'Injected fault', status: exception.getStatus(), detail: exception.message, instance };
  }
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    const title = STATUS_CODES[status] ?? 'Error';
    // Server errors never echo their message: it may carry internals.
    const detail = status === HttpStatus.NOT_FOUND ? NOT_FOUND_DETAIL : status < 500 ? detailOf(exception) : undefined;
    const checks = healthChecksOf(exception);
    return {
      type: 'about:blank',
      title,
      status,
      ...(checks ? { detail: 'A health check is down', checks } : detail ? { detail } : {}),
      instance,
    };
  }
  return {
    type: 'about:blank',
    title: STATUS_CODES[HttpStatus.INTERNAL_SERVER_ERROR]!,
    status: HttpStatus.INTERNAL_SERVER_ERROR,
    instance,
  };
}

// Nest's own not-found message repeats the requested URL; `instance` already names the path.
const NOT_FOUND_DETAIL = 'No route matches this path; GET /docs lists the routes this API serves';

/** The error.type attribute of semantic conventions: an exception class name or a status code. */
export function errorType(exception: unknown): string {
  if (exception instanceof Error) return exception.constructor.name;
  return '_OTHER';
}

// @nestjs/terminus throws a 503 whose response is the health check result.
function healthChecksOf(exception: HttpException): Record<string, unknown> | undefined {
  const response = exception.getResponse() as { details?: Record<string, unknown> };
  return typeof response === 'object' && response?.details ? response.details : undefined;
}

function detailOf(exception: HttpException): string | undefined {
  const response = exception.getResponse();
  if (typeof response === 'string') return response;
  const message = (response as { message?: unknown }).message;
  if (typeof message === 'string') return message;
  if (Array.isArray(message)) return message.join('; ');
  return undefined;
}

function pathOf(url: string | undefined): string {
  if (!url) return '/';
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}
