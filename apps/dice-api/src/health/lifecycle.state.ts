import { Injectable } from '@nestjs/common';

/** Whether this replica is draining; readiness reports it so the load balancer stops routing here. */
@Injectable()
export class LifecycleState {
  private draining = false;

  get isDraining(): boolean {
    return this.draining;
  }

  startDraining(): void {
    this.draining = true;
  }
}
