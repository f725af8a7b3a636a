import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError } from '../src/config/errors';
import { loadConfig, loadSettings } from '../src/config/load';
import { targetSettings } from '../src/config/resolve';
import { readTsigSecret } from '../src/compose/dns';
import { Duration } from '../src/shared/durations';
import { isMaintenanceWindowOpen } from '../src/shared/target';

async function tempFile(name: string, text: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'greenlight-config-'));
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

describe('configuration', () => {
  it('embeds dev, stage and prod with the documented rules and short waits', () => {
    const { config, source } = loadConfig(undefined);
    assert.equal(source, 'embedded default');
    const dev = targetSettings(config, 'dev')!;
    const stage = targetSettings(config, 'stage')!;
    const prod = targetSettings(config, 'prod')!;
    assert.equal(dev.approval.required, 0);
    assert.equal(stage.approval.required, 1);
    assert.equal(stage.approval.approvers, undefined, 'anyone may approve stage');
    assert.equal(prod.approval.required, 2);
    assert.equal(prod.approval.initiatorMayApprove, false);
    assert.equal(dev.bake, 10_000);
    assert.equal(dev.terminationWait, 30_000);
    assert.equal(stage.approval.timeout, 86_400_000);
    assert.deepEqual(config.checks[2], {
      name: 'latency',
      path: '/healthz',
      expectStatus: 200,
      latencyBudget: 500,
      repeat: 50,
      slow: true,
    });
    assert.equal(targetSettings(config, 'toString'), undefined, 'no prototype keys');
  });

  it('reads YAML and applies defaults per target', async () => {
    const path = await tempFile(
      'greenlight.config.yaml',
      [
        'zone: corp.example',
        'targets:',
        '  qa:',
        '    bake: 2m',
        '    approval: { required: 1, approvers: [ann] }',
        'checks:',
        '  - { name: h, path: /healthz }',
        'healthCheck: { name: h, path: /healthz }',
      ].join('\n'),
    );
    const { config } = loadConfig(path);
    const qa = targetSettings(config, 'qa')!;
    assert.equal(qa.zone, 'corp.example');
    assert.equal(qa.bake, 120_000);
    assert.equal(qa.terminationWait, 30_000);
    assert.deepEqual(qa.approval.approvers, ['ann']);
    assert.deepEqual(qa.policy, { all: ['tests_passed', 'approval_obtained'] });
  });

  it('names the key and the bad value of every error', async () => {
    const path = await tempFile(
      'bad.json',
      JSON.stringify({
        targets: { prod: { bake: 'ten minutes', approval: { required: -1 } }, Bad_Name: {} },
        checks: [{ name: 'h', path: 'healthz' }],
        healthCheck: { name: 'h', path: '/healthz' },
      }),
    );
    assert.throws(
      () => loadConfig(path),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        assert.match(e.message, /targets\.prod\.bake: invalid duration "ten minutes"/);
        assert.match(e.message, /targets\.prod\.approval\.required: .*\(got -1\)/);
        assert.match(e.message, /targets\.Bad_Name: .*/);
        assert.match(e.message, /checks\.0\.path: .*\(got "healthz"\)/);
        return true;
      },
    );
  });

  it('refuses unknown keys, so a typo is not silently ignored', async () => {
    const path = await tempFile(
      'typo.yaml',
      'targets: { dev: { bakeTime: 5s } }\nchecks: [{ name: h, path: / }]\nhealthCheck: { name: h, path: / }\n',
    );
    assert.throws(() => loadConfig(path), /targets\.dev: Unrecognized key: "bakeTime"/);
  });

  it('takes HTTP and command checks, and refuses a check that is neither', async () => {
    const ok = await tempFile(
      'checks.yaml',
      'targets: { dev: {} }\nchecks: [{ name: h, path: /healthz }, { name: smoke, command: [npm, run, smoke], timeout: 2m }]\nhealthCheck: { name: h, path: / }\n',
    );
    assert.deepEqual(loadConfig(ok).config.checks[1], {
      name: 'smoke',
      command: ['npm', 'run', 'smoke'],
      timeout: 120_000,
      slow: false,
    });
    const neither = await tempFile(
      'neither-check.yaml',
      'targets: { dev: {} }\nchecks: [{ name: x, script: smoke.sh }]\nhealthCheck: { name: h, path: / }\n',
    );
    assert.throws(
      () => loadConfig(neither),
      /checks\.0: a check has `path` \(HTTP\), `command` \(an argument array\) or `query` \(Prometheus\)/,
    );
    const shellText = await tempFile(
      'bad-check.yaml',
      'targets: { dev: {} }\nchecks: [{ name: x, command: "npm run smoke" }]\nhealthCheck: { name: h, path: / }\n',
    );
    assert.throws(
      () => loadConfig(shellText),
      /checks\.0\.command: an argument array, e\.g\. \[npm, run, smoke\]; never shell text \(got "npm run smoke"\)/,
    );
  });

  it('refuses a policy that names an unknown fact', async () => {
    const path = await tempFile(
      'fact.yaml',
      'targets: { prod: { policy: { all: [tests_passed, tests_pased] } } }\nchecks: [{ name: h, path: / }]\nhealthCheck: { name: h, path: / }\n',
    );
    assert.throws(
      () => loadConfig(path),
      /targets\.prod\.policy: unknown fact "tests_pased"; known facts: tests_passed, /,
    );
  });

  it('reports a missing file and invalid YAML clearly', async () => {
    assert.throws(
      () => loadConfig('/nonexistent/greenlight.yaml'),
      /cannot read GREENLIGHT_CONFIG "\/nonexistent\/greenlight.yaml"/,
    );
    const path = await tempFile('broken.yaml', 'targets: [unclosed');
    assert.throws(() => loadConfig(path), /is not valid YAML/);
  });

  it('reads the environment once into settings, TLS on when an API key is set', () => {
    const s = loadSettings(
      { TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233', TEMPORAL_NAMESPACE: 'ns.acct', TEMPORAL_API_KEY: 'k' },
      '/srv',
    );
    assert.equal(s.temporal.address, 'ns.acct.tmprl.cloud:7233');
    assert.equal(s.temporal.namespace, 'ns.acct');
    assert.deepEqual(s.temporal.tls, {
      certPath: undefined,
      keyPath: undefined,
      caPath: undefined,
      serverName: undefined,
    });
    assert.equal(s.stateDir, '/srv/.greenlight');
    assert.equal(s.temporal.taskQueue, 'greenlight');
    assert.throws(() => loadSettings({ GREENLIGHT_DEV_SERVER_PORT: 'abc' }), /GREENLIGHT_DEV_SERVER_PORT/);
  });

  it('takes the CMDB timeout as a duration from 1s to 5m, 30s by default', () => {
    assert.equal(loadSettings({}).cmdbTimeoutMs, 30_000);
    assert.equal(loadSettings({ GREENLIGHT_CMDB_TIMEOUT: '5s' }).cmdbTimeoutMs, 5_000);
    assert.throws(
      () => loadSettings({ GREENLIGHT_CMDB_TIMEOUT: '100ms' }),
      /GREENLIGHT_CMDB_TIMEOUT.*at least 1s/,
    );
    assert.throws(() => loadSettings({ GREENLIGHT_CMDB_TIMEOUT: '1h' }), /at most 5m/);
    assert.throws(() => loadSettings({ GREENLIGHT_CMDB_TIMEOUT: 'soon' }), /GREENLIGHT_CMDB_TIMEOUT/);
  });

  it('takes the workflow cache size as a whole number, unset by default', () => {
    assert.equal(loadSettings({}).workflowCacheSize, undefined);
    assert.equal(loadSettings({ GREENLIGHT_WORKFLOW_CACHE: '' }).workflowCacheSize, undefined);
    assert.equal(loadSettings({ GREENLIGHT_WORKFLOW_CACHE: '500' }).workflowCacheSize, 500);
    assert.equal(loadSettings({ GREENLIGHT_WORKFLOW_CACHE: '0' }).workflowCacheSize, 0);
    assert.throws(() => loadSettings({ GREENLIGHT_WORKFLOW_CACHE: 'many' }), /GREENLIGHT_WORKFLOW_CACHE/);
    assert.throws(() => loadSettings({ GREENLIGHT_WORKFLOW_CACHE: '2.5' }), /a whole number of workflows/);
    assert.throws(() => loadSettings({ GREENLIGHT_WORKFLOW_CACHE: '1e9' }), /at most 100000 workflows/);
    assert.throws(() => loadSettings({ GREENLIGHT_WORKFLOW_CACHE: '-1' }), /GREENLIGHT_WORKFLOW_CACHE/);
  });

  it('turns TLS on with any TLS setting, and refuses half an mTLS pair', () => {
    assert.equal(loadSettings({}).temporal.tls, undefined);
    assert.equal(loadSettings({ TEMPORAL_TLS_CA: '/ca.pem' }).temporal.tls?.caPath, '/ca.pem');
    assert.ok(loadSettings({ TEMPORAL_TLS: 'true' }).temporal.tls);
    assert.throws(
      () => loadSettings({ TEMPORAL_TLS_CERT: '/c.pem' }),
      /TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together/,
    );
    assert.throws(() => loadSettings({ TEMPORAL_TLS_KEY: '/k.pem' }), /go together/);
  });
});

describe('DNS provider configuration', () => {
  const base = `checks: [{ name: h, path: /healthz }]\nhealthCheck: { name: h, path: /healthz }\n`;

  it('reads the documented example, with defaults, secret files relative to the file', async () => {
    const { config } = loadConfig(join(__dirname, '..', '..', 'examples', 'greenlight.config.yaml'));
    assert.deepEqual(config.targets.dev!.dns, {
      kind: 'rfc2136',
      server: { host: '127.0.0.1', port: 5353 },
      tsig: { name: 'greenlight-key', algorithm: 'hmac-sha256', secret: { env: 'GREENLIGHT_TSIG_SECRET' } },
      timeout: 5_000,
    });
    assert.equal(config.targets.prod!.dns.kind, 'route53');
    const path = await tempFile(
      'g.yaml',
      `targets:\n  t:\n    dns: { kind: rfc2136, server: ns1.internal, tsig: { name: k, secret: { file: keys/k.key } } }\n${base}`,
    );
    const dns = loadConfig(path).config.targets.t!.dns;
    assert.ok(dns.kind === 'rfc2136');
    assert.deepEqual(dns.server, { host: 'ns1.internal', port: 53 });
    assert.deepEqual(dns.tsig?.secret, { file: join(dirname(path), 'keys', 'k.key') });
  });

  it('refuses a secret written in the file, and names every bad key and value', async () => {
    const path = await tempFile(
      'g.yaml',
      `targets:
  a:
    dns: { kind: rfc2136, server: '127.0.0.1:99999', tsig: { name: k, secret: c2VjcmV0 } }
  b:
    dns: { kind: route53, hostedZoneId: 'z-lower', syncTimeout: 10m }
  c:
    dns: { kind: powerdns }
${base}`,
    );
    assert.throws(
      () => loadConfig(path),
      (e: Error) => {
        assert.ok(e instanceof ConfigError);
        assert.match(e.message, /targets\.a\.dns\.server: port 99999 is out of range/);
        assert.match(e.message, /targets\.a\.dns\.tsig\.secret: a secret is referenced, never written here/);
        assert.match(e.message, /targets\.b\.dns\.hostedZoneId: a hosted zone id .*\(got "z-lower"\)/);
        assert.match(e.message, /targets\.b\.dns\.syncTimeout: between 1s and 100s \(got "10m"\)/);
        assert.match(
          e.message,
          /targets\.c\.dns\.kind: .*'local' \| 'rfc2136' \| 'route53' \(got \{"kind":"powerdns"\}\)/,
        );
        assert.ok(!e.message.includes('c2VjcmV0'), 'the inline secret is not echoed');
        return true;
      },
    );
  });

  it('reads a TSIG secret from the environment or a tsig-keygen file, and names what is missing', async () => {
    const secret = Buffer.from('0123456789abcdef0123456789abcdef').toString('base64');
    assert.deepEqual(
      readTsigSecret({ env: 'K' }, 'x', { K: secret }),
      Buffer.from('0123456789abcdef0123456789abcdef'),
    );
    const file = await tempFile(
      'k.key',
      `key "greenlight-key" {\n\talgorithm hmac-sha256;\n\tsecret "${secret}";\n};\n`,
    );
    assert.equal(readTsigSecret({ file }, 'x', {}).toString(), '0123456789abcdef0123456789abcdef');
    assert.throws(() => readTsigSecret({ env: 'K' }, 'targets.t.dns.tsig.secret', {}), {
      message: 'targets.t.dns.tsig.secret: the environment variable K is not set',
    });
    assert.throws(() => readTsigSecret({ file: '/nonexistent/k.key' }, 'k', {}), {
      message: /cannot read .*ENOENT/,
    });
    assert.throws(
      () => readTsigSecret({ env: 'K' }, 'k', { K: 'not base64!' }),
      (e: Error) => {
        assert.match(e.message, /not base64/);
        assert.ok(!e.message.includes('not base64!'), 'the bad value is not echoed: it may be a secret');
        return true;
      },
    );
  });
});

describe('circuit breaker configuration', () => {
  it('names the key and the bad value of every breaker setting', async () => {
    const path = await tempFile(
      'g.yaml',
      `targets: { dev: {} }
checks: [{ name: h, path: /healthz }]
healthCheck: { name: h, path: /healthz }
breakers:
  backend: redis
  defaults: { failureRateThreshold: 0, window: { calls: 0 } }
  dependencies:
    queue: { waitDuration: 5s }
    'dns:prod': { waitBackoffMultiplier: 20, mode: sometimes }
`,
    );
    assert.throws(
      () => loadConfig(path),
      (e: Error) => {
        assert.match(e.message, /breakers\.backend: .*\(got "redis"\)/);
        assert.match(e.message, /breakers\.defaults\.failureRateThreshold: .*\(got 0\)/);
        assert.match(e.message, /breakers\.defaults\.window/);
        assert.match(
          e.message,
          /breakers\.dependencies\.queue: a dependency is infra, dns, cmdb, checks, artifacts, notify or prometheus, optionally :<target> \(:<webhook> for notify\) \(got "queue"\)/,
        );
        assert.match(e.message, /breakers\.dependencies\.dns:prod\.waitBackoffMultiplier: .*\(got 20\)/);
        assert.match(e.message, /breakers\.dependencies\.dns:prod\.mode: .*\(got "sometimes"\)/);
        return true;
      },
    );
  });
});

describe('notification configuration', () => {
  it('names what is wrong with metric analysis', async () => {
    const path = await tempFile(
      'a.yaml',
      `targets: { dev: { rollbackPolicy: { any: [tests_passed] } } }
checks: [{ name: h, path: /healthz }]
healthCheck: { name: h, path: /healthz }
prometheus: { url: 'http://prometheus:9090', timeout: 2m }
analysis:
  - { name: errors, query: 'sum(x)', min: 5, max: 1 }
  - { name: errors, query: 'sum(y)' }
`,
    );
    assert.throws(
      () => loadConfig(path),
      (e: Error) => {
        assert.match(e.message, /prometheus\.timeout: at most 30s/);
        assert.match(e.message, /analysis\.0\.min: min is above max/);
        assert.match(e.message, /analysis\.1: give max, min or both/);
        assert.match(e.message, /targets\.dev\.rollbackPolicy.*unknown fact "tests_passed"/);
        return true;
      },
    );
    const unasked = await tempFile(
      'b.yaml',
      `targets: { dev: {} }
checks: [{ name: h, path: /healthz }, { name: calm, query: 'vector(0)', max: 0 }]
healthCheck: { name: h, path: /healthz }
`,
    );
    assert.throws(() => loadConfig(unasked), /prometheus: metric analysis asks a Prometheus server/);
  });

  it('names every bad webhook setting, and never echoes a secret written in place of a reference', async () => {
    const path = await tempFile(
      'n.yaml',
      `targets: { dev: {} }
checks: [{ name: h, path: /healthz }]
healthCheck: { name: h, path: /healthz }
notifications:
  webUiUrl: ftp://ui
  webhooks:
    - { name: Chat, url: 'https://user:hunter2@hooks.example.test/x', events: [deployed] }
    - { name: ok, url: 'https://hooks.example.test/y', secret: 'plain-text-key-123' }
    - { name: ok, url: 'https://hooks.example.test/z', targets: [Prod] }
`,
    );
    assert.throws(
      () => loadConfig(path),
      (e: Error) => {
        assert.match(e.message, /notifications\.webUiUrl: an http:\/\/ or https:\/\/ URL/);
        assert.match(e.message, /notifications\.webhooks\.0\.name: a webhook name is lowercase/);
        assert.match(e.message, /notifications\.webhooks\.0\.url: /);
        assert.match(e.message, /notifications\.webhooks\.0\.events\.0: /);
        assert.match(
          e.message,
          /notifications\.webhooks\.1\.secret: a secret is referenced, never written here/,
        );
        assert.match(e.message, /notifications\.webhooks\.2\.targets\.0: /);
        assert.ok(!e.message.includes('plain-text-key-123'), 'the secret is not echoed');
        assert.ok(!e.message.includes('hunter2'), 'the password is not echoed');
        return true;
      },
    );
  });

  it('tells each target the events some webhook hears of there', async () => {
    const path = await tempFile(
      'm.yaml',
      `targets: { dev: {}, prod: {} }
checks: [{ name: h, path: /healthz }]
healthCheck: { name: h, path: /healthz }
notifications:
  webhooks:
    - { name: all, url: 'https://hooks.example.test/a', events: [failed] }
    - { name: prod-only, url: { env: HOOK_URL }, events: [approval_requested, failed], targets: [prod] }
`,
    );
    const { config } = loadConfig(path);
    assert.deepEqual(targetSettings(config, 'dev')?.notify, ['failed']);
    assert.deepEqual(targetSettings(config, 'prod')?.notify, ['approval_requested', 'failed']);
    assert.equal(config.notifications.webhooks[0]!.retryFor, 600_000);
  });
});

describe('durations and maintenance windows', () => {
  it('parses durations to milliseconds and refuses nonsense', () => {
    assert.equal(Duration.parse('1500ms'), 1500);
    assert.equal(Duration.parse('2.5s'), 2500);
    assert.equal(Duration.parse('36h'), 129_600_000);
    assert.equal(Duration.parse(3), 3000);
    assert.equal(Duration.safeParse('soon').success, false);
    assert.equal(Duration.safeParse(-1).success, false);
  });

  it('opens windows on listed days, including ones that cross midnight', () => {
    const windows = [{ days: ['sat' as const], start: '22:00', end: '02:00' }];
    assert.equal(isMaintenanceWindowOpen(windows, new Date('2026-11-21T23:00:00Z')), true, 'Saturday night');
    assert.equal(isMaintenanceWindowOpen(windows, new Date('2026-11-22T01:59:00Z')), true, 'early Sunday');
    assert.equal(isMaintenanceWindowOpen(windows, new Date('2026-11-22T02:00:00Z')), false, 'closing time');
    assert.equal(isMaintenanceWindowOpen(windows, new Date('2026-11-21T21:59:00Z')), false, 'before opening');
    assert.equal(isMaintenanceWindowOpen([], new Date()), true, 'no windows: always open');
  });
});

describe('names a person chooses', () => {
  const base = 'checks: [{ name: h, path: /healthz }]\nhealthCheck: { name: h, path: /healthz }\n';

  it('refuses a configuration whose only target is __proto__, in YAML and in JSON', async () => {
    const yaml = await tempFile('proto.yaml', `targets:\n  __proto__: { bake: 5s }\n${base}`);
    const json = await tempFile(
      'proto.json',
      '{"targets":{"__proto__":{}},"checks":[{"name":"h","path":"/h"}],"healthCheck":{"name":"h","path":"/h"}}',
    );
    for (const path of [yaml, json]) {
      assert.throws(() => loadConfig(path), {
        message: `invalid configuration in ${path}: targets.__proto__: a name reserved by JavaScript; give the target another name (got "__proto__")`,
      });
    }
  });

  it('refuses constructor and prototype as a target, service or dependency, naming each', async () => {
    const path = await tempFile(
      'reserved.yaml',
      `targets:
  dev: {}
  constructor: {}
services:
  prototype: {}
breakers:
  dependencies:
    __proto__: { waitDuration: 5s }
${base}`,
    );
    assert.throws(
      () => loadConfig(path),
      (e: Error) => {
        assert.match(
          e.message,
          /targets\.constructor: a name reserved by JavaScript; give the target another name/,
        );
        assert.match(e.message, /services\.prototype: .* give the service another name \(got "prototype"\)/);
        assert.match(e.message, /breakers\.dependencies\.__proto__: .* give the dependency another name/);
        return true;
      },
    );
  });

  it('refuses a configuration without targets', async () => {
    const path = await tempFile('none.yaml', `targets: {}\n${base}`);
    assert.throws(
      () => loadConfig(path),
      /targets: configure at least one target, e\.g\. dev: \{\} \(got \{\}\)/,
    );
  });

  it('reads YAML keys as plain names: no prototype is set, no merge key is taken in YAML 1.2', async () => {
    const merge = await tempFile(
      'merge.yaml',
      `common: &common { bake: 5s }\ntargets:\n  dev:\n    <<: *common\n${base}`,
    );
    assert.throws(
      () => loadConfig(merge),
      (e: Error) => {
        assert.match(e.message, /targets\.dev: Unrecognized key: "<<"/);
        assert.match(e.message, /\(root\): Unrecognized key: "common"/);
        return true;
      },
    );
    // A YAML 1.1 document merges; what a merge brings in is checked like anything written.
    const merged = await tempFile(
      'merge-1.1.yaml',
      `%YAML 1.1\n---\ntargets:\n  <<: { __proto__: { bake: 5s } }\n  dev: {}\n${base}`,
    );
    assert.throws(() => loadConfig(merged), /targets\.__proto__: a name reserved by JavaScript/);
    assert.equal(Object.getPrototypeOf({}), Object.prototype);
  });
});

describe('numbers quoted as written', () => {
  /** Every number and duration field of the configuration, set to `value`. */
  const everyNumber = (value: string) => `targets:
  t:
    bake: ${value}
    healthCheckInterval: ${value}
    terminationWait: ${value}
    recordTtl: ${value}
    approval: { required: ${value}, timeout: ${value} }
    dns: { kind: rfc2136, server: 127.0.0.1, timeout: ${value} }
  r:
    dns: { kind: route53, hostedZoneId: Z1, syncTimeout: ${value} }
checks:
  - { name: h, path: /healthz, expectStatus: ${value}, latencyBudget: ${value}, repeat: ${value} }
  - { name: c, command: [npm, test], timeout: ${value} }
healthCheck: { name: h, path: /healthz, expectStatus: ${value}, latencyBudget: ${value}, repeat: ${value} }
breakers:
  defaults:
    window: ${value}
    minimumCalls: ${value}
    failureRateThreshold: ${value}
    failureCountThreshold: ${value}
    slowCallRateThreshold: ${value}
    slowCallDuration: ${value}
    waitDuration: ${value}
    waitBackoffMultiplier: ${value}
    maxWaitDuration: ${value}
    permittedCallsInHalfOpen: ${value}
    maxWaitInHalfOpen: ${value}
  dependencies:
    cmdb: { window: { calls: ${value} } }
`;
  const FIELDS = [
    'targets.t.bake',
    'targets.t.healthCheckInterval',
    'targets.t.terminationWait',
    'targets.t.recordTtl',
    'targets.t.approval.required',
    'targets.t.approval.timeout',
    'targets.t.dns.timeout',
    'targets.r.dns.syncTimeout',
    'checks.0.expectStatus',
    'checks.0.latencyBudget',
    'checks.0.repeat',
    'checks.1.timeout',
    'healthCheck.expectStatus',
    'healthCheck.latencyBudget',
    'healthCheck.repeat',
    ...[
      'window',
      'minimumCalls',
      'failureRateThreshold',
      'failureCountThreshold',
      'slowCallRateThreshold',
      'slowCallDuration',
      'waitDuration',
      'waitBackoffMultiplier',
      'maxWaitDuration',
      'permittedCallsInHalfOpen',
      'maxWaitInHalfOpen',
    ].map((key) => `breakers.defaults.${key}`),
    'breakers.dependencies.cmdb.window.calls',
  ];

  const refusedFields = (message: string) =>
    message
      .split('\n')
      .slice(1)
      .map((line) => /^ {2}(\S+): /.exec(line)?.[1]);

  for (const value of ['1e309', '-1e309', '.inf', '.nan']) {
    it(`refuses ${value} in every number and duration field, quoting ${value}`, async () => {
      const path = await tempFile('numbers.yaml', everyNumber(value));
      assert.throws(
        () => loadConfig(path),
        (e: Error) => {
          assert.deepEqual(refusedFields(e.message).sort(), [...FIELDS].sort());
          for (const line of e.message.split('\n').slice(1)) {
            assert.ok(line.endsWith(` (got ${value})`), line);
          }
          return true;
        },
      );
    });
  }

  it('quotes a number in a JSON file as written, not as null', async () => {
    const path = await tempFile(
      'numbers.json',
      '{"targets":{"dev":{"terminationWait":1e309,"recordTtl":1E400}},"checks":[{"name":"h","path":"/h"}],"healthCheck":{"name":"h","path":"/h"}}',
    );
    assert.throws(
      () => loadConfig(path),
      (e: Error) => {
        assert.match(
          e.message,
          /targets\.dev\.terminationWait: a duration such as 30s, 5m or 2h, or a number of seconds \(got 1e309\)/,
        );
        assert.match(e.message, /targets\.dev\.recordTtl: expected a finite number \(got 1E400\)/);
        return true;
      },
    );
  });

  it('refuses huge durations, quoting them as written', async () => {
    const path = await tempFile(
      'huge.yaml',
      `targets:
  dev:
    terminationWait: 1e300
    bake: 400d
    healthCheckInterval: 99999999999999999999999d
    approval: { required: 99999999999999999999 }
checks: [{ name: h, path: /healthz, latencyBudget: 25d }]
healthCheck: { name: h, path: /healthz }
breakers: { defaults: { window: 2d } }
`,
    );
    assert.throws(
      () => loadConfig(path),
      (e: Error) => {
        assert.match(e.message, /targets\.dev\.terminationWait: at most 366d \(got 1e300\)/);
        assert.match(e.message, /targets\.dev\.bake: at most 366d \(got "400d"\)/);
        assert.match(
          e.message,
          /targets\.dev\.healthCheckInterval: at most 366d \(got "99999999999999999999999d"\)/,
        );
        assert.match(e.message, /targets\.dev\.approval\.required: .* \(got 99999999999999999999\)/);
        assert.match(e.message, /checks\.0\.latencyBudget: at most 24d \(got "25d"\)/);
        assert.match(e.message, /breakers\.defaults\.window: .*at most 1d.* \(got "2d"\)/);
        return true;
      },
    );
  });

  it('quotes an environment variable as it was set', () => {
    assert.throws(() => loadSettings({ GREENLIGHT_ADMIN_PORT: '1e309' }), {
      message: 'invalid environment: GREENLIGHT_ADMIN_PORT: expected a finite number (got "1e309")',
    });
  });
});

describe('check paths', () => {
  const withPath = (path: string) =>
    `targets: { dev: {} }\nchecks: [{ name: h, path: ${JSON.stringify(path)} }]\nhealthCheck: { name: h, path: /healthz }\n`;

  for (const [path, why] of [
    ['//evil.example/x', 'must not start with // \\(that names another host\\)'],
    ['/\\evil.example/x', 'must not contain a backslash'],
    ['\\\\evil.example/x', 'starts with /'],
    ['/\t/evil.example/x', 'must not contain spaces or control characters'],
    ['/\n/evil.example/x', 'must not contain spaces or control characters'],
    ['https://evil.example/x', 'starts with /'],
  ] as const) {
    it(`refuses ${JSON.stringify(path)}: it could reach another host`, async () => {
      const file = await tempFile('path.yaml', withPath(path));
      assert.throws(() => loadConfig(file), new RegExp(`checks\\.0\\.path: a path ${why}`));
    });
  }

  it('takes paths that stay on the endpoint, with a query or encoded slashes', async () => {
    for (const path of ['/healthz', '/v1/status?full=1', '/%2F%2Fevil.example', '/a//b']) {
      assert.equal(loadConfig(await tempFile('ok.yaml', withPath(path))).config.checks[0]!.name, 'h');
    }
  });
});
