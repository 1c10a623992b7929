import { Body, Controller, Delete, Get, HttpCode, Put } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import { FaultInjector } from './fault-injector.js';
import { parseFaultUpdate, type FaultSettings } from './fault-settings.js';

/** The admin API. Mounted only on the admin server (ADMIN_HOST:ADMIN_PORT), never on the public port. */
@ApiTags('fault injection (admin port only)')
@Controller('faults')
export class ChaosController {
  constructor(private readonly faults: FaultInjector) {}

  @Get()
  @ApiOperation({ summary: 'Current fault-injection settings' })
  current(): Readonly<FaultSettings> {
    return this.faults.current();
  }

  @Put()
  @ApiOperation({ summary: 'Change some settings; the others keep their value' })
  @ApiBody({ schema: { example: { errorRatio: 0.5, latencyMs: 200, jitterMs: 50, bias: 0 } } })
  update(@Body() body: unknown): Readonly<FaultSettings> {
    return this.faults.update(parseFaultUpdate(body), 'admin-api');
  }

  @Delete()
  @HttpCode(200)
  @ApiOperation({ summary: 'Turn every fault off' })
  reset(): Readonly<FaultSettings> {
    return this.faults.reset('admin-api');
  }
}
