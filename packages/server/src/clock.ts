/** The time source, passed in wherever logic must be tested at an exact instant. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A clock that stands still until moved; for tests. */
export function fixedClock(
  at: number | string | Date,
): Clock & { set(t: number): void; advance(ms: number): void } {
  let t = typeof at === 'number' ? at : new Date(at).getTime();
  return {
    now: () => t,
    set: (v: number) => {
      t = v;
    },
    advance: (ms: number) => {
      t += ms;
    },
  };
}
