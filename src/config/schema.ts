import { z } from 'zod';
import { Policy, policyFacts, PROMOTION_FACTS, RELEASE_FACTS } from '../shared/policy';
import { BreakerConfigKey } from '../shared/breaker-name';
import { BUILT_IN_FLOWS, Flow, FlowName } from '../shared/flow';
import { ServiceName, TargetName } from '../shared/release';
import { ApprovalRule, Freeze, MaintenanceWindow, OnClosedWindow, Zone } from '../shared/target';
import { CheckConfig, HttpCheckConfig } from './checks';
import { TrainsConfig } from './trains';
import { EncryptionConfig } from './encryption';
import { NotificationsConfig } from './notifications';
import { AnalysisConfig, DEFAULT_ROLLBACK_POLICY, PrometheusConfig, RollbackPolicy } from './analysis';
import {
  boundedDuration,
  chosenBy,
  DAY_MS,
  namedRecord,
  SecretRef,
  TimerDuration,
  WaitDuration,
} from './fields';
import { TsigAlgorithms } from '../providers/dns/wire';
import type { TsigAlgorithm } from '../providers/dns/wire';

const TSIG_ALGORITHMS = Object.keys(TsigAlgorithms) as [TsigAlgorithm, ...TsigAlgorithm[]];

/** A backend setting's value, written into each root module as it is: no template sequences. */
const BackendValue = z.union(
  [
    z
      .string()
      .max(1000, 'at most 1000 characters')
      .refine((value) => !/[$%]\{/.test(value), 'a plain value: `${` and `%{` are not allowed here'),
    z.number(),
    z.boolean(),
  ],
  { error: 'a string, a number or a boolean' },
);

/** Settings whose value is a credential: those go through `env`, by reference. */
const SECRET_SETTING = /secret|password|token|credential|access_key|conn_str|private_key|sas_|_sas/i;

/** A variable for the backend: a secret reference; what was given instead is never echoed. */
const BackendSecret = z.unknown().transform((value, ctx) => {
  const ref = z.lazy(() => SecretRef).safeParse(value);
  if (ref.success) return ref.data;
  ctx.addIssue({
    code: 'custom',
    message: 'a secret is referenced, never written here: use { env: VARIABLE } or { file: path }',
    input: undefined,
  });
  return z.NEVER;
});

/** Refuses names in `record` that `problem` finds fault with, naming each. */
function checkNames(record: object, ctx: z.RefinementCtx, problem: (name: string) => string | null) {
  for (const name of Object.keys(record)) {
    const message = problem(name);
    if (message) ctx.addIssue({ code: 'custom', path: [name], message, input: name });
  }
}

/**
 * Where a Terraform/OpenTofu target keeps its state, instead of the CMDB's database: a backend of
 * the tool (`s3`, `gcs`, `azurerm`, `pg`, … — one that supports workspaces).
 */
export const TerraformBackendConfig = z.strictObject({
  type: z
    .string()
    .regex(/^[a-z][a-z0-9_]{0,39}$/, 'a backend type such as s3, gcs, azurerm or pg')
    .refine(
      (type) => type !== 'local',
      'a local file is on one machine only: name a backend every worker reaches',
    ),
  /** Its settings, written into each deployment's root module: never a secret. */
  config: z
    .record(z.string(), BackendValue)
    .refine((settings) => Object.keys(settings).length <= 50, 'at most 50 settings')
    .superRefine((settings, ctx) =>
      checkNames(settings, ctx, (name) =>
        !/^[a-z][a-z0-9_]{0,63}$/.test(name)
          ? 'a setting name such as bucket'
          : SECRET_SETTING.test(name)
            ? 'a secret is never written here: give it to the tool through backend.env, e.g. AWS_SECRET_ACCESS_KEY: { env: NAME }'
            : null,
      ),
    )
    .default({}),
  /** Variables the tool gets for the backend (its credentials), each read from where it is. */
  env: z
    .record(z.string(), BackendSecret)
    .refine((vars) => Object.keys(vars).length <= 20, 'at most 20 variables')
    .superRefine((vars, ctx) =>
      checkNames(vars, ctx, (name) =>
        !/^[A-Za-z_][A-Za-z0-9_]{0,127}$/.test(name)
          ? 'an environment variable name such as AWS_SECRET_ACCESS_KEY'
          : /^(PATH|HOME|TF_.*)$/.test(name)
            ? 'PATH, HOME and TF_* are set by greenlight'
            : null,
      ),
    )
    .default({}),
});
export type TerraformBackendConfig = z.output<typeof TerraformBackendConfig>;

/** How a target's deployments are created: local processes (default) or a Terraform/OpenTofu module. */
export const InfraConfig = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('local') }),
  z.strictObject({
    kind: z.literal('terraform'),
    /** The module applied per deployment; relative paths are relative to the configuration file. */
    module: z.string().min(1).max(1000),
    /** The `tofu` or `terraform` binary; default: `tofu`, then `terraform`, on PATH. */
    binary: z.string().min(1).max(1000).optional(),
    /** Where state is; default: the CMDB's database when it is a PostgreSQL server, else a local file. */
    backend: TerraformBackendConfig.optional(),
    /**
     * How long one run of the binary (an init, an apply, a destroy) may take before it is stopped
     * (SIGTERM, so it releases its state lock) and the step retried. Default 10m: within the 15 min
     * an infrastructure step's attempt has, so a run that hangs fails with its own message.
     */
    timeout: TimerDuration.refine((ms) => ms >= 1_000, 'at least a second')
      .refine((ms) => ms <= 15 * 60_000, 'at most 15m: one attempt of an infrastructure step has 15 minutes')
      .prefault('10m'),
  }),
]);
export type InfraConfig = z.output<typeof InfraConfig>;

export { SecretRef } from './fields';

const HostPort = z
  .string()
  .max(300, 'a host and port have at most 300 characters')
  .regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/, 'host or host:port, e.g. 127.0.0.1:53')
  .transform((value, ctx) => {
    const match = /^(?:\[([^\]]+)\]|([^:]+))(?::(\d+))?$/.exec(value)!;
    const port = match[3] === undefined ? 53 : Number(match[3]);
    if (port < 1 || port > 65_535) {
      ctx.addIssue({ code: 'custom', message: `port ${port} is out of range` });
      return z.NEVER;
    }
    return { host: (match[1] ?? match[2])!, port };
  });

/** How a target's DNS records are changed: the embedded store (default), RFC 2136, or Route 53. */
export const DnsConfig = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('local') }),
  z.strictObject({
    kind: z.literal('rfc2136'),
    /** The primary server that takes dynamic updates. */
    server: HostPort,
    /** The zone updated (its apex); default: the target's zone. */
    zone: Zone.optional(),
    /** The TSIG key that signs every request; without one, requests are unsigned. */
    tsig: z
      .strictObject({
        name: z
          .string()
          .max(255, 'a key name has at most 255 characters')
          .regex(/^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.?$/, 'a key name such as greenlight-key'),
        algorithm: z.enum(TSIG_ALGORITHMS).default('hmac-sha256'),
        /** The base64 secret, or a BIND key file (as `tsig-keygen` writes) holding it. */
        secret: SecretRef,
      })
      .optional(),
    timeout: TimerDuration.prefault('5s'),
  }),
  z.strictObject({
    kind: z.literal('route53'),
    hostedZoneId: z.string().regex(/^[A-Z0-9]{1,32}$/, 'a hosted zone id such as Z0123456789ABC'),
    /** The hosted zone's name; default: the target's zone. */
    zone: Zone.optional(),
    region: z
      .string()
      .max(50, 'an AWS region has at most 50 characters')
      .regex(/^[a-z0-9-]+$/, 'an AWS region such as us-east-1')
      .default('us-east-1'),
    /** A Route 53-compatible endpoint; default: AWS's own. */
    endpoint: z.url().optional(),
    /**
     * How long one attempt waits for a change to become INSYNC. At most 100s: a cutover attempt
     * has two minutes, and a retry finds the alias already swapped and only verifies it.
     */
    syncTimeout: boundedDuration(100_000, 1_000).prefault('90s'),
  }),
]);
export type DnsConfig = z.output<typeof DnsConfig>;

/** What a target's environment and a template share: the environment's own module, its drift checks. */
const EnvironmentModuleFields = {
  /**
   * The environment's Terraform/OpenTofu module (its network and shared resources), applied when it
   * is provisioned and destroyed when it is decommissioned; relative to the configuration file. It
   * takes the variables `environment` and `tags`. Default: none.
   */
  module: z.string().min(1).max(1000).optional(),
  /** How often an active environment looks for drift; 0 turns it off. Default 6h. */
  driftCheckInterval: WaitDuration.refine(
    (ms) => ms === 0 || ms >= 60_000,
    'at least 1m (each check adds history events), or 0 to turn drift checks off',
  ).prefault('6h'),
};

const uniqueNames = (list: readonly { name: string }[]) =>
  new Set(list.map((a) => a.name)).size === list.length;

export const TargetConfig = z
  .strictObject({
    /** DNS zone; default: the top-level `zone`. */
    zone: Zone.optional(),
    approval: ApprovalRule.extend({ timeout: WaitDuration.prefault('24h') }).prefault({}),
    /** Promotion policy; default `{ all: [tests_passed, approval_obtained] }`. */
    policy: Policy.default({ all: ['tests_passed', 'approval_obtained'] }),
    bake: WaitDuration.prefault('10s'),
    healthCheckInterval: WaitDuration.prefault('2s'),
    terminationWait: WaitDuration.prefault('30s'),
    maintenanceWindows: z.array(MaintenanceWindow).max(20).default([]),
    /** This target's freezes, besides the global `freezes`. */
    freezes: z.array(Freeze).max(50).default([]),
    /** A release that comes while the target is closed waits (`wait`, the default) or fails (`refuse`). */
    onClosedWindow: OnClosedWindow.default('wait'),
    /** When a baking release rolls back; default any: [health_check_failed, error_threshold_exceeded]. */
    rollbackPolicy: RollbackPolicy.default(DEFAULT_ROLLBACK_POLICY),
    recordTtl: z.number().int().min(1).max(86_400).default(30),
    /**
     * Promotion: accept only an artifact digest that completed on `from` and stayed live there at
     * least `soak` without a rollback (the facts `promoted` and `soaked`, from the CMDB).
     */
    promotion: z.strictObject({ from: TargetName, soak: WaitDuration.prefault('0s') }).optional(),
    infra: InfraConfig.default({ kind: 'local' }),
    dns: DnsConfig.default({ kind: 'local' }),
    /** The target's environment: the workflow `env-<target>` that runs its lifecycle. */
    environment: z
      .strictObject({
        /** The flow it follows: `lifecycle` (default), `ephemeral`, or one of `environments.flows`. */
        flow: FlowName.default('lifecycle'),
        /** Transitions marked `approval` (decommission) need the target's approval rule; default: when it asks for approvals. */
        protected: z.boolean().optional(),
        ...EnvironmentModuleFields,
      })
      .prefault({}),
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
      if ((PROMOTION_FACTS as readonly string[]).includes(fact) && !target.promotion) {
        ctx.addIssue({
          code: 'custom',
          path: ['policy'],
          input: fact,
          message: `${fact} needs a promotion rule on the target, e.g. promotion: { from: stage, soak: 2h }`,
        });
      }
    }
  });

const Percent = z.number().min(1).max(100);
/** The last N calls. */
const CountWindow = z.strictObject({ calls: z.number().int().min(1).max(10_000) });
/** The calls of the last so long: one bucket per second, so at most a day. */
const TimeWindow = boundedDuration(DAY_MS);

/**
 * One circuit breaker's settings; every key optional, over `breakers.defaults` and the built-in
 * defaults (3 failures within 300 s open it for 60 s).
 */
export const BreakerConfig = z.strictObject({
  /** A duration (time-based window) or `{ calls: N }` (the last N calls). */
  window: chosenBy((window) =>
    typeof window === 'object' && window !== null ? CountWindow : TimeWindow,
  ).optional(),
  minimumCalls: z.number().int().min(1).max(10_000).optional(),
  failureRateThreshold: Percent.optional(),
  /** Failures in the window that open the breaker whatever the rate; null: the rate only. */
  failureCountThreshold: z.number().int().min(1).max(10_000).nullable().optional(),
  slowCallRateThreshold: Percent.optional(),
  slowCallDuration: TimerDuration.optional(),
  waitDuration: TimerDuration.optional(),
  waitBackoffMultiplier: z.number().min(1).max(10).optional(),
  maxWaitDuration: TimerDuration.optional(),
  permittedCallsInHalfOpen: z.number().int().min(1).max(100).optional(),
  /** 0: no limit. */
  maxWaitInHalfOpen: TimerDuration.optional(),
  /** `disabled` lets every call through unjudged; `metrics_only` records but never opens. */
  mode: z.enum(['normal', 'disabled', 'metrics_only']).optional(),
});
export type BreakerConfig = z.output<typeof BreakerConfig>;

export const BreakersConfig = z.strictObject({
  /** `local`: per worker process; `postgres`: shared by every worker through the CMDB's database. */
  backend: z.enum(['local', 'postgres']).default('local'),
  defaults: BreakerConfig.default({}),
  /** Per kind (`dns`) or per dependency (`dns:prod`); the more specific wins. */
  dependencies: namedRecord(BreakerConfigKey, BreakerConfig, 'dependency', {
    error: (issue) =>
      issue.code === 'invalid_key'
        ? 'a dependency is infra, dns, cmdb, checks, artifacts, notify or prometheus, optionally :<target> (:<webhook> for notify)'
        : undefined,
  }).default({}),
});
export type BreakersConfig = z.output<typeof BreakersConfig>;

export const ServiceConfig = z.strictObject({
  /** Integration checks run against green; default: the top-level `checks`. */
  checks: z.array(CheckConfig).min(1).optional(),
  /** The health check used while baking. Default GET /healthz → 200. */
  healthCheck: HttpCheckConfig.optional(),
  /** Queries judged while it bakes, instead of the top-level `analysis`. */
  analysis: z.array(AnalysisConfig).max(20).refine(uniqueNames, 'each analysis has its own name').optional(),
});

export const JanitorConfig = z.strictObject({
  /** Whether the worker keeps the janitor's schedule (`greenlight-janitor`). Default true. */
  enabled: z.boolean().default(true),
  /** How often it runs. Default 10m. */
  interval: WaitDuration.prefault('10m'),
  /** How long after its release ended a deployment is left alone, for people to look. Default 15m. */
  grace: WaitDuration.prefault('15m'),
});
export type JanitorConfig = z.output<typeof JanitorConfig>;

/** Where the artifact of `<service>@<version>` is: a local directory (default) or an S3 bucket. */
export const ArtifactsConfig = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('local'),
    /** Default: `<state dir>/artifacts`; relative paths are relative to the configuration file. */
    dir: z.string().min(1).max(1000).optional(),
    /** A version without an artifact gets the example service, stamped with its version. Default true. */
    stamp: z.boolean().default(true),
  }),
  z.strictObject({
    kind: z.literal('s3'),
    bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'an S3 bucket name such as builds'),
    /** Keys are `<prefix><service>/<version>`. Default: none. */
    prefix: z
      .string()
      .max(500)
      .regex(/^[A-Za-z0-9!_.*'()/-]*$/, 'a key prefix such as releases/')
      .default(''),
    region: z
      .string()
      .max(50, 'an AWS region has at most 50 characters')
      .regex(/^[a-z0-9-]+$/, 'an AWS region such as us-east-1')
      .default('us-east-1'),
    /** An S3-compatible endpoint; default: AWS's own. */
    endpoint: z.url().max(1000).optional(),
  }),
]);
export type ArtifactsConfig = z.output<typeof ArtifactsConfig>;

/** A kind of environment made on demand (`env create pr-142 --template ephemeral`). */
export const EnvironmentTemplate = z.strictObject({
  /** The flow it follows: `ephemeral` (default), `lifecycle`, or one of `environments.flows`. */
  flow: FlowName.default('ephemeral'),
  /** The configured target whose settings (zone, policy, providers, waits) its releases use; default: the first target. */
  like: TargetName.optional(),
  /** Decommissioned by itself this long after it is created; default: never. */
  ttl: WaitDuration.optional(),
  /** Transitions marked `approval` need the approval rule of the target it is like. Default false. */
  protected: z.boolean().default(false),
  ...EnvironmentModuleFields,
});
export type EnvironmentTemplate = z.output<typeof EnvironmentTemplate>;

export const EnvironmentsConfig = z.strictObject({
  /** Lifecycles as data, beside the built-in `lifecycle` and `ephemeral`; see the README. */
  flows: namedRecord(FlowName, Flow, 'flow').default({}),
  /** Default: `ephemeral` (the ephemeral flow, like the first target, 72h). */
  templates: namedRecord(TargetName, EnvironmentTemplate, 'template').default({
    ephemeral: {
      flow: 'ephemeral',
      ttl: 72 * 3_600_000,
      protected: false,
      driftCheckInterval: 6 * 3_600_000,
    },
  }),
  /** The template of `env create` without `--template`. Default `ephemeral`. */
  defaultTemplate: TargetName.default('ephemeral'),
});
export type EnvironmentsConfig = z.output<typeof EnvironmentsConfig>;

export const Config = z
  .strictObject({
    /** Default DNS zone of every target. */
    zone: Zone.default('greenlight.local'),
    /** At least one. */
    targets: namedRecord(TargetName, TargetConfig, 'target').refine(
      (targets) => Object.keys(targets).length > 0,
      {
        message: 'configure at least one target, e.g. dev: {}',
      },
    ),
    services: namedRecord(ServiceName, ServiceConfig, 'service').default({}),
    /** Integration checks for services without their own. */
    checks: z.array(CheckConfig).min(1),
    healthCheck: HttpCheckConfig,
    /** The circuit breakers of the dependencies; see the README. */
    breakers: BreakersConfig.prefault({}),
    /** Reclaims what releases that ended without cleaning up (terminated, say) left running. */
    janitor: JanitorConfig.prefault({}),
    /** Environments: flows, templates for environments made on demand. */
    environments: EnvironmentsConfig.prefault({}),
    /** Where releases' artifacts are. Default: a local directory that stamps the example service. */
    artifacts: ArtifactsConfig.default({ kind: 'local', stamp: true }),
    /** The cross-service checks and final actions release trains may run, by name. */
    trains: TrainsConfig.prefault({}),
    /** Webhooks told of releases, per target and event. */
    notifications: NotificationsConfig.prefault({}),
    /** The Prometheus server metric analysis asks. */
    prometheus: PrometheusConfig.optional(),
    /** Queries judged while every service bakes (a service may have its own). Default none. */
    analysis: z
      .array(AnalysisConfig)
      .max(20)
      .refine(uniqueNames, 'each analysis has its own name')
      .default([]),
    /** Freezes of every target (each target may add its own). */
    freezes: z.array(Freeze).max(50).default([]),
    /** Payload encryption; without it, payloads are stored as JSON. */
    encryption: EncryptionConfig.optional(),
  })
  .superRefine((config, ctx) => {
    // Every flow and target a target or template names exists.
    const flows = new Set([...BUILT_IN_FLOWS, ...Object.keys(config.environments.flows)]);
    const unknownFlow = (name: string) =>
      `unknown flow ${JSON.stringify(name)}; the flows are ${[...flows].join(', ')}`;
    for (const [name, target] of Object.entries(config.targets)) {
      const from = target.promotion?.from;
      if (from !== undefined && (from === name || !Object.hasOwn(config.targets, from))) {
        ctx.addIssue({
          code: 'custom',
          path: ['targets', name, 'promotion', 'from'],
          message:
            from === name
              ? 'a target promotes from another target'
              : `unknown target ${JSON.stringify(from)}; the targets are ${Object.keys(config.targets).join(', ')}`,
        });
      }
      if (!flows.has(target.environment.flow)) {
        ctx.addIssue({
          code: 'custom',
          path: ['targets', name, 'environment', 'flow'],
          message: unknownFlow(target.environment.flow),
        });
      }
    }
    // A flow whose actions run the environment's module needs one wherever it is used.
    const usesModule = (flow: string) =>
      Object.hasOwn(config.environments.flows, flow) &&
      config.environments.flows[flow]!.transitions.some((t) =>
        [...t.actions, ...t.compensate].some((a) => a.run.startsWith('terraform.')),
      );
    const needsModule = (flow: string, path: PropertyKey[]) =>
      ctx.addIssue({
        code: 'custom',
        path,
        message: `the flow ${flow} runs terraform actions: give this environment a module`,
      });
    for (const [name, target] of Object.entries(config.targets)) {
      if (usesModule(target.environment.flow) && target.environment.module === undefined)
        needsModule(target.environment.flow, ['targets', name, 'environment', 'module']);
    }
    for (const [name, template] of Object.entries(config.environments.templates)) {
      if (usesModule(template.flow) && template.module === undefined)
        needsModule(template.flow, ['environments', 'templates', name, 'module']);
      if (!flows.has(template.flow)) {
        ctx.addIssue({
          code: 'custom',
          path: ['environments', 'templates', name, 'flow'],
          message: unknownFlow(template.flow),
        });
      }
      if (template.like !== undefined && !Object.hasOwn(config.targets, template.like)) {
        ctx.addIssue({
          code: 'custom',
          path: ['environments', 'templates', name, 'like'],
          message: `unknown target ${JSON.stringify(template.like)}; the targets are ${Object.keys(config.targets).join(', ')}`,
        });
      }
      if (Object.hasOwn(config.targets, name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['environments', 'templates', name],
          message: `${name} is a target; give the template another name`,
        });
      }
    }
    const analyses = [config.analysis, ...Object.values(config.services).map((s) => s.analysis ?? [])];
    const metricChecks = [config.checks, ...Object.values(config.services).map((s) => s.checks ?? [])];
    const asksPrometheus =
      analyses.some((a) => a.length > 0) || metricChecks.some((c) => c.some((check) => 'query' in check));
    if (!config.prometheus && asksPrometheus) {
      ctx.addIssue({
        code: 'custom',
        path: ['prometheus'],
        message: 'metric analysis asks a Prometheus server: give prometheus: { url: http://prometheus:9090 }',
      });
    }
    if (!Object.hasOwn(config.environments.templates, config.environments.defaultTemplate)) {
      ctx.addIssue({
        code: 'custom',
        path: ['environments', 'defaultTemplate'],
        message: `unknown template ${JSON.stringify(config.environments.defaultTemplate)}`,
      });
    }
  });
export type Config = z.output<typeof Config>;
export type ConfigInput = z.input<typeof Config>;
