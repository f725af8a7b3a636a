import type { Command } from 'commander';
import type { Settings } from '../../config/load';
import type { GreenlightClient } from '../api';

/** Where the CLI writes, and what it reads its settings from. */
export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
  env: NodeJS.ProcessEnv;
}

/** What every command group is given: settings and a client on demand, output, the exit code. */
export interface CliContext {
  io: Io;
  /** The settings, read once from the environment on first use. */
  settings(): Settings;
  /** The client API, connected to Temporal on first use. */
  api(): Promise<GreenlightClient>;
  /** Prints JSON or text, as `--json` says. */
  print(json: boolean, value: unknown, text: string): void;
  exitWith(code: number): void;
}

/** Registers one group of commands on the program. */
export type CommandGroup = (program: Command, cli: CliContext) => void;
