import { Controller, Get, Header, Query, UseInterceptors } from '@nestjs/common';
import { ApiExtraModels, ApiOkResponse, ApiOperation, ApiProperty, ApiQuery, ApiResponse, ApiTags, getSchemaPath } from '@nestjs/swagger';
import { FaultInjectionInterceptor } from '../chaos/fault-injection.interceptor.js';
import { PROBLEM_CONTENT_TYPE, ProblemDetails } from '../problem/problem-details.js';
import { DiceService } from './dice.service.js';
import { ALLOWED_SIDES, DICE_MAX, DICE_MIN, parseRollQuery } from './roll-query.js';

class RollResponse {
  @ApiProperty({ example: 3 }) dice!: number;
  @ApiProperty({ example: 6, enum: ALLOWED_SIDES }) sides!: number;
  @ApiProperty({ example: [2, 6, 3], type: [Number] }) rolls!: number[];
  @ApiProperty({ example: 11 }) total!: number;
}

const problem = (status: number, description: string) =>
  ApiResponse({ status, description, content: { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: getSchemaPath(ProblemDetails) } } } });

@ApiTags('dice')
@ApiExtraModels(ProblemDetails)
@UseInterceptors(FaultInjectionInterceptor)
@problem(500, 'Unexpected failure, or a failure injected by a drill (type /problems/injected-fault)')
@Controller()
export class DiceController {
  constructor(private readonly dice: DiceService) {}

  @Get()
  @Header('content-type', 'text/plain; charset=utf-8')
  @ApiOperation({ summary: 'Roll one six-sided die (the reference architecture\'s app)' })
  @ApiOkResponse({ description: 'A number from 1 to 6', content: { 'text/plain': { schema: { type: 'string', example: '4' } } } })
  rollOne(): string {
    return String(this.dice.rollOne());
  }

  @Get('roll')
  @ApiOperation({ summary: 'Roll several dice of one kind' })
  @ApiQuery({ name: 'dice', required: true, schema: { type: 'integer', minimum: DICE_MIN, maximum: DICE_MAX }, description: 'How many dice' })
  @ApiQuery({ name: 'sides', required: true, schema: { type: 'integer', enum: [...ALLOWED_SIDES] }, description: 'Sides of each die' })
  @ApiOkResponse({ type: RollResponse })
  @problem(400, 'A parameter is missing, repeated, unknown, not a whole number or out of range; `invalid-params` names each')
  roll(@Query() query: Record<string, unknown>): RollResponse {
    return this.dice.roll(parseRollQuery(query));
  }
}
