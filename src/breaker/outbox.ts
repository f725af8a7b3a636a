import { join } from 'node:path';
import type { ChangeRecord, CmdbProvider, DeploymentItem } from '../providers/cmdb/types';
import { JsonFile } from '../providers/json-file';

/** One CMDB write that could not be made when the release made it. */
export interface OutboxEntry {
  change: ChangeRecord;
  deployments: DeploymentItem[];
  /** Why it was deferred. */
  reason: string;
  deferredAt: string;
}

/**
 * The CMDB's fallback: writes that the CMDB's breaker rejected, kept in order in a file under the
 * state dir (it survives a restart), and replayed through the same breaker once it lets calls
 * through again. CMDB writes are idempotent (keyed by release and step), so a replayed write that
 * had in fact been made before changes nothing.
 */
export class CmdbOutbox {
  private readonly file: JsonFile<{ entries: OutboxEntry[] }>;
  /** Writes the CMDB refused for good (not for being down): kept for an operator, never retried. */
  private readonly dead: JsonFile<{ entries: (OutboxEntry & { error: string })[] }>;
  private isDraining = false;
  /** Whether the file is known to be empty (this process is its only writer): spares a read per tick. */
  private isKnownEmpty = false;
  /** Counts additions, so a read that raced one does not mark the file empty. */
  private additions = 0;

  constructor(stateDir: string) {
    this.file = new JsonFile(join(stateDir, 'outbox', 'cmdb.json'), () => ({ entries: [] }));
    this.dead = new JsonFile(join(stateDir, 'outbox', 'cmdb.dead.json'), () => ({ entries: [] }));
  }

  async add(entry: OutboxEntry): Promise<void> {
    await this.file.update((doc) => {
      doc.entries.push(entry);
    });
    this.additions++;
    this.isKnownEmpty = false;
  }

  async isEmpty(): Promise<boolean> {
    if (this.isKnownEmpty) return true;
    const additionsBefore = this.additions;
    this.noteIfEmpty((await this.file.read()).entries.length, additionsBefore);
    return this.isKnownEmpty;
  }

  private noteIfEmpty(length: number, additionsBefore: number): void {
    if (length === 0 && additionsBefore === this.additions) this.isKnownEmpty = true;
  }

  async size(): Promise<number> {
    return (await this.file.read()).entries.length;
  }

  /** Writes moved aside because the CMDB refused them for good. */
  async deadLetters(): Promise<number> {
    return (await this.dead.read()).entries.length;
  }

  /**
   * Replays the kept writes in order, each through `run` (the CMDB's breaker), stopping at the
   * first one that fails or is rejected; returns how many were written. A write the CMDB refuses
   * for good (`isPermanent`: a bad value, not an outage) moves to `cmdb.dead.json` and the replay
   * goes on, so one bad write never blocks the others.
   */
  async drain(
    cmdb: CmdbProvider,
    run: (write: () => Promise<void>) => Promise<void>,
    isPermanent: (e: unknown) => boolean,
  ): Promise<number> {
    if (this.isDraining) return 0;
    this.isDraining = true;
    let written = 0;
    try {
      for (;;) {
        const additionsBefore = this.additions;
        const [next] = (await this.file.read()).entries;
        if (!next) {
          this.noteIfEmpty(0, additionsBefore);
          return written;
        }
        try {
          await run(async () => {
            await cmdb.recordChange(next.change);
            for (const d of next.deployments) await cmdb.upsertDeployment(d);
          });
          written++;
        } catch (e) {
          if (!isPermanent(e)) return written;
          await this.dead.update((doc) => {
            doc.entries.push({ ...next, error: (e as Error).message });
          });
        }
        await this.file.update((doc) => {
          const [first] = doc.entries;
          if (
            first &&
            first.change.releaseId === next.change.releaseId &&
            first.change.step === next.change.step
          ) {
            doc.entries.shift();
          }
        });
      }
    } finally {
      this.isDraining = false;
    }
  }
}
