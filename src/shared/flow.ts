import { z } from 'zod';
import { Policy, policyFacts } from './policy';

/**
 * What each executor does and the facts it yields when it succeeds. Executors are the adapters
 * greenlight already has; `command.run` runs an argument array (never a shell), the escape hatch.
 */
export const EXECUTORS = {
  'terraform.apply': { yields: ['infrastructure_ready'], does: "apply the environment's module" },
  'terraform.plan': { yields: ['infrastructure_unchanged'], does: "plan the environment's module (drift)" },
  'terraform.destroy': { yields: ['infrastructure_destroyed'], does: "destroy the environment's module" },
  'dns.probe': {
    yields: ['network_configured'],
    does: "write, read back and delete a marker record through the environment's DNS provider",
  },
  'dns.purge': { yields: ['dns_purged'], does: "delete every DNS record of the environment's names" },
  'dns.reconcile': {
    yields: ['dns_reconciled'],
    does: "point each service's alias back at the deployment the CMDB records as live",
  },
  'checks.run': { yields: ['tests_passed'], does: "run the environment's smoke checks" },
  'cmdb.register': { yields: ['registered'], does: 'record the environment as a configuration item' },
  'cmdb.retire': { yields: ['retired'], does: "retire the environment's configuration items" },
  'secrets.verify': {
    yields: ['config_valid', 'secrets_available'],
    does: "check the environment's settings and that every secret reference resolves (never its value)",
  },
  'deployments.teardown': {
    yields: ['deployments_removed'],
    does: 'tear down every deployment of the environment',
  },
  'command.run': { yields: ['command_succeeded'], does: 'run a command (an argument array, never a shell)' },
} as const;
export type ExecutorName = keyof typeof EXECUTORS;
export const EXECUTOR_NAMES = Object.keys(EXECUTORS) as [ExecutorName, ...ExecutorName[]];

/** Facts an environment knows whatever its actions did. */
export const ENVIRONMENT_FACTS = {
  maintenance_window_open:
    "now is inside one of the environment's maintenance windows (always, when it has none)",
  no_active_deployments: 'no release holds a lane in the environment',
  approval_obtained: "the environment's required number of distinct approvals has been given",
} as const;

/** A flow's name in the configuration. */
export const FlowName = z
  .string()
  .max(40)
  .regex(/^[a-z][a-z0-9_-]*$/, 'a flow name is lowercase, e.g. ephemeral');

/** The flows every configuration has. */
export const BUILT_IN_FLOWS = ['lifecycle', 'ephemeral'] as const;

/** The transition every flow must offer from every state but its last: it ends the environment. */
export const DECOMMISSION = 'decommission';

const Name = (what: string) =>
  z
    .string()
    .max(40)
    .regex(
      /^[a-z][a-z0-9_]*$/,
      `a ${what} is lower_snake_case, e.g. ${what === 'state' ? 'active' : 'provision'}`,
    );
export const StateName = Name('state');
export const TransitionName = Name('transition');

/** A value an action takes: plain JSON, small. */
const Setting = z.union([
  z.string().max(2000),
  z.number(),
  z.boolean(),
  z.array(z.string().max(2000)).max(50),
]);

export const FlowAction = z.strictObject({
  /** `<executor>.<action>`, e.g. `terraform.apply`. */
  run: z.enum(EXECUTOR_NAMES, { error: `an executor: ${EXECUTOR_NAMES.join(', ')}` }),
  /** The action's settings, e.g. `{ command: [./smoke.sh] }` for `command.run`. */
  with: z
    .record(z.string().regex(/^[a-zA-Z][a-zA-Z0-9_]{0,39}$/, 'a setting name such as command'), Setting)
    .refine((settings) => Object.keys(settings).length <= 20, 'at most 20 settings')
    .optional(),
});
export type FlowAction = z.infer<typeof FlowAction>;

export const FlowTransition = z.strictObject({
  /** The transition's name: what people ask for (`start_maintenance`). */
  on: TransitionName,
  /** The states it leaves from, or `*` for every state but the last. */
  from: z.union([StateName, z.array(StateName).min(1).max(20), z.literal('*')]),
  /** The state the environment shows while the actions run (default: the state it leaves). */
  via: StateName.optional(),
  to: StateName,
  /** Judged on the facts the actions yield and the environment's own facts; default: always. */
  policy: Policy.optional(),
  actions: z.array(FlowAction).max(20).default([]),
  /** Run in reverse order when the transition fails half-way, before it is retried. */
  compensate: z.array(FlowAction).max(20).default([]),
  /** Taken by itself as soon as the environment is in a `from` state (the way to `active`). */
  auto: z.boolean().default(false),
  /** Needs the environment's approval rule on a protected environment. */
  approval: z.boolean().default(false),
});
export type FlowTransition = z.output<typeof FlowTransition>;

const FlowShape = z.strictObject({
  /** Every state; the first is where an environment starts, the last where it ends. */
  states: z.array(StateName).min(2).max(20),
  transitions: z.array(FlowTransition).min(1).max(50),
});

/** An environment's lifecycle as data: its states and the transitions between them. */
export const Flow = FlowShape.superRefine((flow, ctx) => {
  for (const problem of flowProblems(flow)) ctx.addIssue({ code: 'custom', ...problem });
});
export type Flow = z.output<typeof Flow>;
export type FlowInput = z.input<typeof Flow>;

/** The states a transition leaves from. */
export function fromStates(flow: Pick<Flow, 'states'>, t: Pick<FlowTransition, 'from'>): string[] {
  if (t.from === '*') return flow.states.slice(0, -1);
  return typeof t.from === 'string' ? [t.from] : t.from;
}

/** The transition named `on` that leaves `state`, if any. */
export function transitionFrom(flow: Flow, state: string, on: string): FlowTransition | undefined {
  return flow.transitions.find((t) => t.on === on && fromStates(flow, t).includes(state));
}

/** The transition an environment takes by itself from `state`, if any. */
export function autoTransitionFrom(flow: Flow, state: string): FlowTransition | undefined {
  return flow.transitions.find((t) => t.auto && fromStates(flow, t).includes(state));
}

/** The facts a transition's policy may name: its actions' and the environment's own. */
export function knownFacts(t: Pick<FlowTransition, 'actions'>): Set<string> {
  return new Set([...Object.keys(ENVIRONMENT_FACTS), ...t.actions.flatMap((a) => EXECUTORS[a.run].yields)]);
}

/**
 * What is wrong with a flow, each with the key it is at: a state no transition names or reaches,
 * a fact no action yields, a name used twice from one state, a state with no way to decommission.
 */
export function flowProblems(flow: z.output<typeof FlowShape>): { path: PropertyKey[]; message: string }[] {
  const problems: { path: PropertyKey[]; message: string }[] = [];
  const states = new Set(flow.states);
  const last = flow.states.at(-1)!;
  if (states.size !== flow.states.length)
    problems.push({ path: ['states'], message: 'a state is named twice' });
  const unknown = (name: string) =>
    `unknown state ${JSON.stringify(name)}; the states are ${flow.states.join(', ')}`;
  const seen = new Set<string>();
  flow.transitions.forEach((t, i) => {
    const from = t.from === '*' ? [] : typeof t.from === 'string' ? [t.from] : t.from;
    from.forEach((s, j) => {
      if (!states.has(s))
        problems.push({
          path: ['transitions', i, 'from', ...(typeof t.from === 'string' ? [] : [j])],
          message: unknown(s),
        });
    });
    if (from.includes(last)) {
      problems.push({
        path: ['transitions', i, 'from'],
        message: `${last} is the last state: nothing leaves it`,
      });
    }
    for (const key of ['to', 'via'] as const) {
      const s = t[key];
      if (s !== undefined && !states.has(s))
        problems.push({ path: ['transitions', i, key], message: unknown(s) });
    }
    for (const s of fromStates(flow, t)) {
      if (seen.has(`${s} ${t.on}`)) {
        problems.push({ path: ['transitions', i, 'on'], message: `${t.on} leaves ${s} twice` });
      }
      seen.add(`${s} ${t.on}`);
    }
    const facts = knownFacts(t);
    for (const fact of t.policy === undefined ? [] : policyFacts(t.policy)) {
      if (!facts.has(fact)) {
        problems.push({
          path: ['transitions', i, 'policy'],
          message: `unknown fact ${JSON.stringify(fact)}: neither the environment nor an action of ${t.on} yields it (known: ${[...facts].join(', ')})`,
        });
      }
    }
    const autos = fromStates(flow, t).filter((s) =>
      flow.transitions.some((o) => o !== t && o.auto && t.auto && fromStates(flow, o).includes(s)),
    );
    if (autos.length)
      problems.push({
        path: ['transitions', i, 'auto'],
        message: `two transitions leave ${autos[0]} by themselves`,
      });
  });
  // Every state is reachable from the first, and every state but the last can be decommissioned.
  const reached = new Set([flow.states[0]!]);
  for (let grew = true; grew;) {
    grew = false;
    for (const t of flow.transitions) {
      if (!fromStates(flow, t).some((s) => reached.has(s))) continue;
      for (const s of [t.via, t.to]) {
        if (s !== undefined && states.has(s) && !reached.has(s)) {
          reached.add(s);
          grew = true;
        }
      }
    }
  }
  flow.states.forEach((s, i) => {
    if (!reached.has(s))
      problems.push({ path: ['states', i], message: `${s} cannot be reached from ${flow.states[0]}` });
  });
  for (const s of flow.states.slice(0, -1)) {
    const way = flow.transitions.find(
      (t) => t.on === DECOMMISSION && t.to === last && fromStates(flow, t).includes(s),
    );
    if (!way) {
      problems.push({
        path: ['transitions'],
        message: `no way to decommission from ${s}: add { on: decommission, from: '*', to: ${last} }`,
      });
      break;
    }
  }
  return problems;
}

const DECOMMISSION_ACTIONS: FlowAction[] = [{ run: 'deployments.teardown' }, { run: 'dns.purge' }];

/**
 * The source document's lifecycle: provisioning → configuring → testing → active ↔ maintenance,
 * and decommissioning from anywhere. `withModule` adds the environment's Terraform/OpenTofu module.
 */
export function lifecycleFlow(withModule: boolean): FlowInput {
  const infra = withModule ? [{ run: 'terraform.apply' as const }] : [];
  return {
    states: [
      'provisioning',
      'configuring',
      'testing',
      'active',
      'maintenance',
      'decommissioning',
      'decommissioned',
    ],
    transitions: [
      {
        on: 'provision',
        from: 'provisioning',
        to: 'configuring',
        auto: true,
        policy: withModule ? { all: ['infrastructure_ready', 'network_configured'] } : 'network_configured',
        // The CMDB is a record, not a gate: every transition updates the environment's item anyway.
        actions: [...infra, { run: 'dns.probe' }],
        compensate: withModule ? [{ run: 'terraform.destroy' }] : [],
      },
      {
        on: 'configure',
        from: 'configuring',
        to: 'testing',
        auto: true,
        policy: { all: ['config_valid', 'secrets_available'] },
        actions: [{ run: 'secrets.verify' }],
      },
      {
        on: 'verify',
        from: 'testing',
        to: 'active',
        auto: true,
        policy: 'tests_passed',
        actions: [{ run: 'checks.run' }],
      },
      {
        on: 'start_maintenance',
        from: 'active',
        to: 'maintenance',
        policy: { all: ['maintenance_window_open', 'no_active_deployments'] },
      },
      { on: 'end_maintenance', from: 'maintenance', to: 'active' },
      {
        // After drift: the module applied again and the aliases put back as the CMDB has them.
        on: 'reconcile',
        from: 'active',
        to: 'active',
        approval: true,
        policy: withModule ? { all: ['infrastructure_ready', 'dns_reconciled'] } : 'dns_reconciled',
        actions: [...infra, { run: 'dns.reconcile' }],
      },
      {
        on: DECOMMISSION,
        from: '*',
        via: 'decommissioning',
        to: 'decommissioned',
        approval: true,
        actions: [
          ...DECOMMISSION_ACTIONS,
          ...(withModule ? [{ run: 'terraform.destroy' as const }] : []),
          { run: 'cmdb.retire' },
        ],
      },
    ],
  };
}

/** An environment made for a while (a pull request's): no configuring step, no maintenance. */
export function ephemeralFlow(withModule: boolean): FlowInput {
  const lifecycle = lifecycleFlow(withModule);
  const [provision, , verify, , , reconcile, decommission] = lifecycle.transitions;
  return {
    states: ['provisioning', 'testing', 'active', 'decommissioning', 'decommissioned'],
    transitions: [{ ...provision!, to: 'testing' }, verify!, reconcile!, decommission!],
  };
}
