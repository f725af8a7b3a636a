import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hostnames, Version } from '../src/shared/release';

describe('release host names', () => {
  it('uses <service>-<version> when the version is already a lowercase DNS label', () => {
    assert.deepEqual(hostnames('web', '1f2e3d4', 'stage', 'corp.internal'), {
      green: 'web-1f2e3d4.stage.corp.internal',
      alias: 'web.stage.corp.internal',
    });
  });

  it('never gives two versions the same host name', () => {
    const versions = ['v2', 'V2', '1.2', '1-2', '1_2', 'release-1.2.0', 'Release-1.2.0', 'release-1-2-0'];
    const names = versions.map((v) => hostnames('web', v, 'dev', 'z').green);
    assert.equal(new Set(names).size, versions.length, names.join(' '));
  });

  it('keeps every label within 63 characters, even for the longest names', () => {
    const service = 'a'.repeat(32);
    const versions = ['b'.repeat(40), `${'c'.repeat(39)}.`.replace(/\.$/, 'd'), 'E'.repeat(40)];
    for (const version of versions) {
      assert.ok(Version.safeParse(version).success);
      const label = hostnames(service, version, 'dev', 'z').green.split('.')[0];
      assert.ok(label.length <= 63, `${label} is ${label.length} characters`);
      assert.match(label, /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/);
    }
    assert.notEqual(
      hostnames(service, 'b'.repeat(40), 'dev', 'z').green,
      hostnames(service, `${'b'.repeat(39)}c`, 'dev', 'z').green,
    );
  });
});
