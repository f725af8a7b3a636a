import { join } from 'node:path';
import type { Config } from '../config/schema';
import { LocalArtifactStore } from '../providers/artifacts/local';
import { S3ArtifactStore } from '../providers/artifacts/s3';
import type { ArtifactStore } from '../providers/artifacts/types';
import { EXAMPLE_SERVICE } from '../providers/infra/local-process';

/** The artifact store the configuration names (credentials for S3 from the AWS SDK's chain). */
export function openArtifactStore(config: Config, stateDir: string): ArtifactStore {
  const a = config.artifacts;
  if (a.kind === 's3') {
    return new S3ArtifactStore({
      bucket: a.bucket,
      prefix: a.prefix,
      region: a.region,
      endpoint: a.endpoint,
    });
  }
  return new LocalArtifactStore({
    dir: a.dir ?? join(stateDir, 'artifacts'),
    ...(a.stamp ? { stampFrom: EXAMPLE_SERVICE } : {}),
  });
}
