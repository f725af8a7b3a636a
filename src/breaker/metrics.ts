import { Counter, Gauge, Registry } from 'prom-client';
import { BreakerStates } from './state';
import type { BreakerListener } from './breaker';
import type { Breakers } from './registry';

/**
 * Prometheus metrics of the breakers, named after the circuit-breaker source document's metrics
 * (CircuitBreakerOpen, ServiceFailures, FallbackInvocations, HealthCheckResults).
 */
export class BreakerMetrics {
  readonly registry = new Registry();
  private readonly calls: Counter<'dependency' | 'outcome'>;
  private readonly failures: Counter<'dependency'>;
  private readonly fallbacks: Counter<'dependency'>;
  private readonly healthChecks: Counter<'service' | 'target' | 'result'>;
  private readonly transitions: Counter<'dependency' | 'from' | 'to'>;

  /** The breakers' views during a scrape. */
  private scraping: ReturnType<Breakers['list']> | null = null;

  constructor(private readonly breakers: Breakers) {
    const registers = [this.registry];
    // Both gauges read the breakers' views: one scrape asks for them once (with the shared
    // backend, that is a database round trip per breaker).
    const views = () => this.scraping ?? breakers.list();
    new Gauge({
      name: 'greenlight_circuit_breaker_state',
      help: 'The state of each dependency’s circuit breaker: 1 for the current state, 0 for the others.',
      labelNames: ['dependency', 'state'],
      registers,
      async collect() {
        this.reset();
        for (const b of await views()) {
          for (const state of BreakerStates)
            this.set({ dependency: b.name, state }, b.state === state ? 1 : 0);
        }
      },
    });
    new Gauge({
      name: 'greenlight_circuit_breaker_open',
      help: 'CircuitBreakerOpen: 1 while a dependency’s breaker rejects calls (open or forced open).',
      labelNames: ['dependency'],
      registers,
      async collect() {
        this.reset();
        for (const b of await views()) {
          this.set({ dependency: b.name }, b.state === 'open' || b.state === 'forced_open' ? 1 : 0);
        }
      },
    });
    this.calls = new Counter({
      name: 'greenlight_circuit_breaker_calls_total',
      help: 'Calls through each breaker by outcome: success, failure, slow_success, slow_failure, ignored, cancelled, rejected.',
      labelNames: ['dependency', 'outcome'],
      registers,
    });
    this.failures = new Counter({
      name: 'greenlight_service_failures_total',
      help: 'ServiceFailures: calls that failed because of the dependency.',
      labelNames: ['dependency'],
      registers,
    });
    this.fallbacks = new Counter({
      name: 'greenlight_fallback_invocations_total',
      help: 'FallbackInvocations: work kept for later because a breaker rejected it (CMDB writes to the outbox).',
      labelNames: ['dependency'],
      registers,
    });
    this.healthChecks = new Counter({
      name: 'greenlight_health_check_results_total',
      help: 'HealthCheckResults: health checks of deployments while they bake, by result.',
      labelNames: ['service', 'target', 'result'],
      registers,
    });
    this.transitions = new Counter({
      name: 'greenlight_circuit_breaker_transitions_total',
      help: 'State changes of each breaker.',
      labelNames: ['dependency', 'from', 'to'],
      registers,
    });
  }

  /** The metrics in Prometheus's text format. */
  async scrape(): Promise<string> {
    this.scraping = this.breakers.list();
    try {
      return await this.registry.metrics();
    } finally {
      this.scraping = null;
    }
  }

  /** Counts calls and transitions: attach it to the breakers with `breakers.listen`. */
  readonly listener: BreakerListener = {
    onOutcome: (dependency, outcome) => {
      this.calls.inc({ dependency, outcome });
      if (outcome === 'failure' || outcome === 'slow_failure') this.failures.inc({ dependency });
    },
    onTransition: (t) => this.transitions.inc({ dependency: t.breaker, from: t.from, to: t.to }),
  };

  fallback(dependency: string): void {
    this.fallbacks.inc({ dependency });
  }

  healthCheck(service: string, target: string, passed: boolean): void {
    this.healthChecks.inc({ service, target, result: passed ? 'passed' : 'failed' });
  }
}
