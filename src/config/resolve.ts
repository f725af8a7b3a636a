import type { HttpCheck } from '../providers/checks/types';
import type { TargetSettings } from '../shared/target';
import type { Config, HttpCheckConfig } from './schema';

/** The settings the release workflow receives for `target`, or undefined when it is not configured. */
export function targetSettings(config: Config, target: string): TargetSettings | undefined {
  const t = Object.hasOwn(config.targets, target) ? config.targets[target] : undefined;
  if (!t) return undefined;
  return {
    name: target,
    zone: t.zone ?? config.zone,
    approval: t.approval,
    policy: t.policy,
    bake: t.bake,
    healthCheckInterval: t.healthCheckInterval,
    terminationWait: t.terminationWait,
    maintenanceWindows: t.maintenanceWindows,
    recordTtl: t.recordTtl,
  };
}

export function serviceChecks(
  config: Config,
  service: string,
): { checks: HttpCheck[]; healthCheck: HttpCheck } {
  const s = Object.hasOwn(config.services, service) ? config.services[service] : undefined;
  return {
    checks: (s?.checks ?? config.checks).map(toHttpCheck),
    healthCheck: toHttpCheck(s?.healthCheck ?? config.healthCheck),
  };
}

function toHttpCheck(c: HttpCheckConfig): HttpCheck {
  return {
    name: c.name,
    path: c.path,
    expectStatus: c.expectStatus,
    bodyIncludes: c.bodyIncludes,
    latencyBudgetMs: c.latencyBudget,
    repeat: c.repeat,
    slow: c.slow,
  };
}
