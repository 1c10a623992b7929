import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { LifecycleState } from './lifecycle.state.js';

/**
 * Liveness: the process serves HTTP (a failed probe means restart it).
 * Readiness: it should receive traffic; false while draining after SIGTERM.
 * Failures are answered 503 problem+json (ProblemFilter) with the checks under `checks`.
 */
@ApiTags('operations')
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly lifecycle: LifecycleState,
  ) {}

  @Get('live')
  @HealthCheck()
  @ApiOperation({ summary: 'Liveness probe' })
  live() {
    return this.health.check([() => this.indicators.check('process').up({ pid: process.pid })]);
  }

  @Get('ready')
  @HealthCheck()
  @ApiOperation({ summary: 'Readiness probe: 503 while the replica drains before shutdown' })
  ready() {
    return this.health.check([
      () => {
        const check = this.indicators.check('lifecycle');
        return this.lifecycle.isDraining ? check.down({ state: 'draining' }) : check.up({ state: 'serving' });
      },
    ]);
  }
}
