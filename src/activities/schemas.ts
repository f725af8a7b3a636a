import { z } from 'zod';
import { DEPLOYMENT_COLOURS, DEPLOYMENT_STATUSES, ServiceName, TargetName, Version } from '../shared/release';
import { Zone } from '../shared/target';

// The input of each activity, parsed at its start: an activity is an edge anyone may call.

export const Hostname = z.string().regex(/^[a-z0-9-]+(\.[a-z0-9-]+)+$/, 'a DNS host name');

export const ArtifactDigest = z.string().regex(/^sha256:[0-9a-f]{64}$/, 'sha256:<64 hex digits>');

export const DeploymentSchema = z.object({
  service: ServiceName,
  version: Version,
  target: TargetName,
  hostname: Hostname,
  endpoint: z.url(),
});

export const ReleaseCoordinates = z.object({ service: ServiceName, target: TargetName, zone: Zone });

export const DeployInput = ReleaseCoordinates.extend({
  releaseId: z.string().min(1),
  version: Version,
  ttl: z.number().int().positive(),
  /** The artifact green is deployed from (absent for releases started before artifacts). */
  artifact: z
    .strictObject({
      uri: z.string().regex(/^(file|s3):\/\/\S{1,2000}$/, 'a file:// or s3:// URI'),
      digest: ArtifactDigest,
    })
    .optional(),
});

export const TestsInput = z.object({ deployment: DeploymentSchema, skipSlowScans: z.boolean() });

export const CutOverInput = ReleaseCoordinates.extend({
  /** Host name the alias must point at now; null when it must not exist. */
  from: Hostname.nullable(),
  /** Host name to point the alias at; null removes the alias. */
  to: Hostname.nullable(),
  ttl: z.number().int().positive(),
  /** Whether the lookup must end at an address; false when restoring a blue whose instance is gone. */
  requireAddress: z.boolean().default(true),
});

export const HealthInput = z.object({ deployment: DeploymentSchema });
export const TearDownInput = z.object({
  hostname: Hostname,
  target: TargetName,
  /** Tear down only if this release created the deployment (used when green's identity is unknown). */
  ifOwnedBy: z.string().min(1).optional(),
});

export const ChangeInput = z.object({
  change: z.object({
    releaseId: z.string().min(1),
    step: z.string().min(1),
    service: ServiceName,
    target: TargetName,
    version: Version,
    stage: z.string(),
    at: z.string(),
    note: z.string().optional(),
  }),
  deployments: z
    .array(
      z.object({
        deployment: DeploymentSchema,
        colour: z.enum(DEPLOYMENT_COLOURS),
        status: z.enum(DEPLOYMENT_STATUSES),
        releaseId: z.string(),
        artifactDigest: ArtifactDigest.optional(),
      }),
    )
    .default([]),
});
