import { CommandCheckRunner } from './command';
import type { CommandCheckOptions } from './command';
import { HttpCheckRunner } from './http';
import type { Check, CheckContext, CheckRunner } from './types';

/** Runs each kind of check with its runner. */
export class Checks implements CheckRunner {
  private readonly http = new HttpCheckRunner();
  private readonly command: CommandCheckRunner;

  constructor(options: CommandCheckOptions) {
    this.command = new CommandCheckRunner(options);
  }

  run(check: Check, context: CheckContext) {
    return check.kind === 'http' ? this.http.run(check, context) : this.command.run(check, context);
  }
}
