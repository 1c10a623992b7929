import { ValueType, type Counter, type Histogram, type Meter } from '@opentelemetry/api';

/** The drill settings, as the fault injector reports them. */
export interface FaultState {
  errorRatio: number;
  latencyMs: number;
  jitterMs: number;
  bias: number;
}

/**
 * The dice service's own instruments. Attributes are bounded by construction: `dice.sides` comes
 * from an allow-list and `dice.face` is at most the number of sides, so at most 160 series.
 */
export class DiceInstruments {
  private readonly rolls: Counter;
  private readonly totals: Histogram;
  private readonly dicePerRequest: Histogram;

  constructor(private readonly meter: Meter) {
    this.rolls = meter.createCounter('dice.rolls', {
      description: 'Dice rolled, by sides and face shown: the input of the fairness check',
      unit: '{die}',
      valueType: ValueType.INT,
    });
    this.totals = meter.createHistogram('dice.roll.total', {
      description: 'Sum of the faces of one /roll request',
      unit: '{pip}',
      valueType: ValueType.INT,
      advice: { explicitBucketBoundaries: [1, 2, 4, 6, 8, 10, 12, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000] },
    });
    this.dicePerRequest = meter.createHistogram('dice.roll.dice', {
      description: 'Number of dice thrown by one request',
      unit: '{die}',
      valueType: ValueType.INT,
      advice: { explicitBucketBoundaries: [1, 2, 3, 5, 10, 20, 50, 100] },
    });
  }

  /**
   * Starts every face of every die at zero. A face never rolled would otherwise have no series,
   * and a die that never shows some faces (the most biased of all) would look fair to the
   * chi-square check, which only sees the faces that exist.
   */
  declareDice(allSides: readonly number[]): void {
    for (const sides of allSides) {
      for (let face = 1; face <= sides; face++) this.rolls.add(0, { 'dice.sides': sides, 'dice.face': face });
    }
  }

  recordRoll(sides: number, faces: readonly number[], total: number): void {
    const attributes = { 'dice.sides': sides };
    // One add per distinct face rather than per die: each add hashes its attributes and looks the
    // series up (sdk-metrics), and a request may throw 100 dice of at most 100 faces.
    const shown = new Map<number, number>();
    for (const face of faces) shown.set(face, (shown.get(face) ?? 0) + 1);
    for (const [face, count] of shown) this.rolls.add(count, { 'dice.sides': sides, 'dice.face': face });
    this.totals.record(total, attributes);
    this.dicePerRequest.record(faces.length, attributes);
  }

  /** Exports the drill settings on every collection, so dashboards show when a drill is on. */
  observeFaults(read: () => FaultState): void {
    const errorRatio = this.meter.createObservableGauge('dice.faults.error_ratio', {
      description: 'Share of dice requests failed on purpose by the fault-injection drill',
      unit: '1',
    });
    const latency = this.meter.createObservableGauge('dice.faults.added_latency', {
      description: 'Latency added by the drill: fixed part and maximum jitter',
      unit: 's',
    });
    const bias = this.meter.createObservableGauge('dice.faults.bias', {
      description: 'Share of dice forced to their highest face by the drill',
      unit: '1',
    });
    const active = this.meter.createObservableGauge('dice.faults.active', {
      description: '1 while any fault injection is on',
      unit: '1',
      valueType: ValueType.INT,
    });
    this.meter.addBatchObservableCallback(
      (observer) => {
        const state = read();
        observer.observe(errorRatio, state.errorRatio);
        observer.observe(latency, state.latencyMs / 1000, { 'dice.faults.latency_part': 'fixed' });
        observer.observe(latency, state.jitterMs / 1000, { 'dice.faults.latency_part': 'jitter' });
        observer.observe(bias, state.bias);
        const on = state.errorRatio > 0 || state.latencyMs > 0 || state.jitterMs > 0 || state.bias > 0;
        observer.observe(active, on ? 1 : 0);
      },
      [errorRatio, latency, bias, active],
    );
  }
}
