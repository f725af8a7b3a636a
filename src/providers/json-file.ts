import { randomUUID } from 'node:crypto';
import { link, mkdir, open, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname } from 'node:path';

const queues = new Map<string, Promise<unknown>>();

/** How long a change waits for another process's lock before it gives up. */
const LOCK_WAIT_MS = 30_000;
/** A lock file older than this was left by a process that died holding it (a change takes milliseconds). */
const STALE_LOCK_MS = 10_000;
/** How often a held lock's time is refreshed. */
const LOCK_REFRESH_MS = 2_000;

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

  /**
   * Runs `fn` holding the lock file `<path>.lock`, created exclusively and named after its holder.
   * While held, its time is refreshed, so only a lock whose holder died goes stale.
   */
  private async locked<R>(fn: () => Promise<R>): Promise<R> {
    const lock = `${this.path}.lock`;
    const holder = `${process.pid}@${hostname()} ${randomUUID()}\n`;
    await mkdir(dirname(this.path), { recursive: true });
    const deadline = Date.now() + LOCK_WAIT_MS;
    while (!(await tryCreate(lock, holder))) {
      if (await breakIfStale(lock)) continue;
      if (Date.now() > deadline) {
        throw new Error(
          `${this.path} stayed locked by another process for ${LOCK_WAIT_MS / 1000} s: remove ${lock} if no worker runs`,
        );
      }
      await new Promise((r) => setTimeout(r, 2 + Math.random() * 10));
    }
    const keepFresh = setInterval(() => {
      const now = new Date();
      void utimes(lock, now, now).catch(() => undefined);
    }, LOCK_REFRESH_MS);
    keepFresh.unref();
    try {
      return await fn();
    } finally {
      clearInterval(keepFresh);
      // Only its own: a lock taken over as stale belongs to another process now.
      if ((await readFile(lock, 'utf8').catch(() => '')) === holder) await rm(lock, { force: true });
    }
  }
}

/** Creates the lock with its holder's name; false when another process holds it. */
async function tryCreate(lock: string, holder: string): Promise<boolean> {
  let handle: FileHandle;
  try {
    handle = await open(lock, 'wx');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
  try {
    await handle.writeFile(holder);
  } catch (e) {
    await handle.close().catch(() => undefined);
    await rm(lock, { force: true });
    throw e;
  }
  await handle.close();
  return true;
}

/**
 * Breaks a lock left by a holder that died (not refreshed for STALE_LOCK_MS): it is moved aside,
 * which one process alone manages, and removed if what was moved is still that stale lock; a lock
 * taken afresh in the meantime is put back. True when the caller should try to take it again.
 */
async function breakIfStale(lock: string): Promise<boolean> {
  const held = await stat(lock).catch(() => null);
  if (!held) return true;
  if (Date.now() - held.mtimeMs <= STALE_LOCK_MS) return false;
  const aside = `${lock}.${process.pid}.${randomUUID()}.stale`;
  try {
    await rename(lock, aside);
  } catch {
    return true; // another process moved it first
  }
  const moved = await stat(aside).catch(() => null);
  if (moved && Date.now() - moved.mtimeMs <= STALE_LOCK_MS) await link(aside, lock).catch(() => undefined);
  await rm(aside, { force: true });
  return true;
}
