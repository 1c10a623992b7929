import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** Problem types this API defines (RFC 9457 `type`); anything else is `about:blank`. */
export const ProblemType = {
  invalidParameters: '/problems/invalid-parameters',
  injectedFault: '/problems/injected-fault',
} as const;

export class InvalidParam {
  @ApiProperty({ example: 'sides' })
  name!: string;

  @ApiProperty({ example: 'must be one of 4, 6, 8, 10, 12, 20, 100' })
  reason!: string;
}

/** RFC 9457 problem details, as every error of this API is returned. */
export class ProblemDetails {
  @ApiProperty({ example: ProblemType.invalidParameters, description: 'URI reference naming the problem type' })
  type!: string;

  @ApiProperty({ example: 'Invalid query parameters' })
  title!: string;

  @ApiProperty({ example: 400 })
  status!: number;

  @ApiPropertyOptional({ example: 'sides must be one of 4, 6, 8, 10, 12, 20, 100' })
  detail?: string;

  @ApiPropertyOptional({ example: '/roll', description: 'The request path (without its query string)' })
  instance?: string;

  @ApiPropertyOptional({ type: [InvalidParam], name: 'invalid-params' })
  'invalid-params'?: InvalidParam[];

  @ApiPropertyOptional({ description: 'Health checks and their state, on a failed /health probe', type: 'object', additionalProperties: true })
  checks?: Record<string, unknown>;

  @ApiPropertyOptional({
    example: '4bf92f3577b34da6a3ce929d0e0e4736',
    description: 'Trace of this request: quote it when reporting a problem',
  })
  trace_id?: string;
}
