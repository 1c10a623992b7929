import { Module, type DynamicModule } from '@nestjs/common';
import { ChaosController } from '../chaos/chaos.controller.js';
import { FaultInjector } from '../chaos/fault-injector.js';

/**
 * The admin server's module: only the fault-injection API, bound to the public app's own
 * FaultInjector so that a change made here applies to the traffic served there.
 */
@Module({})
export class AdminModule {
  static forInjector(faults: FaultInjector): DynamicModule {
    return {
      module: AdminModule,
      controllers: [ChaosController],
      providers: [{ provide: FaultInjector, useValue: faults }],
    };
  }
}
