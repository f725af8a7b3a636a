/**
 * The breakers' default clock: wall-clock milliseconds read from a 10 ms tick. Reading the clock
 * (Date.now, performance.now) costs 40–50 ns on common virtual machines, more than all the rest of
 * a closed breaker's work on a call, which reads it twice; breakers judge seconds and minutes, so
 * 10 ms of resolution loses nothing. The tick runs only once a breaker exists, and never keeps the
 * process alive.
 */
let now = Date.now();
let tick: NodeJS.Timeout | undefined;

export function coarseClock(): number {
  return now;
}

export function startCoarseClock(): void {
  if (tick) return;
  now = Date.now();
  tick = setInterval(() => {
    now = Date.now();
  }, 10);
  tick.unref();
}
