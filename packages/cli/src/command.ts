// What the command modules share with main(): the usage error they throw, and how main() runs their actions.
import type { Command } from 'cac';

export type { Command };

/** A usage mistake on the command line: main() prints its one line and exits with code 2. */
export class CliError extends Error {
  override name = 'UserError';
}

/** Wraps a command's action so main() can await it and read its exit code. */
export type Run = (fn: (...args: any[]) => Promise<number | void>) => (...args: any[]) => void;
