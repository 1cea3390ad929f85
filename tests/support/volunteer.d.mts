// Types of volunteer.mjs, for the browser spec (tests/e2e/slow-network.spec.ts).
import type { DelayOptions, SlowProxy } from './slow-network.mjs';

export const VOLUNTEER_START_TIMEOUT_MS: number;

export interface Volunteer {
  name: string;
  /** The delaying proxy in front of its TCP data link, when started with `delay`. */
  dataProxy: SlowProxy | undefined;
  /** What the worker process wrote to stderr. */
  output(): string;
  close(): Promise<void>;
}

export function startVolunteer(o: {
  scheduler: string;
  name: string;
  threads?: number;
  delay?: DelayOptions;
}): Promise<Volunteer>;
