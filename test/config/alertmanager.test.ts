import { describe, expect, it } from 'vitest';
import { binary, run } from './support/tools.ts';

const CONFIG = 'observability/alertmanager/alertmanager.yml';

describe('Alertmanager config (amtool at the pinned version)', () => {
  it('amtool check-config accepts it', () => {
    const result = run(binary('amtool'), ['check-config', CONFIG]);
    expect(result.status, result.output).toBe(0);
    expect(result.output).toContain('SUCCESS');
  });

  // Each alert as Prometheus labels it, and the receiver it must reach.
  it.each([
    [['alertname=DiceApiAvailabilityBudgetBurn', 'severity=page', 'slo=availability', 'service=dice-api'], 'page'],
    [['alertname=DiceApiAvailabilityBudgetBurn', 'severity=ticket', 'slo=availability', 'service=dice-api'], 'ticket'],
    [['alertname=DiceApiLatencyBudgetBurn', 'severity=page', 'slo=latency', 'service=dice-api'], 'page'],
    [['alertname=DiceApiAvailabilitySLIAbsent', 'severity=page', 'slo=availability', 'service=dice-api'], 'page'],
    [['alertname=DiceApiLatencySLIAbsent', 'severity=ticket', 'slo=latency', 'service=dice-api'], 'ticket'],
    [['alertname=DiceApiReplicaDown', 'severity=ticket', 'service=dice-api', 'server=dice-api-1'], 'ticket'],
    [['alertname=DiceBiased', 'severity=ticket', 'service=dice-api', 'dice_sides=6'], 'ticket'],
    [['alertname=TelemetryExportBacklog', 'severity=ticket', 'service=otel-collector'], 'ticket'],
    // An alert someone adds without a severity still reaches a person, as a ticket.
    [['alertname=SomethingNew'], 'ticket'],
  ])('routes %j to %s', (labels, receiver) => {
    const result = run(binary('amtool'), ['config', 'routes', 'test', `--config.file=${CONFIG}`, ...labels]);
    expect(result.status, result.output).toBe(0);
    expect(result.output.trim()).toBe(receiver);
  });

  it('the routing tree sends pages and tickets to different receivers', () => {
    const result = run(binary('amtool'), ['config', 'routes', 'show', `--config.file=${CONFIG}`]);
    expect(result.output).toMatch(/severity="page".*page/);
    expect(result.output).toMatch(/severity="ticket".*ticket/);
  });
});
