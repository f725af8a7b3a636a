import { z } from 'zod';
import { Duration } from '../shared/durations';
import { Policy, policyFacts, RELEASE_FACTS } from '../shared/policy';
import { ServiceName, TargetName } from '../shared/release';
import { ApprovalRule, MaintenanceWindow } from '../shared/target';

const Zone = z.string().regex(/^[a-z0-9-]+(\.[a-z0-9-]+)*$/, 'a zone is a DNS name such as example.internal');

export const HttpCheckConfig = z.strictObject({
  name: z.string().min(1).max(60),
  path: z.string().startsWith('/'),
  expectStatus: z.number().int().min(100).max(599).default(200),
  bodyIncludes: z.string().optional(),
  latencyBudget: Duration.prefault('2s'),
  repeat: z.number().int().min(1).max(1000).default(1),
  slow: z.boolean().default(false),
});

export const CommandCheckConfig = z.strictObject({
  name: z.string().min(1).max(60),
  /** Program and arguments, run without a shell; BASE_URL is green's endpoint. */
  command: z.array(z.string().min(1)).min(1).max(100),
  timeout: Duration.prefault('5m'),
  slow: z.boolean().default(false),
});

/** An HTTP check (`path`) or a command check (`command`). */
export const CheckConfig = z.union([HttpCheckConfig, CommandCheckConfig], {
  error: 'a check has either `path` (HTTP) or `command` (an argument array)',
});

/** How a target's deployments are created: local processes (default) or a Terraform/OpenTofu module. */
export const InfraConfig = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('local') }),
  z.strictObject({
    kind: z.literal('terraform'),
    /** The module applied per deployment; relative paths are relative to the configuration file. */
    module: z.string().min(1),
    /** The `tofu` or `terraform` binary; default: `tofu`, then `terraform`, on PATH. */
    binary: z.string().min(1).optional(),
  }),
]);
export type InfraConfig = z.output<typeof InfraConfig>;

export const TargetConfig = z
  .strictObject({
    /** DNS zone; default: the top-level `zone`. */
    zone: Zone.optional(),
    approval: ApprovalRule.prefault({}),
    /** Promotion policy; default `{ all: [tests_passed, approval_obtained] }`. */
    policy: Policy.default({ all: ['tests_passed', 'approval_obtained'] }),
    bake: Duration.prefault('10s'),
    healthCheckInterval: Duration.prefault('2s'),
    terminationWait: Duration.prefault('30s'),
    maintenanceWindows: z.array(MaintenanceWindow).default([]),
    recordTtl: z.number().int().min(1).max(86_400).default(30),
    infra: InfraConfig.default({ kind: 'local' }),
  })
  .superRefine((target, ctx) => {
    for (const fact of policyFacts(target.policy)) {
      if (!Object.hasOwn(RELEASE_FACTS, fact)) {
        ctx.addIssue({
          code: 'custom',
          path: ['policy'],
          input: fact,
          message: `unknown fact ${JSON.stringify(fact)}; known facts: ${Object.keys(RELEASE_FACTS).join(', ')}`,
        });
      }
    }
  });

export const ServiceConfig = z.strictObject({
  /** Integration checks run against green; default: the top-level `checks`. */
  checks: z.array(CheckConfig).min(1).optional(),
  /** The health check used while baking. Default GET /healthz → 200. */
  healthCheck: HttpCheckConfig.optional(),
});

export const Config = z.strictObject({
  /** Default DNS zone of every target. */
  zone: Zone.default('greenlight.local'),
  targets: z.record(TargetName, TargetConfig),
  services: z.record(ServiceName, ServiceConfig).default({}),
  /** Integration checks for services without their own. */
  checks: z.array(CheckConfig).min(1),
  healthCheck: HttpCheckConfig,
});
export type Config = z.output<typeof Config>;
export type ConfigInput = z.input<typeof Config>;
export type HttpCheckConfig = z.output<typeof HttpCheckConfig>;
export type CheckConfig = z.output<typeof CheckConfig>;
