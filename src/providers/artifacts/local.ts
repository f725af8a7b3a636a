import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ProviderError, ProviderErrorKinds } from '../errors';
import { sha256Digest } from './types';
import type { Artifact, ArtifactStore } from './types';

export interface LocalArtifactOptions {
  /** The directory: `<dir>/<service>/<version>.artifact`, its digest beside it in `….sha256`. */
  dir: string;
  /**
   * The embedded default: a version that has no artifact yet gets this program (the example
   * service), stamped with the service and version so that each version's bytes are its own.
   */
  stampFrom?: string;
}

/**
 * Artifacts in a directory. The first time a version is resolved its digest is recorded beside
 * it; later the bytes are checked against that record, so an artifact changed in place is refused
 * rather than deployed as if it were the same.
 */
export class LocalArtifactStore implements ArtifactStore {
  private readonly dir: string;

  constructor(private readonly options: LocalArtifactOptions) {
    this.dir = resolve(options.dir);
  }

  describe(): string {
    return `local directory ${this.dir}`;
  }

  async resolve(service: string, version: string): Promise<Artifact | null> {
    const file = this.fileOf(service, version);
    let size = await sizeOf(file);
    if (size === null) {
      if (!this.options.stampFrom) return null;
      await this.stamp(file, service, version);
      size = (await sizeOf(file))!;
    }
    const digest = sha256Digest(await hashFile(file));
    const recorded = await readFile(`${file}.sha256`, 'utf8').then(
      (text) => text.trim(),
      () => null,
    );
    if (recorded === null) {
      await writeAtomically(`${file}.sha256`, `${digest}\n`);
    } else if (recorded !== digest) {
      throw new ProviderError(
        ProviderErrorKinds.artifactInvalid,
        `the artifact of ${service}@${version} (${file}) changed since it was first used: it was ${recorded}, it is ${digest}`,
        false,
      );
    }
    return { service, version, uri: pathToFileURL(file).href, digest, size };
  }

  /** `<dir>/<service>/<version>.artifact`, never outside the directory whatever the names hold. */
  private fileOf(service: string, version: string): string {
    const file = resolve(this.dir, service, `${version}.artifact`);
    if (!file.startsWith(this.dir + sep) || !/^[A-Za-z0-9._-]+$/.test(service + version)) {
      throw new ProviderError(
        ProviderErrorKinds.artifactInvalid,
        `${service}@${version} is not a name an artifact can have`,
        false,
      );
    }
    return file;
  }

  /** The example service for this version: its program with the service and version written in. */
  private async stamp(file: string, service: string, version: string): Promise<void> {
    const program = await readFile(this.options.stampFrom!, 'utf8');
    await mkdir(join(this.dir, service), { recursive: true });
    // The stamp is a comment after the program's `#!` line, if it has one (only the first line may be).
    const stamp = `// ${service} ${version}, stamped by greenlight's local artifact store\n`;
    const [first, ...rest] = program.split('\n');
    const stamped = first!.startsWith('#!') ? `${first}\n${stamp}${rest.join('\n')}` : `${stamp}${program}`;
    // Two workers stamping at once write the same bytes; the rename makes either one whole.
    await writeAtomically(file, stamped);
  }
}

async function sizeOf(file: string): Promise<number | null> {
  try {
    return (await stat(file)).size;
  } catch {
    return null;
  }
}

function hashFile(file: string): Promise<string> {
  return new Promise((done, fail) => {
    const hash = createHash('sha256');
    createReadStream(file)
      .on('data', (chunk) => hash.update(chunk))
      .on('error', fail)
      .on('end', () => done(hash.digest('hex')));
  });
}

async function writeAtomically(file: string, text: string): Promise<void> {
  // Unique per write: two writes at once (two workers, or two activities of one) never share one.
  const tmp = `${file}.${randomUUID()}.tmp`;
  await writeFile(tmp, text);
  await rename(tmp, file);
}
