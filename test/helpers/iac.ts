import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { TerraformInfra } from '../../src/providers/infra/terraform';
import { stateBackends } from '../../harness/release';

export const EXAMPLE_MODULE = resolve(__dirname, '..', '..', '..', 'examples', 'infra');

/** A real `tofu` or `terraform`: on PATH, or the OpenTofu build that `.ci/run` caches. */
export function iacBinary(): string {
  const candidates = [
    ...(process.env.PATH ?? '')
      .split(delimiter)
      .flatMap((dir) => [join(dir, 'tofu'), join(dir, 'terraform')]),
    join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'greenlight', 'tofu-v1.9.1', 'tofu'),
  ];
  const found = candidates.find((c) => c.startsWith('/') && existsSync(c));
  if (!found) throw new Error('no tofu or terraform binary: run .ci/run, or install one on PATH');
  return found;
}

/** Destroys, with the same tool, every deployment of the example module a test left on a target. */
export async function destroyModuleDeployments(stateDir: string, target: string): Promise<void> {
  const workDir = join(stateDir, 'terraform', target);
  const tf = new TerraformInfra({
    binary: iacBinary(),
    moduleDir: EXAMPLE_MODULE,
    workDir,
    backend: stateBackends.get(stateDir),
    workspacePrefix: target,
    searchPath: process.env.PATH ?? '',
  });
  for (const hostname of await readdir(workDir).catch(() => [] as string[])) await tf.destroy({ hostname });
}
