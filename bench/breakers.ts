// Our circuit breaker against opossum 9 and cockatiel 3.2.1, in the same run: the overhead of a
// successful call while closed (minus a bare `await`), and the cost of a rejection while open.
import { circuitBreaker, ConsecutiveBreaker, handleAll, SamplingBreaker } from 'cockatiel';
import Opossum from 'opossum';
import { CircuitBreaker } from '../src/breaker/breaker';
import { DEFAULT_BREAKER_SETTINGS } from '../src/breaker/settings';

type Report = (name: string, value: number, unit: string, baseline: number) => void;

const ok = async (): Promise<number> => 1;
const fail = async (): Promise<number> => {
  throw new Error('down');
};

/**
 * Median nanoseconds per awaited call of each candidate. Rounds alternate between the candidates,
 * so a slow moment of the machine does not fall on one of them only.
 */
async function timeEach(
  candidates: Record<string, () => Promise<unknown>>,
  calls: number,
  rounds = 9,
): Promise<Record<string, number>> {
  const samples: Record<string, number[]> = {};
  for (const name of Object.keys(candidates)) samples[name] = [];
  for (let r = 0; r < rounds; r++) {
    for (const [name, call] of Object.entries(candidates)) {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < calls; i++) {
        try {
          await call();
        } catch {
          // rejections are what the open-state candidates measure
        }
      }
      samples[name]!.push(Number(process.hrtime.bigint() - t0) / calls);
    }
  }
  const median: Record<string, number> = {};
  for (const [name, s] of Object.entries(samples))
    median[name] = s.sort((a, b) => a - b)[Math.floor(s.length / 2)]!;
  return median;
}

export async function benchBreakers(report: Report): Promise<void> {
  const calls = 100_000;

  // Closed: every call succeeds.
  const ours = new CircuitBreaker('bench', DEFAULT_BREAKER_SETTINGS);
  // Cockatiel's cheapest breaker (consecutive failures); its time-window one, the like of our
  // default, is printed too.
  const cockatiel = circuitBreaker(handleAll, { halfOpenAfter: 60_000, breaker: new ConsecutiveBreaker(3) });
  const cockatielSampling = circuitBreaker(handleAll, {
    halfOpenAfter: 60_000,
    breaker: new SamplingBreaker({ threshold: 0.5, duration: 300_000, minimumRps: 0.01 }),
  });
  const opossum = new Opossum(ok, { timeout: false, resetTimeout: 60_000, errorThresholdPercentage: 50 });
  const closed = await timeEach(
    {
      bare: () => ok(),
      ours: () => ours.execute(ok),
      cockatiel: () => cockatiel.execute(ok),
      cockatielSampling: () => cockatielSampling.execute(ok),
      opossum: () => opossum.fire(),
    },
    calls,
  );
  const overhead = (name: string) => Math.max(closed[name]! - closed.bare!, 0.001);
  console.log(
    `(closed, ns per call: bare await ${closed.bare!.toFixed(0)}, ours ${closed.ours!.toFixed(0)}, cockatiel ${closed.cockatiel!.toFixed(0)} (sampling breaker ${closed.cockatielSampling!.toFixed(0)}), opossum ${closed.opossum!.toFixed(0)})`,
  );
  report('breaker.closed.overhead (vs cockatiel)', overhead('ours'), 'ns', overhead('cockatiel'));
  report('breaker.closed.overhead (vs opossum)', overhead('ours'), 'ns', overhead('opossum'));

  // Open: each breaker tripped by failures, then every call is rejected.
  const oursOpen = new CircuitBreaker('bench-open', DEFAULT_BREAKER_SETTINGS);
  const cockatielOpen = circuitBreaker(handleAll, {
    halfOpenAfter: 3_600_000,
    breaker: new ConsecutiveBreaker(3),
  });
  const opossumOpen = new Opossum(fail, {
    timeout: false,
    resetTimeout: 3_600_000,
    errorThresholdPercentage: 1,
    volumeThreshold: 3,
  });
  for (let i = 0; i < 3; i++) {
    await oursOpen.execute(fail).catch(() => undefined);
    await cockatielOpen.execute(fail).catch(() => undefined);
    await opossumOpen.fire().catch(() => undefined);
  }
  if (oursOpen.state !== 'open' || cockatielOpen.state !== 1 /* CircuitState.Open */ || !opossumOpen.opened) {
    throw new Error('a breaker did not open for the rejection benchmark');
  }
  // Awaiting any rejected promise has a fixed cost (the exception unwinding in the caller); each
  // breaker's rejection cost is what it adds to that floor, as the closed overhead is over a bare await.
  const rejected = new Error('floor');
  const open = await timeEach(
    {
      floor: () => Promise.reject(rejected),
      ours: () => oursOpen.execute(ok),
      cockatiel: () => cockatielOpen.execute(ok),
      opossum: () => opossumOpen.fire(),
    },
    calls,
  );
  console.log(
    `(open, ns per awaited rejection: floor ${open.floor!.toFixed(0)}, ours ${open.ours!.toFixed(0)}, cockatiel ${open.cockatiel!.toFixed(0)}, opossum ${open.opossum!.toFixed(0)})`,
  );
  const cost = (name: string) => Math.max(open[name]! - open.floor!, 1);
  report('breaker.open.rejection (vs cockatiel)', cost('ours'), 'ns', cost('cockatiel'));
  report('breaker.open.rejection (vs opossum)', cost('ours'), 'ns', cost('opossum'));
  opossum.shutdown();
  opossumOpen.shutdown();
}
