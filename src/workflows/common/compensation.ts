import { CancellationScope } from '@temporalio/workflow';

/** What undoing one step did: a note for the outcome, and whether the steps before it may be undone. */
export type Undone = { ok: true; note?: string } | { ok: false; note: string };

interface Undo<Cause> {
  readonly what: string;
  readonly run: (cause: Cause) => Promise<Undone>;
}

/**
 * Compensation as a stack (a saga): each step pushes the undo of what it changed before it changes
 * it; when the work fails, the undos run newest first. Unlike a saga that runs every compensation
 * whatever happens, the unwinding stops at the first undo that could not be done, because the
 * steps beneath rely on it (green must not be torn down while the alias may still point at it);
 * the undo says so in its note.
 */
export class Compensations<Cause> {
  private readonly stack: Undo<Cause>[] = [];

  /** Pushes the undo of a step that is about to change something. */
  push(what: string, run: (cause: Cause) => Promise<Undone>): void {
    this.stack.push({ what, run });
  }

  /** Drops the newest undo: its step turned out to have changed nothing. */
  drop(what: string): void {
    if (this.stack.at(-1)?.what === what) this.stack.pop();
  }

  /** Forgets every undo: the work is committed and is no longer undone. */
  commit(): void {
    this.stack.length = 0;
  }

  /** Runs the undos newest first, even while the workflow is being cancelled; returns their notes. */
  unwind(cause: Cause): Promise<string[]> {
    return CancellationScope.nonCancellable(async () => {
      const notes: string[] = [];
      for (let undo = this.stack.pop(); undo; undo = this.stack.pop()) {
        const done = await undo.run(cause);
        if (done.note) notes.push(done.note);
        if (!done.ok) break;
      }
      this.stack.length = 0;
      return notes;
    });
  }
}
