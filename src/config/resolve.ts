import type { Check, HttpCheck, MetricCheck } from '../providers/checks/types';
import type { EnvironmentStartInput } from '../shared/environment';
import { ephemeralFlow, lifecycleFlow } from '../shared/flow';
import type { FlowInput } from '../shared/flow';
import type { TargetSettings } from '../shared/target';
import type { CheckConfig, HttpCheckConfig } from './checks';
import type { Config } from './schema';
import type { AnalysisConfig } from './analysis';
import { notifiedEvents } from './notifications';

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
    freezes: [...config.freezes, ...t.freezes],
    onClosedWindow: t.onClosedWindow,
    notify: notifiedEvents(config.notifications, target),
    rollbackPolicy: t.rollbackPolicy,
    recordTtl: t.recordTtl,
    promotion: t.promotion ? { from: t.promotion.from, soakMs: t.promotion.soak } : null,
  };
}

/** The DNS zone of a target's host names (its own, or the configuration's). */
export function targetZone(config: Config, target: string): string {
  const t = Object.hasOwn(config.targets, target) ? config.targets[target] : undefined;
  return t?.zone ?? config.zone;
}

/** The queries judged while a service bakes: its own, or the configuration's. */
export function serviceAnalysis(config: Config, service: string): AnalysisConfig[] {
  const s = Object.hasOwn(config.services, service) ? config.services[service] : undefined;
  return s?.analysis ?? config.analysis;
}

export function serviceChecks(
  config: Config,
  service: string,
): { checks: (Check | MetricCheck)[]; healthCheck: HttpCheck } {
  const s = Object.hasOwn(config.services, service) ? config.services[service] : undefined;
  return {
    checks: (s?.checks ?? config.checks).map(toCheck),
    healthCheck: toHttpCheck(s?.healthCheck ?? config.healthCheck),
  };
}

function toCheck(c: CheckConfig): Check | MetricCheck {
  if ('query' in c)
    return {
      kind: 'prometheus',
      name: c.name,
      query: c.query,
      ...(c.max !== undefined ? { max: c.max } : {}),
      ...(c.min !== undefined ? { min: c.min } : {}),
      onNoData: c.onNoData,
      slow: c.slow,
    };
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

/** A flow by name: a built-in, or one the configuration defines. */
export function resolveFlow(config: Config, name: string, withModule = false): FlowInput | undefined {
  if (name === 'lifecycle') return lifecycleFlow(withModule);
  if (name === 'ephemeral') return ephemeralFlow(withModule);
  return Object.hasOwn(config.environments.flows, name) ? config.environments.flows[name] : undefined;
}

/** How a configured target's environment starts: its flow pinned as the configuration has it now. */
export function targetEnvironment(config: Config, target: string): EnvironmentStartInput {
  const t = config.targets[target]!;
  return {
    name: target,
    template: 'target',
    flowName: t.environment.flow,
    flow: resolveFlow(config, t.environment.flow, t.environment.module !== undefined)!,
    isProtected: t.environment.protected ?? t.approval.required > 0,
    approval: t.approval,
    maintenanceWindows: t.maintenanceWindows,
    ttlMs: null,
    driftCheckMs: t.environment.driftCheckInterval,
    createdBy: 'greenlight',
  };
}

/**
 * How an environment made from a template starts (`env create`): the template's flow pinned now,
 * the approval rule and windows of the target it is like, its TTL unless `ttlMs` says otherwise.
 */
export function templateEnvironment(
  config: Config,
  name: string,
  templateName: string,
  createdBy: string,
  ttlMs?: number,
): EnvironmentStartInput | { error: string } {
  const templates = config.environments.templates;
  if (Object.hasOwn(config.targets, name))
    return { error: `${name} is a configured target; it has its environment already` };
  if (!Object.hasOwn(templates, templateName)) {
    return {
      error: `unknown template ${JSON.stringify(templateName)}; the templates are ${Object.keys(templates).join(', ')}`,
    };
  }
  const template = templates[templateName]!;
  const like = config.targets[template.like ?? Object.keys(config.targets)[0]!]!;
  return {
    name,
    template: templateName,
    flowName: template.flow,
    flow: resolveFlow(config, template.flow, template.module !== undefined)!,
    isProtected: template.protected,
    approval: like.approval,
    maintenanceWindows: like.maintenanceWindows,
    ttlMs: ttlMs ?? template.ttl ?? null,
    driftCheckMs: template.driftCheckInterval,
    createdBy,
  };
}

/**
 * The environment's own module and the target whose Terraform settings (binary, backend) it is
 * applied with: a configured target's own, or that of the target a template is like.
 */
export function environmentModule(
  config: Config,
  environment: string,
  template: string,
): { moduleDir: string; target: string } | null {
  if (Object.hasOwn(config.targets, environment)) {
    const dir = config.targets[environment]!.environment.module;
    return dir === undefined ? null : { moduleDir: dir, target: environment };
  }
  const t = Object.hasOwn(config.environments.templates, template)
    ? config.environments.templates[template]
    : undefined;
  if (t?.module === undefined) return null;
  return { moduleDir: t.module, target: t.like ?? Object.keys(config.targets)[0]! };
}
