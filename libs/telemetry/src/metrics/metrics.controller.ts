import { Controller, Get, Req, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { getTelemetry } from '../sdk/telemetry.sdk.js';

interface AdapterRequest {
  raw?: IncomingMessage;
}
interface AdapterReply {
  raw?: ServerResponse;
  hijack?: () => void;
}

/**
 * GET /metrics on the app's own port, as in the reference architecture: the Prometheus exporter's
 * request handler writes the exposition straight to the socket (Fastify's reply is hijacked).
 */
@ApiTags('operations')
@Controller('metrics')
export class MetricsController {
  @Get()
  @ApiOperation({ summary: 'Prometheus exposition of this replica (OpenTelemetry metrics)' })
  @ApiProduces('text/plain')
  @ApiOkResponse({ description: 'Prometheus text format 0.0.4' })
  scrape(@Req() request: AdapterRequest & IncomingMessage, @Res() reply: AdapterReply & ServerResponse): void {
    reply.hijack?.();
    getTelemetry().prometheus.getMetricsRequestHandler(request.raw ?? request, reply.raw ?? reply);
  }
}
