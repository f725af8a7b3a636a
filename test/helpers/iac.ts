import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';

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
