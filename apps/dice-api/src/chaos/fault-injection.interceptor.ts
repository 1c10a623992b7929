import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { from, switchMap, type Observable } from 'rxjs';
import { InjectedFaultException } from '../problem/problem.exception.js';
import { FaultInjector } from './fault-injector.js';

/** Applies the drill's latency and error ratio to the routes it decorates (the dice routes). */
@Injectable()
export class FaultInjectionInterceptor implements NestInterceptor {
  constructor(private readonly faults: FaultInjector) {}

  intercept(_context: ExecutionContext, next: CallHandler): Observable<unknown> {
    return from(this.faults.delay()).pipe(
      switchMap(() => {
        if (this.faults.shouldFail()) throw new InjectedFaultException();
        return next.handle();
      }),
    );
  }
}
