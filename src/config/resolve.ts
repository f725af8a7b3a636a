import type { Check, HttpCheck } from '../providers/checks/types';
import type { TargetSettings } from '../shared/target';
import type { CheckConfig, Config, HttpCheckConfig } from './schema';

/** The settings the release workflow receives for `target`, or undefined when it is not configured. */
export function targetSettings(config: Config, target: string): TargetSettings | undefined {
  const t = Object.hasOwn(config.targets, target) ? config.targets[target] : undefined;
  if (!t) return undefined;
  return {
    name: target,
    zone: targetZone(config, target),
    approval: t.approval,
    policy: t.policy,
    bake: t.bake,
    healthCheckInterval: t.healthCheckInterval,
    terminationWait: t.terminationWait,
    maintenanceWindows: t.maintenanceWindows,
    recordTtl: t.recordTtl,
  };
}

/** The DNS zone of a target's host names (its own, or the configuration's). */
export function targetZone(config: Config, target: string): string {
  const t = Object.hasOwn(config.targets, target) ? config.targets[target] : undefined;
  return t?.zone ?? config.zone;
}

export function serviceChecks(config: Config, service: string): { checks: Check[]; healthCheck: HttpCheck } {
  const s = Object.hasOwn(config.services, service) ? config.services[service] : undefined;
  return {
    checks: (s?.checks ?? config.checks).map(toCheck),
    healthCheck: toHttpCheck(s?.healthCheck ?? config.healthCheck),
  };
}

function toCheck(c: CheckConfig): Check {
  if ('command' in c)
    return { kind: 'command', name: c.name, command: c.command, timeoutMs: c.timeout, slow: c.slow };
  return toHttpCheck(c);
}

function toHttpCheck(c: HttpCheckConfig): HttpCheck {
  return {
    kind: 'http',
    name: c.name,
    path: c.path,
    expectStatus: c.expectStatus,
    bodyIncludes: c.bodyIncludes,
    latencyBudgetMs: c.latencyBudget,
    repeat: c.repeat,
    slow: c.slow,
  };
}
