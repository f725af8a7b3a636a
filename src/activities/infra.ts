import { breakerName } from '../shared/breaker-name';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import type { Artifact } from '../providers/artifacts/types';
import { FailureTypes } from '../shared/messages';
import { aliasHostname, hostnames, ServiceName, Version } from '../shared/release';
import type { Deployment } from '../shared/release';
import { parseInput } from './failures';
import type { ActivityContext } from './guard';
import { DeployInput, ReleaseCoordinates, TearDownInput } from './schemas';

/** Deployments: finding blue, creating green, and removing either (the instance and its DNS record). */
export function createInfraActivities({ deps, guarded }: ActivityContext) {
  const { infra, dns } = deps;
  return {
    /** The deployment the unsuffixed alias points at (blue), or null on a first release. */
    async resolveLiveDeployment(input: z.input<typeof ReleaseCoordinates>): Promise<Deployment | null> {
      const { service, target, zone } = parseInput(ReleaseCoordinates, input);
      const alias = aliasHostname(service, target, zone);
      const record = await guarded(breakerName('dns', target), 'read alias', () => dns(target).get(alias));
      if (!record) return null;
      if (record.type !== 'CNAME') {
        throw ApplicationFailure.create({
          type: FailureTypes.dnsConflict,
          message: `${alias} is a ${record.type} record (${record.value}); greenlight manages aliases as CNAMEs`,
          nonRetryable: true,
        });
      }
      const live = await guarded(breakerName('infra', target), 'describe live deployment', () =>
        infra(target).describe({ hostname: record.value }),
      );
      if (live) {
        if (live.service === service) return live;
        throw ApplicationFailure.create({
          type: FailureTypes.dnsConflict,
          message: `${alias} points at ${record.value}, a deployment of ${live.service}; point the alias at a ${service} deployment or remove it`,
          nonRetryable: true,
        });
      }
      // The alias points at an instance that is gone. If the name is one of this service's on this
      // target, it is blue all the same (the compare-and-swap needs its value); anything else is
      // not greenlight's to replace.
      const isOurs = record.value.startsWith(`${service}-`) && record.value.endsWith(`.${target}.${zone}`);
      if (!isOurs) {
        throw ApplicationFailure.create({
          type: FailureTypes.dnsConflict,
          message: `${alias} points at ${record.value}, which is not a ${service} deployment on ${target}; point the alias at one or remove it`,
          nonRetryable: true,
        });
      }
      Context.current().log.warn('the live deployment is not running; it will be replaced', {
        alias,
        hostname: record.value,
      });
      return {
        service,
        target,
        version: 'unknown',
        hostname: record.value,
        endpoint: `http://${record.value}`,
        isGone: true,
      };
    },
    /**
     * The artifact a version is deployed from: its URI and the sha256 of its bytes. A version that
     * has none fails here, before anything is deployed.
     */
    async resolveArtifact(input: { service: string; version: string }): Promise<Artifact> {
      const { service, version } = parseInput(z.object({ service: ServiceName, version: Version }), input);
      const store = deps.artifacts;
      if (!store) throw new Error('this worker has no artifact store');
      const artifact = await guarded('artifacts', 'resolve artifact', () =>
        store.resolve(service, version, Context.current().cancellationSignal),
      );
      if (!artifact) {
        throw ApplicationFailure.create({
          type: FailureTypes.artifactMissing,
          message: `no artifact of ${service}@${version} in ${store.describe()}`,
          nonRetryable: true,
        });
      }
      return artifact;
    },
    /** Creates green under its version-suffixed host name and publishes that record. */
    async deployGreen(input: z.input<typeof DeployInput>): Promise<Deployment> {
      const spec = parseInput(DeployInput, input);
      const { green } = hostnames(spec.service, spec.version, spec.target, spec.zone);
      const ctx = Context.current();
      const deployment = await guarded(breakerName('infra', spec.target), 'deploy green', () =>
        infra(spec.target).deploy({ ...spec, hostname: green }, ctx.cancellationSignal),
      );
      // WHATWG URL writes an IPv6 host in brackets (`[2001:db8::1]`); the record takes the address.
      const host = new URL(deployment.endpoint).hostname;
      const isIPv6 = host.startsWith('[') && host.endsWith(']');
      const address = isIPv6 ? host.slice(1, -1) : host;
      await guarded(breakerName('dns', spec.target), 'publish green record', () =>
        dns(spec.target).upsert({ name: green, type: isIPv6 ? 'AAAA' : 'A', value: address, ttl: spec.ttl }),
      );
      return deployment;
    },
    /** Removes a deployment's record and its instances (green on failure, blue after a release). */
    async tearDownDeployment(input: z.input<typeof TearDownInput>): Promise<void> {
      const { hostname, target, ifOwnedBy } = parseInput(TearDownInput, input);
      if (ifOwnedBy) {
        const existing = await guarded(breakerName('infra', target), 'describe deployment', () =>
          infra(target).describe({ hostname }),
        );
        if (existing?.releaseId !== ifOwnedBy) {
          Context.current().log.warn('not tearing down a deployment this release did not create', {
            hostname,
            owner: existing?.releaseId ?? null,
          });
          return;
        }
      }
      await guarded(breakerName('dns', target), 'remove record', () => dns(target).remove(hostname));
      await guarded(breakerName('infra', target), 'destroy deployment', () =>
        infra(target).destroy({ hostname }, Context.current().cancellationSignal),
      );
    },
  };
}
