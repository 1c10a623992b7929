import { HttpException, HttpStatus } from '@nestjs/common';
import { ProblemType, type InvalidParam } from './problem-details.js';

/** 400 naming each wrong parameter and what is allowed. */
export class InvalidParamsException extends HttpException {
  constructor(
    readonly invalidParams: InvalidParam[],
    readonly title = 'Invalid query parameters',
  ) {
    super(invalidParams.map((p) => `${p.name} ${p.reason}`).join('; '), HttpStatus.BAD_REQUEST);
  }
  readonly problemType = ProblemType.invalidParameters;
}

/** A 500 produced on purpose by the fault-injection drill, never by a bug. */
export class InjectedFaultException extends HttpException {
  constructor() {
    super('Injected fault: the fault-injection drill is failing this request on purpose', HttpStatus.INTERNAL_SERVER_ERROR);
  }
  readonly problemType = ProblemType.injectedFault;
}
