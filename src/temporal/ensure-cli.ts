// `npm run temporal:ensure`: finds or builds the Temporal CLI and prints its path.
import { findTemporalCli } from './cli-binary';

async function main(): Promise<void> {
  const found = await findTemporalCli({
    cliPath: process.env.TEMPORAL_CLI_PATH || undefined,
    searchPath: process.env.PATH ?? '',
    env: process.env,
    progress: (line) => console.error(line),
  });
  if (!found) {
    console.error(
      'no temporal binary and no Go toolchain: tests will try the SDK download, which needs internet',
    );
    process.exitCode = 1;
    return;
  }
  console.log(found.path);
}

void main().catch((e: unknown) => {
  console.error((e as Error).message);
  process.exitCode = 1;
});
