import type { Config } from '../config/schema';
import { PrometheusClient } from '../providers/metrics/prometheus';
import { readSecret } from './infra';

/** The Prometheus server metric analysis asks, its headers' secrets read now; null when none is configured. */
export function openPrometheus(config: Config, env: NodeJS.ProcessEnv): PrometheusClient | null {
  const p = config.prometheus;
  if (!p) return null;
  const headers: Record<string, string> = {};
  for (const [name, ref] of Object.entries(p.headers))
    headers[name] = readSecret(ref, `prometheus.headers.${name}`, env);
  return new PrometheusClient({ url: p.url, headers, timeoutMs: p.timeout });
}
