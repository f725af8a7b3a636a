import { mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname } from 'node:path';

const queues = new Map<string, Promise<unknown>>();

/** How long a change waits for another process's lock before it gives up. */
const LOCK_WAIT_MS = 30_000;
/** A lock file older than this was left by a process that died holding it (a change takes milliseconds). */
const STALE_LOCK_MS = 10_000;

/**
 * A JSON document on disk, changed by read-modify-write under a lock (within the process, and
 * across processes through a lock file beside it, so workers sharing a state dir never lose each
 * other's changes) and replaced atomically (write to a temporary file, then rename), so a reader
 * never sees half a file. Readers (the CLI) may read at any time.
 */
export class JsonFile<T> {
  constructor(
    readonly path: string,
    private readonly empty: () => T,
  ) {}

  async read(): Promise<T> {
    try {
      return JSON.parse(await readFile(this.path, 'utf8')) as T;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return this.empty();
      throw e;
    }
  }

  /** Applies `change` to the current document and stores the result; returns what `change` returned. */
  update<R>(change: (doc: T) => R | Promise<R>): Promise<R> {
    const previous = queues.get(this.path) ?? Promise.resolve();
    const next = previous.then(() =>
      this.locked(async () => {
        const doc = await this.read();
        const result = await change(doc);
        const tmp = `${this.path}.${process.pid}.tmp`;
        await writeFile(tmp, JSON.stringify(doc, null, 2));
        await rename(tmp, this.path);
        return result;
      }),
    );
    queues.set(
      this.path,
      next.catch(() => undefined),
    );
    return next;
  }

  /** Runs `fn` holding the lock file `<path>.lock`, created exclusively. */
  private async locked<R>(fn: () => Promise<R>): Promise<R> {
    const lock = `${this.path}.lock`;
    await mkdir(dirname(this.path), { recursive: true });
    const deadline = Date.now() + LOCK_WAIT_MS;
    for (;;) {
      try {
        const handle = await open(lock, 'wx');
        await handle.writeFile(`${process.pid}@${hostname()}\n`);
        await handle.close();
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        const held = await stat(lock).catch(() => null);
        if (held && Date.now() - held.mtimeMs > STALE_LOCK_MS) {
          await rm(lock, { force: true });
          continue;
        }
        if (Date.now() > deadline) {
          throw new Error(
            `${this.path} stayed locked by another process for ${LOCK_WAIT_MS / 1000} s: remove ${lock} if no worker runs`,
          );
        }
        await new Promise((r) => setTimeout(r, 2 + Math.random() * 10));
      }
    }
    try {
      return await fn();
    } finally {
      await rm(lock, { force: true });
    }
  }
}
