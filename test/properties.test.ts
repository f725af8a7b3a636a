// Property-based tests (fast-check) of every edge greenlight reads: the CLI's arguments, the
// configuration file and its environment variables, flow definitions, and every Signal and Update
// of every workflow, sent to real workflows on a real dev server and worker. Malformed input gets a
// clear refusal that names what is wrong; it never changes a workflow, never enters a history as
// accepted, never fails a workflow task; oversized input is refused.
//
// A short run is part of `npm test`. GREENLIGHT_PROPERTY_RUNS=1000 runs every property at least that
// many times; GREENLIGHT_PROPERTY_SEED replays the seed a run logged.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { after, afterEach, before, describe, it } from 'node:test';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import type { WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { Command } from 'commander';
import fc from 'fast-check';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import type { z } from 'zod';
import type { Harness } from '../harness/release';
import { releaseRequest, startHarness, TEST_CONFIG } from '../harness/release';
import { COMMAND_GROUPS, run } from '../src/client/cli';
import type { CliContext } from '../src/client/commands/context';
import { DEFAULT_CONFIG } from '../src/config/defaults';
import { ConfigError } from '../src/config/errors';
import { Environment, loadConfig, loadSettings } from '../src/config/load';
import { templateEnvironment } from '../src/config/resolve';
import type { ConfigInput } from '../src/config/schema';
import {
  AdmitRequest,
  environmentWorkflowId,
  ExtendRequest,
  RetryRequest,
  TransitionRequest,
  UpgradeRequest,
} from '../src/shared/environment';
import type { EnvironmentStatus } from '../src/shared/environment';
import { ephemeralFlow, lifecycleFlow } from '../src/shared/flow';
import type { FlowInput } from '../src/shared/flow';
import { LANE_WORKFLOW, laneWorkflowId } from '../src/shared/messages';
import {
  ApprovalInput,
  BreakerNotice,
  InterventionInput,
  OverrideInput,
  ReleaseRequest,
} from '../src/shared/release';
import type { ReleaseStatus } from '../src/shared/release';
import { isTrainEnded, TrainCommit } from '../src/shared/train';
import type { TrainStatus } from '../src/shared/train';
import type { Mutation, Path } from './helpers/arbitraries';
import {
  awkwardText,
  describedAs,
  mutationOf,
  namesPath,
  nestedJson,
  OVERSIZED_LENGTH,
  overTheWire,
  oversizedText,
  pathsIn,
  payloadFor,
  preview,
  propertyParameters,
  repeated,
  valueAt,
  withValueAt,
} from './helpers/arbitraries';

/** Started at once, so the dev server boots while the properties that need none run. */
let harness: Promise<Harness> | undefined;

before(() => {
  harness = startHarness();
  // Awaited by the tests that use it; a failure to start shows there.
  harness.catch(() => undefined);
});

after(async () => {
  const h = await harness?.catch(() => undefined);
  await h?.stop();
});

const scratch = mkdtempSync(join(tmpdir(), 'greenlight-properties-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** Output a person can read: no stack frames, no library's raw dump of an error. */
function assertReadable(text: string, context: string): void {
  assert.doesNotMatch(text, /^\s+at .+:\d+:\d+\)?$/m, `a stack trace: ${context}`);
  assert.doesNotMatch(
    text,
    /ZodError|\[object Object\]|"code":\s*"|TypeError|RangeError|ReferenceError|Maximum call stack/,
    `a raw error: ${context}`,
  );
}

/** A value in an assertion's message: long strings cut short. */
const shown = (value: unknown): string => preview(value);

// --- configuration files ----------------------------------------------------------------------

/** Most of what a configuration can say, as the README's examples say it. */
const RICH_CONFIG: ConfigInput = {
  zone: 'corp.internal',
  targets: {
    dev: {
      policy: 'tests_passed',
      bake: '5s',
      healthCheckInterval: '1s',
      terminationWait: '5s',
      recordTtl: 5,
      infra: {
        kind: 'terraform',
        module: 'infra',
        backend: {
          type: 's3',
          config: { bucket: 'tf-state', region: 'eu-west-1', encrypt: true },
          env: { AWS_SECRET_ACCESS_KEY: { env: 'TF_STATE_SECRET' } },
        },
      },
      dns: {
        kind: 'rfc2136',
        server: '127.0.0.1:5353',
        tsig: { name: 'greenlight-key', algorithm: 'hmac-sha256', secret: { env: 'GREENLIGHT_TSIG_SECRET' } },
        timeout: '5s',
      },
    },
    stage: {
      approval: { required: 1, timeout: '24h' },
      policy: { all: ['tests_passed', 'approval_obtained'] },
      environment: { flow: 'smoke-only', protected: true },
    },
    prod: {
      zone: 'prod.corp.internal',
      approval: {
        required: 2,
        approvers: ['alice', 'bob', 'carol'],
        initiatorMayApprove: false,
        timeout: '72h',
      },
      policy: {
        all: ['tests_passed', 'approval_obtained', 'maintenance_window_open', { not: 'slow_scans_skipped' }],
      },
      maintenanceWindows: [
        { days: ['tue', 'wed', 'thu'], start: '22:00', end: '02:00', timeZone: 'Europe/Berlin' },
      ],
      freezes: [{ name: 'audit', from: '2027-03-01', to: '2027-03-05' }],
      onClosedWindow: 'wait',
      bake: '10m',
      terminationWait: '1h',
      recordTtl: 60,
      promotion: { from: 'stage', soak: '2h' },
      rollbackPolicy: { any: ['health_check_failed', 'error_threshold_exceeded'] },
      infra: { kind: 'terraform', module: './infra/prod', binary: '/usr/local/bin/tofu' },
      dns: {
        kind: 'route53',
        hostedZoneId: 'Z0123456789ABC',
        zone: 'corp.internal',
        region: 'eu-central-1',
        endpoint: 'http://127.0.0.1:5000',
        syncTimeout: '90s',
      },
      environment: {
        flow: 'lifecycle',
        protected: true,
        module: './infra/environment',
        driftCheckInterval: '6h',
      },
    },
  },
  environments: {
    flows: {
      'smoke-only': {
        states: ['provisioning', 'active', 'gone'],
        transitions: [
          {
            on: 'provision',
            from: 'provisioning',
            to: 'active',
            auto: true,
            policy: 'command_succeeded',
            actions: [{ run: 'command.run', with: { command: ['./scripts/smoke.sh'] } }],
          },
          { on: 'decommission', from: '*', to: 'gone', actions: [{ run: 'dns.purge' }] },
        ],
      },
    },
    templates: {
      review: { flow: 'lifecycle', like: 'stage', ttl: '72h', module: './infra/environment' },
      ephemeral: { flow: 'ephemeral', like: 'dev', ttl: '72h' },
    },
    defaultTemplate: 'review',
  },
  artifacts: { kind: 's3', bucket: 'builds', prefix: 'releases/', region: 'eu-west-1' },
  checks: [
    { name: 'health', path: '/healthz' },
    { name: 'version', path: '/version', bodyIncludes: '"version":"{{version}}"' },
    { name: 'smoke', command: ['node', 'examples/smoke.js'], timeout: '1m' },
    { name: 'no-crash-loops', query: 'sum(kube_pod_container_status_restarts_total)', max: 0 },
  ],
  healthCheck: { name: 'health', path: '/healthz', latencyBudget: '2s' },
  services: {
    api: {
      checks: [{ name: 'orders', path: '/v1/orders?limit=1', expectStatus: 200, latencyBudget: '1s' }],
      healthCheck: { name: 'ready', path: '/readyz' },
      analysis: [{ name: 'latency', query: 'histogram_quantile(0.99, x)', max: 0.5, for: '30s' }],
    },
  },
  prometheus: { url: 'http://prometheus:9090', headers: { Authorization: { env: 'PROMETHEUS_AUTH' } } },
  analysis: [{ name: 'error-rate', query: 'sum(rate(errors[1m]))', max: 0.05, for: '30s', onNoData: 'wait' }],
  notifications: {
    webUiUrl: 'https://temporal.corp.internal',
    webhooks: [
      {
        name: 'team-chat',
        url: { env: 'SLACK_WEBHOOK_URL' },
        secret: { file: 'webhook.key' },
        events: ['approval_requested', 'rolled_back', 'failed'],
        targets: ['prod'],
        timeout: '5s',
        retryFor: '10m',
      },
    ],
  },
  trains: {
    checks: [{ name: 'e2e', command: ['npm', 'run', 'e2e'], timeout: '10m' }],
    actions: { tag: { command: ['./scripts/tag-release.sh'], timeout: '2m' } },
  },
  breakers: {
    backend: 'local',
    defaults: { waitDuration: '30s', waitBackoffMultiplier: 2, maxWaitDuration: '10m' },
    dependencies: {
      dns: { window: { calls: 20 }, minimumCalls: 10, failureRateThreshold: 50, failureCountThreshold: null },
      'infra:prod': { slowCallDuration: '5m', slowCallRateThreshold: 50 },
      checks: { mode: 'metrics_only', window: '300s' },
    },
  },
  janitor: { enabled: true, interval: '10m', grace: '15m' },
  freezes: [
    {
      name: 'year-end',
      from: '2026-12-19',
      to: '2027-01-03',
      timeZone: 'Europe/Berlin',
      blocks: ['release'],
    },
    { name: 'fridays', recurring: { days: ['fri'], start: '16:00', end: '23:59' }, timeZone: 'Asia/Tokyo' },
  ],
  encryption: {
    keys: [
      { id: '2026-12', key: { env: 'GREENLIGHT_ENCRYPTION_KEY' } },
      { id: '2026-06', key: { file: 'greenlight-2026-06.key' } },
    ],
  },
};

/** A small flow, as the flow tests write it. */
const SMALL_FLOW: FlowInput = {
  states: ['new', 'active', 'gone'],
  transitions: [
    {
      on: 'start',
      from: 'new',
      to: 'active',
      auto: true,
      policy: 'tests_passed',
      actions: [{ run: 'checks.run' }],
    },
    { on: 'decommission', from: '*', to: 'gone', actions: [{ run: 'dns.purge' }] },
  ],
};

/** TEST_CONFIG with `flow` as `environments.flows.custom`, which nothing uses (so no module is needed). */
const withFlow = (flow: FlowInput): ConfigInput => ({
  ...TEST_CONFIG,
  environments: { flows: { custom: flow } },
});

const FLOWS: readonly FlowInput[] = [
  SMALL_FLOW,
  lifecycleFlow(false),
  lifecycleFlow(true),
  ephemeralFlow(false),
  ephemeralFlow(true),
];
const FLOW_PATH: Path = ['environments', 'flows', 'custom'];

/** Valid configurations to break one field at a time (each is checked to load first). */
const CONFIGS: readonly unknown[] = [
  structuredClone(TEST_CONFIG),
  structuredClone(DEFAULT_CONFIG),
  structuredClone(RICH_CONFIG),
  parseYaml(readExample('examples/greenlight.config.yaml')),
  parseYaml(readExample('examples/compose/greenlight.config.yaml')),
  ...FLOWS.map((flow) => structuredClone(withFlow(flow))),
];

function readExample(path: string): string {
  // Compiled to dist/test: the repository is two levels up.
  return readFileSync(join(__dirname, '..', '..', path), 'utf8');
}

/** The document written as a configuration file, YAML or JSON; its path. */
function writeConfig(document: unknown, asYaml: boolean): string {
  let text: string | undefined;
  if (asYaml) {
    try {
      text = stringifyYaml(document);
    } catch {
      // Some values (a lone surrogate) have no YAML form: JSON then.
    }
  }
  const file = join(scratch, text === undefined ? 'greenlight.config.json' : 'greenlight.config.yaml');
  writeFileSync(file, text ?? JSON.stringify(document) ?? 'null');
  return file;
}

/** What loading a configuration file did: loaded, or refused with a ConfigError (anything else fails). */
function load(file: string): { isLoaded: true } | { isLoaded: false; lines: string[]; message: string } {
  try {
    loadConfig(file);
    return { isLoaded: true };
  } catch (e) {
    const error = e as Error;
    assert.ok(
      e instanceof ConfigError,
      `loading threw ${error?.name} instead of a ConfigError: ${String(error?.message).slice(0, 300)}`,
    );
    assertReadable(error.message, error.message.slice(0, 300));
    const what = `invalid configuration in ${file}:`;
    assert.ok(
      error.message.startsWith(what),
      `not a refusal of the file's content: ${error.message.slice(0, 300)}`,
    );
    const rest = error.message.slice(what.length);
    const lines = rest.startsWith('\n')
      ? rest
          .slice(1)
          .split('\n')
          .map((l) => l.trim())
      : [rest.trim()];
    for (const line of lines)
      assert.match(line, /^\S[^\n]*?: .*\S/, `a line that names no key: ${line.slice(0, 300)}`);
    return { isLoaded: false, lines, message: error.message };
  }
}

/** A configuration with one field changed is taken, or refused naming that field. */
function checkMutation(m: Mutation, asYaml: boolean): void {
  const outcome = load(writeConfig(m.document, asYaml));
  if (outcome.isLoaded || !m.isStrict) return;
  assert.ok(
    namesPath(outcome.lines, m.path),
    `${m.kind} at ${m.path.join('.')} (${shown(m.value)}) refused without naming it:\n${outcome.message.slice(0, 1000)}`,
  );
}

/** What loading each configuration did with each of its strings made oversized, one at a time. */
interface OversizedOutcome {
  /** The fields that took an oversized value, as `<base>: <path>`. */
  taken: string[];
  /** The fields whose refusal quoted the value in full (a line over 1000 characters). */
  quoted: string[];
  /** The fields whose oversized value made loading throw something other than a ConfigError. */
  threw: string[];
}

/**
 * Every string of `bases` (under `within`), made oversized with its own first character repeated,
 * so that only a length limit refuses it: a sweep rather than a sample, so that every field that
 * takes one is named at once.
 */
function sweepOversized(
  bases: readonly { name: string; document: unknown }[],
  within: Path = [],
): OversizedOutcome {
  const outcome: OversizedOutcome = { taken: [], quoted: [], threw: [] };
  for (const { name, document } of bases) {
    for (const path of pathsIn(document)) {
      const value = valueAt(document, path);
      if (typeof value !== 'string' || !within.every((key, i) => path[i] === key)) continue;
      const where = `${name}: ${path.join('.')}`;
      const file = writeConfig(withValueAt(document, path, repeated(value[0] ?? 'x')), false);
      try {
        loadConfig(file);
        outcome.taken.push(where);
      } catch (e) {
        const error = e as Error;
        if (!(e instanceof ConfigError)) outcome.threw.push(`${where}: ${error?.name}: ${error?.message}`);
        else if (error.message.split('\n').some((line) => line.length > 1_000)) outcome.quoted.push(where);
      }
    }
  }
  return outcome;
}

/** A list for an assertion's message: the first 30 of its lines. */
const listed = (lines: readonly string[]): string =>
  [...lines.slice(0, 30), ...(lines.length > 30 ? [`… and ${lines.length - 30} more`] : [])].join('\n');

describe('configuration files', () => {
  it('loads every configuration the properties start from', () => {
    for (const base of CONFIGS) {
      const outcome = load(writeConfig(base, false));
      assert.ok(outcome.isLoaded, outcome.isLoaded ? '' : outcome.message);
    }
  });

  it('takes a configuration with one field changed, or refuses it with a ConfigError naming the field', (t) => {
    fc.assert(
      fc.property(
        fc.constantFrom(...CONFIGS).chain((base) => mutationOf(base)),
        fc.boolean(),
        checkMutation,
      ),
      propertyParameters(t, 200),
    );
  });

  it('refuses any text where a URL goes with a ConfigError naming the key', (t) => {
    const urls: Path[] = [
      ['notifications', 'webUiUrl'],
      ['notifications', 'webhooks', 0, 'url'],
      ['prometheus', 'url'],
      ['targets', 'prod', 'dns', 'endpoint'],
    ];
    const text = fc.oneof(
      fc.constantFrom(
        'not a url',
        'ftp://x',
        'http://user:pw@x',
        'http://',
        'https://[::1',
        'javascript:alert(1)',
      ),
      awkwardText,
      fc.webUrl(),
    );
    fc.assert(
      fc.property(fc.constantFrom(...urls), text, fc.boolean(), (path, value, asYaml) =>
        checkMutation(
          {
            kind: 'wrong value',
            path,
            value,
            isStrict: true,
            document: withValueAt(RICH_CONFIG, path, value),
          },
          asYaml,
        ),
      ),
      propertyParameters(t, 50),
    );
  });

  it('refuses any document at all with a ConfigError, or takes it', (t) => {
    fc.assert(
      fc.property(
        fc.oneof(fc.anything(), fc.jsonValue(), fc.object()),
        fc.boolean(),
        (document, asYaml) => void load(writeConfig(document, asYaml)),
      ),
      propertyParameters(t, 100),
    );
  });

  it('refuses a file that is not YAML or JSON with one clear ConfigError', (t) => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.string({ unit: 'binary' }),
          fc.constantFrom('{', ']', ': :', '\t- x', '*a', '!!js/function x'),
        ),
        fc.boolean(),
        (text, asJson) => {
          const file = join(scratch, asJson ? 'raw.json' : 'raw.yaml');
          writeFileSync(file, text);
          try {
            loadConfig(file);
          } catch (e) {
            assert.ok(e instanceof ConfigError, `threw ${(e as Error)?.name}: ${(e as Error)?.message}`);
            assertReadable(e.message, e.message.slice(0, 300));
          }
        },
      ),
      propertyParameters(t, 100),
    );
  });

  let oversized: OversizedOutcome | undefined;
  const oversizedOutcome = () =>
    (oversized ??= sweepOversized([
      { name: 'TEST_CONFIG', document: TEST_CONFIG },
      { name: "the README's configuration", document: RICH_CONFIG },
      { name: 'examples/greenlight.config.yaml', document: CONFIGS[3] },
    ]));

  it('refuses an oversized string in every field, with a ConfigError', () => {
    const { taken, threw } = oversizedOutcome();
    assert.ok(
      taken.length + threw.length === 0,
      [
        ...(threw.length ? [`not a ConfigError:`, listed(threw)] : []),
        ...(taken.length ? [`fields that took ${OVERSIZED_LENGTH + 1} characters:`, listed(taken)] : []),
      ].join('\n'),
    );
  });

  it('never quotes an oversized value in full when it refuses one', () => {
    const { quoted } = oversizedOutcome();
    assert.ok(
      quoted.length === 0,
      `refusals that quote ${OVERSIZED_LENGTH + 1} characters:\n${listed(quoted)}`,
    );
  });

  it('refuses a value nested however deep with a ConfigError, never a stack overflow', (t) => {
    const MARK = 'deeply nested value goes here';
    // Where the value goes, by name (`config 1: targets.dev.policy`): policies mostly, the one recursive field.
    const places = new Map<string, { base: unknown; path: Path }>();
    CONFIGS.forEach((base, i) => {
      for (const path of pathsIn(base)) places.set(`config ${i + 1}: ${path.join('.')}`, { base, path });
    });
    const names = [...places.keys()];
    const policies = names.filter((name) => /\.(policy|rollbackPolicy)$/.test(name));
    fc.assert(
      fc.property(
        fc.oneof({ arbitrary: fc.constantFrom(...policies), weight: 3 }, fc.constantFrom(...names)),
        fc.oneof(fc.integer({ min: 1, max: 50 }), fc.integer({ min: 500, max: 20_000 })),
        fc.constantFrom('not' as const, 'all' as const, 'array' as const),
        (place, depth, shape) => {
          const { base, path } = places.get(place)!;
          const file = join(scratch, 'deep.json');
          const text = JSON.stringify(withValueAt(base, path, MARK));
          writeFileSync(file, text.replace(JSON.stringify(MARK), nestedJson(depth, shape, '"tests_passed"')));
          load(file);
        },
      ),
      propertyParameters(t, 30),
    );
  });

  it('reads any environment variables into settings, or refuses them naming the variable', (t) => {
    const names = Object.keys(Environment.shape);
    const valid = { PATH: process.env.PATH ?? '', GREENLIGHT_STATE_DIR: scratch };
    const value = fc.oneof(
      awkwardText,
      fc.constantFrom(
        '0',
        '1',
        '7233',
        '65536',
        'true',
        'info',
        'pinned',
        'postgres://u:p@db:5432/g',
        'http://x',
      ),
      oversizedText,
    );
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom(...names), value, { minKeys: 1, maxKeys: 3 }), (changed) => {
        try {
          loadSettings({ ...valid, ...changed }, scratch);
        } catch (e) {
          assert.ok(
            e instanceof ConfigError,
            `threw ${(e as Error)?.name}: ${(e as Error)?.message?.slice(0, 300)}`,
          );
          assertReadable(e.message, e.message.slice(0, 300));
          assert.ok(
            Object.keys(changed).some((name) => e.message.includes(name)),
            `refused without naming ${Object.keys(changed).join(', ')}: ${e.message.slice(0, 300)}`,
          );
        }
      }),
      propertyParameters(t, 200),
    );
  });
});

// --- flow definitions -------------------------------------------------------------------------

describe('flow definitions', () => {
  it('takes a flow with one field changed, or refuses it with a ConfigError naming the field', (t) => {
    fc.assert(
      fc.property(
        fc.constantFrom(...FLOWS).chain((flow) => mutationOf(structuredClone(withFlow(flow)), FLOW_PATH)),
        fc.boolean(),
        checkMutation,
      ),
      propertyParameters(t, 200),
    );
  });

  it('refuses an oversized string anywhere in a flow, without quoting it in full', () => {
    const flows = FLOWS.map((flow, i) => ({ name: `flow ${i + 1}`, document: withFlow(flow) }));
    const { taken, quoted, threw } = sweepOversized(flows, FLOW_PATH);
    assert.ok(
      taken.length + threw.length + quoted.length === 0,
      [
        ...(threw.length ? [`not a ConfigError:`, listed(threw)] : []),
        ...(taken.length ? [`flow fields that took ${OVERSIZED_LENGTH + 1} characters:`, listed(taken)] : []),
        ...(quoted.length ? [`refusals that quote ${OVERSIZED_LENGTH + 1} characters:`, listed(quoted)] : []),
      ].join('\n'),
    );
  });
});

// --- CLI arguments ----------------------------------------------------------------------------

interface CommandShape {
  path: string[];
  argumentCount: number;
  options: { flag: string; takesValue: boolean }[];
}

/** Every command of the CLI with its arguments and options, read from the commands themselves. */
function commandShapes(): CommandShape[] {
  const program = new Command('greenlight');
  const unused = (): never => {
    throw new Error('commands are only listed here');
  };
  const context: CliContext = {
    io: { out: unused, err: unused, env: {} },
    settings: unused,
    api: unused,
    print: unused,
    exitWith: unused,
  };
  for (const group of COMMAND_GROUPS) group(program, context);
  const shapes: CommandShape[] = [];
  const walk = (command: Command, path: string[]) => {
    for (const sub of command.commands) {
      const subPath = [...path, sub.name()];
      shapes.push({
        path: subPath,
        argumentCount: sub.registeredArguments.length,
        options: sub.options.map((o) => ({
          flag: o.long ?? o.short ?? '--',
          takesValue: o.required || o.optional,
        })),
      });
      walk(sub, subPath);
    }
  };
  walk(program, []);
  return shapes;
}

const COMMANDS = commandShapes();

/** Values an argument may be given: plausible, awkward or oversized. */
function argumentValue(manifest: string): fc.Arbitrary<string> {
  return fc.oneof(
    {
      arbitrary: fc.constantFrom(
        'web',
        'v1',
        '1f2e3d4',
        'stage',
        'dev',
        'alice',
        '2h',
        '30d',
        '5',
        '2026-12-24T22:00:00+01:00',
        '2026-11-01',
        'train-stage-abc123',
        'web-stage-v1-abc123',
        'api=v1',
        'ui:api',
        'ephemeral',
        'start_maintenance',
        'dns:dev',
        '127.0.0.1',
        'http://localhost:8233',
        manifest,
      ),
      weight: 4,
    },
    { arbitrary: awkwardText, weight: 4 },
    { arbitrary: fc.string({ maxLength: 30 }), weight: 2 },
    { arbitrary: oversizedText, weight: 1 },
  );
}

/** Argument lists: random words, or a command with random options and arguments. */
function argvOf(commands: readonly CommandShape[], manifest: string): fc.Arbitrary<string[]> {
  const value = argumentValue(manifest);
  const word = fc.oneof(
    value,
    fc.constantFrom(...new Set(COMMANDS.flatMap((c) => c.path))),
    fc.constantFrom('--help', '-h', '--json', '--version', '-', '--', '--=', '---x', 'help'),
    fc.string({ maxLength: 12 }).map((s) => `--${s}`),
  );
  const forCommand = (shape: CommandShape) => {
    const option = shape.options.length
      ? fc.constantFrom(...shape.options).chain(({ flag, takesValue }) =>
          takesValue
            ? fc.oneof(
                value.map((v) => [flag, v]),
                value.map((v) => [`${flag}=${v}`]),
                fc.constant([flag]),
              )
            : fc.oneof(
                fc.constant([flag]),
                value.map((v) => [flag, v]),
              ),
        )
      : fc.constant([] as string[]);
    return fc
      .array(
        fc.oneof(
          option,
          value.map((v) => [v]),
          word.map((w) => [w]),
        ),
        { maxLength: 6 },
      )
      .map((parts) => [...shape.path, ...parts.flat()]);
  };
  return fc
    .oneof(
      { arbitrary: fc.array(word, { maxLength: 6 }), weight: 1 },
      { arbitrary: fc.constantFrom(...commands).chain(forCommand), weight: 4 },
    )
    .map((argv) => describedAs(argv, preview(argv)));
}

/** A train manifest's text: a valid one with one field changed, garbage, or more than 64 KiB. */
const manifestText: fc.Arbitrary<{ text: string }> = fc
  .oneof(
    mutationOf({
      target: 'stage',
      services: { api: '1f2e3d4', ui: '9a8b7c6' },
      after: ['ui:api'],
      checks: ['e2e'],
      finalAction: 'tag',
    }).map((m) => {
      try {
        return stringifyYaml(m.document);
      } catch {
        return JSON.stringify(m.document) ?? '';
      }
    }),
    fc.string(),
    fc.constant(`services: {${repeated('a', 70_000)}: v1}`),
  )
  .map((text) => describedAs({ text }, `manifest ${preview(text, 120)}`));

interface CliOutcome {
  code: number;
  out: string;
  err: string;
}

/** Runs the CLI in this process, as `bin/greenlight.js` does; a call to process.exit fails the test. */
async function runCli(argv: string[], env: NodeJS.ProcessEnv): Promise<CliOutcome> {
  let out = '';
  let err = '';
  const exit = process.exit;
  // Commander's help exits with process.exitCode, which the test runner sets once a test has failed.
  const exitCode = process.exitCode;
  process.exitCode = undefined;
  process.exit = ((code?: number) => {
    throw new Error(`the CLI called process.exit(${code}) for ${shown(argv)}`);
  }) as typeof process.exit;
  try {
    const code = await run(argv, { out: (s) => void (out += s), err: (s) => void (err += s), env });
    return { code, out, err };
  } finally {
    process.exit = exit;
    process.exitCode = exitCode;
  }
}

/** A finished CLI run: a known exit code, and a refusal in a line or two for a person. */
function assertClearOutcome(argv: string[], o: CliOutcome): void {
  const context = `${shown(argv)} → exit ${o.code}\n${o.err.slice(0, 600)}`;
  assert.ok([0, 1, 2, 3].includes(o.code), `exit code ${o.code}: ${context}`);
  assertReadable(o.out, context);
  assertReadable(o.err, context);
  if (o.code === 0) return;
  assert.ok(o.err.trim().length > 0, `a refusal that says nothing: ${context}`);
  // A group without its subcommand shows its help.
  if (o.err.startsWith('Usage: ')) return;
  const lines = o.err.trimEnd().split('\n');
  assert.match(lines[0]!, /^(greenlight|error): \S/, `not a refusal: ${context}`);
  assert.doesNotMatch(lines[0]!, /^greenlight: (undefined|null|Error|\[object Object\])$/, context);
  assert.ok(lines.length <= 4, `a refusal of ${lines.length} lines: ${context}`);
}

/**
 * A stand-in for the rare error path of a server that refuses every call (unauthenticated): the CLI
 * learns at once that it cannot use it, without waiting for a timeout, so hundreds of argument lists
 * run in a second. The property after it runs the same arguments against the real dev server.
 */
function startRefusingServer(): Promise<{ address: string; close: () => Promise<void> }> {
  const server = http2.createServer();
  // Connections the CLI's client leaves open would keep close() waiting: it ends them.
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
  });
  server.on('stream', (stream) => {
    stream.respond(
      {
        ':status': 200,
        'content-type': 'application/grpc',
        'grpc-status': '16',
        'grpc-message': 'this is not a Temporal server',
      },
      { endStream: true },
    );
  });
  const close = () =>
    new Promise<void>((done) => {
      server.close(() => done());
      for (const session of sessions) session.destroy();
    });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ address: `127.0.0.1:${(server.address() as AddressInfo).port}`, close }),
    ),
  );
}

describe('CLI arguments', () => {
  let standIn: { address: string; close: () => Promise<void> };
  let env: NodeJS.ProcessEnv;
  const manifest = join(scratch, 'manifest.yaml');

  before(async () => {
    standIn = await startRefusingServer();
    // Nothing it reaches does anything: no Temporal, a CMDB and an admin endpoint on closed ports,
    // a state dir of its own.
    env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      TEMPORAL_ADDRESS: standIn.address,
      GREENLIGHT_STATE_DIR: join(scratch, 'cli-state'),
      GREENLIGHT_CMDB_URL: 'postgres://greenlight@127.0.0.1:1/greenlight',
      GREENLIGHT_ADMIN_PORT: '1',
    };
  });

  after(async () => {
    await standIn?.close();
  });

  it('answers any arguments with an exit code and, for a refusal, a line for a person', async (t) => {
    await fc.assert(
      fc.asyncProperty(argvOf(COMMANDS, manifest), manifestText, async (argv, { text }) => {
        writeFileSync(manifest, text);
        assertClearOutcome(argv, await runCli(argv, env));
      }),
      propertyParameters(t, 200),
    );
  });

  it('refuses an oversized argument anywhere without quoting it in full', async () => {
    // A sweep: every argument and option value of every command, and an unknown command and option.
    const big = repeated('x');
    const argvs = [
      [big],
      ['release', `--${big}`],
      ...COMMANDS.flatMap((shape) => [
        ...(shape.argumentCount ? [[...shape.path, big]] : []),
        ...shape.options.filter((o) => o.takesValue).map((o) => [...shape.path, o.flag, big]),
      ]),
    ];
    const taken: string[] = [];
    const quoted: string[] = [];
    for (const argv of argvs) {
      const o = await runCli(argv, env);
      assertClearOutcome(argv, o);
      const where = argv.map((a) => (a === big ? '<oversized>' : a.replace(big, '<oversized>'))).join(' ');
      if (o.code === 0) taken.push(where);
      else if (o.err.length > 2_000) quoted.push(`${where}: ${o.err.slice(0, 60)}…`);
    }
    assert.ok(
      taken.length + quoted.length === 0,
      [
        ...(taken.length ? ['oversized arguments taken:', listed(taken)] : []),
        ...(quoted.length ? [`refusals that quote ${big.length} characters:`, listed(quoted)] : []),
      ].join('\n'),
    );
  });

  it('answers any arguments clearly when Temporal answers too (a namespace that does not exist)', async (t) => {
    const h = await harness!;
    // `watch` waits for a server that does not answer to come back: not what this run is about.
    const commands = COMMANDS.filter((c) => !c.path.includes('watch'));
    const reaching = {
      ...env,
      TEMPORAL_ADDRESS: h.address,
      TEMPORAL_NAMESPACE: 'greenlight-no-such-namespace',
    };
    await fc.assert(
      fc.asyncProperty(argvOf(commands, manifest), manifestText, async (argv, { text }) => {
        fc.pre(!argv.includes('watch'));
        writeFileSync(manifest, text);
        assertClearOutcome(argv, await runCli(argv, reaching));
      }),
      propertyParameters(t, 60),
    );
  });
});

// --- Signals and Updates ----------------------------------------------------------------------

/** A message a workflow takes, and how to tell a payload it must refuse. */
interface Message {
  name: string;
  payloads: fc.Arbitrary<unknown>;
  /** Whether the workflow must refuse (or ignore) this payload, as it arrives. */
  isMalformed: (payload: unknown) => boolean;
}

/** A message read with `schema`; `orEmpty` when no payload means `{}` (every field optional). */
function message(
  name: string,
  schema: z.ZodType,
  fields: readonly string[],
  example: Record<string, unknown>,
  orEmpty = false,
): Message {
  return {
    name,
    payloads: payloadFor(fields, example),
    isMalformed: (payload) => !schema.safeParse(orEmpty ? (payload ?? {}) : payload).success,
  };
}

/** A name no handler has, with any payload at all. */
const unknownMessage = (names: fc.Arbitrary<string>): fc.Arbitrary<[string, unknown]> =>
  fc.tuple(names, fc.anything());

const approval = (name: string) =>
  message(name, ApprovalInput, ['approver', 'comment'], { approver: 'bob', comment: 'ok' });
const intervention = (name: string) =>
  message(name, InterventionInput, ['by', 'reason'], { by: 'ops', reason: 'why' }, true);

/** Payloads over Temporal's 2 MB blob limit are refused by the server itself, as they should be. */
const TEMPORAL_BLOB_LIMIT = 2 * 1024 * 1024;
const sizeOf = (args: unknown[]) => (JSON.stringify(args) ?? '').length;

/** Sent once by every property over a workflow's messages: 100 kB and 3 MB. */
const OVERSIZED_EXAMPLES = [repeated('x', OVERSIZED_LENGTH), repeated('x', 3_000_000)];

/** A message as sent: its name and arguments. */
type Sent = { name: string; args: unknown[] };
const sent = (name: string, args: unknown[]): Sent =>
  describedAs({ name, args }, `${name}(${preview(args, 200)})`);

/**
 * Messages to send: a known one with a payload it must refuse (alone, none at all, or with one
 * argument more), or a name no handler has.
 */
function sending(messages: readonly Message[], unknownNames: fc.Arbitrary<string>): fc.Arbitrary<Sent> {
  const known = fc.constantFrom(...messages).chain((m) =>
    fc
      .tuple(m.payloads, fc.constantFrom('one', 'none', 'two'), fc.anything({ maxDepth: 1 }))
      .map(([payload, arity, extra]) =>
        sent(m.name, arity === 'none' ? [] : arity === 'one' ? [payload] : [payload, extra]),
      )
      // The handlers read the first argument; none at all is `undefined`.
      .filter((s) => m.isMalformed(overTheWire(s.args[0]))),
  );
  const unknown = unknownMessage(unknownNames).map(([name, payload]) => sent(name, [payload]));
  return fc.oneof({ arbitrary: known, weight: 6 }, { arbitrary: unknown, weight: 1 });
}

/** The fields every oversized example goes into, per message name. */
function oversizedExamples(fieldOf: Record<string, string>) {
  return Object.entries(fieldOf).flatMap(([name, field]) =>
    OVERSIZED_EXAMPLES.map((big): [Sent] => [sent(name, [{ [field]: big }])]),
  );
}

/** A workflow parked where it waits for people, and how to read what it shows. */
interface Parked<S> {
  handle: WorkflowHandle;
  state: () => Promise<S>;
}

/** Events in a workflow's history: how many, and whether a workflow task ever failed. */
async function historyOf(
  handle: WorkflowHandle,
): Promise<{ length: number; failedTasks: number; updates: number }> {
  const events = (await handle.fetchHistory()).events ?? [];
  return {
    length: events.length,
    failedTasks: events.filter((e) => e.workflowTaskFailedEventAttributes).length,
    updates: events.filter(
      (e) =>
        e.workflowExecutionUpdateAcceptedEventAttributes ||
        e.workflowExecutionUpdateCompletedEventAttributes ||
        e.workflowExecutionUpdateAdmittedEventAttributes,
    ).length,
  };
}

/**
 * Waits until a workflow has nothing in flight: its history stops growing and does not end with a
 * workflow task under way. A property then sees only what its own messages do.
 */
async function settled(handle: WorkflowHandle): Promise<void> {
  let last = -1;
  for (const deadline = Date.now() + 30_000; Date.now() < deadline;) {
    const events = (await handle.fetchHistory()).events ?? [];
    const end = events.at(-1);
    const isBusy = Boolean(
      end?.workflowTaskScheduledEventAttributes || end?.workflowTaskStartedEventAttributes,
    );
    if (!isBusy && events.length === last) return;
    last = events.length;
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  throw new Error(`${handle.workflowId} did not settle`);
}

async function assertRunning(handle: WorkflowHandle, context: string): Promise<void> {
  const { status } = await handle.describe();
  assert.equal(status.name, 'RUNNING', `the workflow is ${status.name} after ${context}`);
}

/** A refused Update: refused by the workflow's validator in words for a person, or by the server when oversized. */
function assertRefused(e: unknown, s: Sent, types: readonly string[]): void {
  const context = `${s.name}(${shown(s.args)})`;
  assert.ok(e instanceof Error, `${context} was refused with ${shown(e)}`);
  if (sizeOf(s.args) > TEMPORAL_BLOB_LIMIT && !(e instanceof WorkflowUpdateFailedError)) {
    assert.ok(e.message.length > 0, `${context}: the server refused it without a word`);
    return;
  }
  assert.ok(e instanceof WorkflowUpdateFailedError, `${context} failed with ${e.name}: ${e.message}`);
  const cause = e.cause;
  assert.ok(
    cause instanceof ApplicationFailure,
    `${context}: the refusal is ${cause?.name}: ${cause?.message}`,
  );
  const isUnknown = /no registered handler|unknown update/i.test(cause.message);
  assert.ok(
    isUnknown || types.includes(cause.type ?? ''),
    `${context}: refused as ${cause.type} (${cause.message.slice(0, 300)}), not as ${types.join(' or ')}`,
  );
  assert.ok(cause.message.trim().length > 0, `${context}: refused without a reason`);
  assert.ok(cause.message.length <= 1_000, `${context}: a refusal of ${cause.message.length} characters`);
  assertReadable(cause.message, `${context}: ${cause.message.slice(0, 300)}`);
}

/**
 * Every malformed Update is refused before it is accepted: no event enters the history, what the
 * workflow shows stays the same, and it keeps running with no failed workflow task.
 */
async function refusesMalformedUpdates<S>(
  t: TestContext,
  parked: Parked<S>,
  messages: fc.Arbitrary<Sent>,
  options: { types: readonly string[]; runs: number; maxRuns?: number; examples: [Sent][] },
): Promise<void> {
  await fc.assert(
    fc.asyncProperty(messages, async (s) => {
      const [before, shownBefore] = await Promise.all([historyOf(parked.handle), parked.state()]);
      const refusal = await parked.handle.executeUpdate(s.name, { args: s.args as [unknown] }).then(
        (receipt) => assert.fail(`${s.name}(${shown(s.args)}) was accepted: ${shown(receipt)}`),
        (e: unknown) => e,
      );
      assertRefused(refusal, s, options.types);
      const [afterwards, shownAfter] = await Promise.all([historyOf(parked.handle), parked.state()]);
      const context = `${s.name}(${shown(s.args)})`;
      assert.equal(afterwards.updates, before.updates, `${context} entered the history as accepted`);
      assert.equal(afterwards.length, before.length, `${context} added events to the history`);
      assert.equal(afterwards.failedTasks, 0, `${context}: a workflow task failed`);
      assert.deepEqual(shownAfter, shownBefore, `${context} changed the workflow`);
      await assertRunning(parked.handle, context);
    }),
    propertyParameters(t, options.runs, { examples: options.examples, endOnFailure: true }, options.maxRuns),
  );
}

/**
 * Every malformed Signal is ignored: the workflow may record the refusal in its status (a signal
 * has no other answer), but nothing else changes, no workflow task fails, and it keeps running.
 */
async function ignoresMalformedSignals<S>(
  t: TestContext,
  parked: Parked<S>,
  messages: fc.Arbitrary<Sent>,
  options: {
    runs: number;
    maxRuns?: number;
    examples: [Sent][];
    unrecorded: (shown: S) => unknown;
    refusals?: (shown: S) => string[];
  },
): Promise<void> {
  await fc.assert(
    fc.asyncProperty(messages, async (s) => {
      const context = `signal ${s.name}(${shown(s.args)})`;
      const shownBefore = await parked.state();
      const signalled = await parked.handle.signal(s.name, ...s.args).then(
        () => null,
        (e: unknown) => e as Error,
      );
      if (signalled) {
        // Only the server refuses a signal, and only one over its blob size limit.
        assert.ok(sizeOf(s.args) > TEMPORAL_BLOB_LIMIT, `${context} could not be sent: ${signalled.message}`);
      }
      const shownAfter = await parked.state();
      assert.deepEqual(
        options.unrecorded(shownAfter),
        options.unrecorded(shownBefore),
        `${context} changed the workflow`,
      );
      for (const reason of options.refusals?.(shownAfter) ?? []) {
        assert.ok(reason.length <= 1_000, `${context}: a recorded refusal of ${reason.length} characters`);
        assertReadable(reason, `${context}: ${reason.slice(0, 300)}`);
      }
      assert.equal((await historyOf(parked.handle)).failedTasks, 0, `${context}: a workflow task failed`);
      await assertRunning(parked.handle, context);
    }),
    propertyParameters(t, options.runs, { examples: options.examples, endOnFailure: true }, options.maxRuns),
  );
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Names no workflow has a handler for (a query's name among them). */
const unknownNames = (known: readonly string[]): fc.Arbitrary<string> =>
  fc
    .oneof(
      fc.string({ minLength: 1, maxLength: 40 }),
      fc.constantFrom('status', 'holder', 'Approve', 'approve ', '__proto__'),
    )
    .filter((name) => name.trim().length > 0 && !known.includes(name));

/** A release's status without what a refused signal records: the refusal, and when it came. */
const unrecordedRelease = (s: ReleaseStatus | TrainStatus) => ({
  ...s,
  updatedAt: undefined,
  approvals: { ...s.approvals, refused: undefined },
});

/** A release of `prop` to stage: one approval needed (TEST_CONFIG), so it parks waiting for it. */
const PROP_REQUEST = { service: 'prop', version: 'v1', target: 'stage', initiator: 'ci' };

const RELEASE_UPDATES: readonly Message[] = [
  approval('approve'),
  approval('reject'),
  intervention('rollback'),
  intervention('abort'),
  intervention('go'),
  message('overrideWindow', OverrideInput, ['approver', 'reason'], { approver: 'bob', reason: 'hotfix' }),
];

const RELEASE_SIGNALS: readonly Message[] = [
  ...RELEASE_UPDATES.filter((m) => m.name !== 'overrideWindow'),
  message('breakerNotice', BreakerNotice, ['breaker', 'state', 'step', 'message', 'retryAt'], {
    breaker: 'dns:stage',
    state: 'open',
    step: 'swap alias',
    message: 'circuit breaker dns:stage is open',
    retryAt: '2026-12-24T21:00:00.000Z',
  }),
  message('trainCommit', TrainCommit, ['train'], { train: 'train-stage-abc123' }),
];

const ENVIRONMENT_UPDATES: readonly Message[] = [
  message('transition', TransitionRequest, ['on', 'by', 'reason', 'force'], {
    on: 'reconcile',
    by: 'ops',
    reason: 'why',
  }),
  approval('approve'),
  approval('reject'),
  message('retry', RetryRequest, ['by'], { by: 'ops' }, true),
  message('upgrade', UpgradeRequest, ['by'], { by: 'ops' }, true),
  message('check_drift', UpgradeRequest, ['by'], { by: 'ops' }, true),
  message('admit', AdmitRequest, ['releaseId', 'service', 'version'], {
    releaseId: 'web-prop-env-v1-abc123',
    service: 'web',
    version: 'v1',
  }),
  message('extend', ExtendRequest, ['ttlMs', 'by'], { ttlMs: 3_600_000, by: 'ops' }),
];

const TRAIN_UPDATES: readonly Message[] = [
  approval('approve'),
  approval('reject'),
  intervention('abort'),
  intervention('rollback'),
];

/** The lane's `startRelease`: a release id and a release request, either malformed. */
const START_RELEASE: Message = {
  name: 'startRelease',
  payloads: fc.oneof(
    payloadFor(['releaseId', 'request'], { releaseId: 'prop-stage-v1-abc123', request: PROP_REQUEST }),
    payloadFor(
      [
        'service',
        'version',
        'target',
        'initiator',
        'skipSlowScans',
        'holdBeforeCutover',
        'train',
        'notBefore',
      ],
      PROP_REQUEST,
    ).map((request) => ({ releaseId: 'prop-stage-v1-abc123', request })),
  ),
  // Well formed means a valid request and an id in this lane's form; anything else is refused.
  isMalformed: (payload) => {
    const start = isRecord(payload) ? payload : {};
    return (
      !ReleaseRequest.safeParse(start.request).success ||
      typeof start.releaseId !== 'string' ||
      !start.releaseId.startsWith('prop-stage-')
    );
  },
};

async function until<T>(read: () => Promise<T>, isThere: (value: T) => boolean, what: string): Promise<T> {
  const deadline = Date.now() + 60_000;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await read();
    if (isThere(last)) return last;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}; last: ${shown(last)}`);
}

describe('Signals and Updates of every workflow, on a real worker', () => {
  let h: Harness;
  let releaseId = '';
  /** An ephemeral environment, active and idle. */
  let environment: Promise<Parked<EnvironmentStatus>>;
  /** A train of one service to stage, waiting for its approval. */
  let train: Promise<Parked<TrainStatus> & { trainId: string; members: string[] }>;

  /** A workflow's handle and status once `isParked` holds and nothing is in flight. */
  async function park<S>(workflowId: string, query: string, isParked: (s: S) => boolean, what: string) {
    const handle = h.client.workflow.getHandle(workflowId);
    const state = () => handle.query<S>(query);
    const parked = await until(state, isParked, `${workflowId} to ${what}`);
    await settled(handle);
    return { handle, state, parked };
  }

  before(async () => {
    h = await harness!;
    environment = (async () => {
      const start = templateEnvironment(h.config, 'prop-env', 'ephemeral', 'ci');
      assert.ok(!('error' in start), 'error' in start ? start.error : '');
      await h.api.environments.create(start);
      const isIdle = (s: EnvironmentStatus) => s.state === 'active' && s.running === null;
      return park(environmentWorkflowId('prop-env'), 'status', isIdle, 'be active');
    })();
    train = (async () => {
      const { trainId } = await h.api.trains.start({
        target: 'stage',
        initiator: 'ci',
        services: [{ service: 'ptrain', version: 'v1' }],
      });
      const isWaiting = (s: TrainStatus) => s.stage === 'awaiting_approval';
      const parked = await park(trainId, 'status', isWaiting, 'await approval');
      return { ...parked, trainId, members: parked.parked.services.map((s) => s.releaseId) };
    })();
    // Awaited by their tests.
    environment.catch(() => undefined);
    train.catch(() => undefined);
  });

  // Before the harness stops, even when a filter skipped the tests that wait for them.
  after(() => Promise.allSettled([environment, train]));

  // The worker never stops on what it was sent.
  afterEach(() => assert.equal(h?.worker.getState(), 'RUNNING'));

  const laneId = laneWorkflowId('prop', 'stage');
  const laneOf = (handle: WorkflowHandle): Parked<unknown> => ({
    handle,
    state: () => handle.query('holder'),
  });

  it(
    'a free lane refuses every malformed startRelease, and ignores any signal',
    { timeout: 180_000 },
    async (t) => {
      // Started by hand, it frees itself after a minute without an admission: these runs take
      // seconds, and a long sweep runs at most 250 of them.
      const handle = await h.client.workflow.start(LANE_WORKFLOW, {
        workflowId: laneId,
        taskQueue: h.taskQueue,
        args: [],
      });
      await settled(handle);
      await refusesMalformedUpdates(
        t,
        laneOf(handle),
        sending([START_RELEASE], unknownNames(['startRelease'])),
        {
          types: ['InvalidInput'],
          runs: 20,
          maxRuns: 150,
          examples: oversizedExamples({ startRelease: 'releaseId' }),
        },
      );
      const anySignal = unknownNames([]).chain((name) =>
        fc.tuple(fc.constantFrom('free', name), fc.anything()).map(([n, p]) => sent(n, [p])),
      );
      await ignoresMalformedSignals(t, laneOf(handle), anySignal, {
        runs: 10,
        maxRuns: 100,
        examples: [],
        unrecorded: (s) => s,
      });
    },
  );

  it(
    'the lane still admits a valid release afterwards, which waits for its approval',
    { timeout: 180_000 },
    async () => {
      ({ releaseId } = await h.api.startRelease(releaseRequest('prop', 'v1', 'stage')));
      assert.deepEqual(await h.client.workflow.getHandle(laneId).query('holder'), {
        releaseId,
        version: 'v1',
      });
      await park<ReleaseStatus>(
        releaseId,
        'status',
        (s) => s.stage === 'awaiting_approval',
        'await approval',
      );
    },
  );

  const parkedRelease = async (): Promise<Parked<ReleaseStatus>> => {
    assert.ok(releaseId, 'the lane admitted no release');
    return park<ReleaseStatus>(releaseId, 'status', (s) => s.stage === 'awaiting_approval', 'await approval');
  };

  it('a release refuses every malformed Update before it is accepted', { timeout: 180_000 }, async (t) => {
    const names = RELEASE_UPDATES.map((m) => m.name);
    await refusesMalformedUpdates(t, await parkedRelease(), sending(RELEASE_UPDATES, unknownNames(names)), {
      types: ['RequestRefused'],
      runs: 25,
      examples: oversizedExamples({ approve: 'approver', overrideWindow: 'reason' }),
    });
  });

  it(
    'a release ignores every malformed Signal, recording the refusal only',
    { timeout: 180_000 },
    async (t) => {
      const names = RELEASE_SIGNALS.map((m) => m.name);
      await ignoresMalformedSignals(t, await parkedRelease(), sending(RELEASE_SIGNALS, unknownNames(names)), {
        runs: 25,
        examples: oversizedExamples({ approve: 'approver' }),
        unrecorded: unrecordedRelease,
        refusals: (s) => s.approvals.refused.map((r) => r.reason),
      });
    },
  );

  it(
    'the lane a release holds refuses every startRelease, well formed or not',
    { timeout: 180_000 },
    async (t) => {
      const handle = h.client.workflow.getHandle(laneId);
      assert.ok(releaseId && (await handle.query('holder')), 'the lane holds no release');
      const anyStart: Message = {
        name: 'startRelease',
        payloads: fc.oneof(
          START_RELEASE.payloads,
          fc.constant({ releaseId: 'prop-stage-v1-fedcba', request: PROP_REQUEST }),
        ),
        isMalformed: () => true,
      };
      await refusesMalformedUpdates(t, laneOf(handle), sending([anyStart], unknownNames(['startRelease'])), {
        types: ['ReleaseConflict', 'LaneClosing'],
        runs: 10,
        examples: [],
      });
    },
  );

  it('the release still takes a valid approval afterwards, and completes', { timeout: 180_000 }, async () => {
    await parkedRelease();
    const receipt = await h.api.approve(releaseId, { approver: 'bob', comment: 'after the properties' });
    assert.equal(receipt.accepted, true);
    const final = await h.api.wait(releaseId);
    assert.equal(final.stage, 'completed', final.reason ?? '');
  });

  it(
    'an environment refuses every malformed Update before it is accepted',
    { timeout: 180_000 },
    async (t) => {
      const names = ENVIRONMENT_UPDATES.map((m) => m.name);
      await refusesMalformedUpdates(t, await environment, sending(ENVIRONMENT_UPDATES, unknownNames(names)), {
        types: ['RequestRefused'],
        runs: 25,
        examples: oversizedExamples({ transition: 'on', extend: 'by' }),
      });
    },
  );

  it(
    'an environment ignores every malformed Signal, recording the refusal only',
    { timeout: 180_000 },
    async (t) => {
      const signals = ENVIRONMENT_UPDATES.filter((m) => m.name !== 'admit');
      await ignoresMalformedSignals(
        t,
        await environment,
        sending(signals, unknownNames(signals.map((m) => m.name))),
        {
          runs: 25,
          examples: oversizedExamples({ transition: 'reason' }),
          unrecorded: (s) => ({ ...s, approvals: { ...s.approvals, refused: undefined } }),
          refusals: (s) => s.approvals.refused.map((r) => r.reason),
        },
      );
    },
  );

  it('the environment still takes a valid extend afterwards', { timeout: 180_000 }, async () => {
    const { state } = await environment;
    const before = await state();
    const receipt = await h.api.environments.extend('prop-env', { ttlMs: 2 * 3_600_000, by: 'ci' });
    assert.equal(receipt.accepted, true);
    const after = await until(state, (s) => s.ttl?.expiresAt !== before.ttl?.expiresAt, 'the new TTL');
    assert.ok(
      Date.parse(after.ttl!.expiresAt) < Date.parse(before.ttl!.expiresAt),
      'the TTL moved to 2 h from now',
    );
  });

  it('a train refuses every malformed Update before it is accepted', { timeout: 180_000 }, async (t) => {
    const names = TRAIN_UPDATES.map((m) => m.name);
    await refusesMalformedUpdates(t, await train, sending(TRAIN_UPDATES, unknownNames(names)), {
      types: ['RequestRefused'],
      runs: 25,
      examples: oversizedExamples({ approve: 'comment' }),
    });
  });

  it(
    'a train ignores every malformed Signal, recording the refusal only',
    { timeout: 180_000 },
    async (t) => {
      const parked = await train;
      // A nudge that names none of the train's releases is not believed.
      const nudge: Message = {
        name: 'trainNudge',
        payloads: fc.oneof(fc.anything(), payloadFor(['releaseId'], { releaseId: parked.members[0]! })),
        isMalformed: (p) =>
          !(isRecord(p) && typeof p.releaseId === 'string' && parked.members.includes(p.releaseId)),
      };
      const signals = [...TRAIN_UPDATES, nudge];
      await ignoresMalformedSignals(t, parked, sending(signals, unknownNames(signals.map((m) => m.name))), {
        runs: 25,
        examples: oversizedExamples({ reject: 'approver' }),
        unrecorded: unrecordedRelease,
        refusals: (s) => s.approvals.refused.map((r) => r.reason),
      });
    },
  );

  it('the train still takes a valid approval afterwards, and completes', { timeout: 180_000 }, async () => {
    const { trainId, state } = await train;
    const receipt = await h.api.trains.approve(trainId, { approver: 'bob' });
    assert.equal(receipt.accepted, true);
    const final = await until(state, (s) => isTrainEnded(s.stage), 'the train to end');
    assert.equal(final.stage, 'completed', final.reason ?? '');
  });
});
