import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

const queues = new Map<string, Promise<unknown>>();

/**
 * A JSON document on disk, changed by read-modify-write under a per-path lock and replaced
 * atomically (write to a temporary file, then rename), so a reader never sees half a file.
 * One writing process per file: the worker. Readers (the CLI) may run at any time.
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
    const next = previous.then(async () => {
      const doc = await this.read();
      const result = await change(doc);
      await mkdir(dirname(this.path), { recursive: true });
      const tmp = `${this.path}.${process.pid}.tmp`;
      await writeFile(tmp, JSON.stringify(doc, null, 2));
      await rename(tmp, this.path);
      return result;
    });
    queues.set(
      this.path,
      next.catch(() => undefined),
    );
    return next;
  }
}
