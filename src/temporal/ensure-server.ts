// `npm run temporal:ensure-server`: finds or builds the Temporal server, its SQL tool and schemas,
// which the cluster tests run on PostgreSQL, and prints where they are.
import { dirname } from 'node:path';
import { findTemporalServer } from './server-binary';

async function main(): Promise<void> {
  const found = await findTemporalServer({
    searchPath: process.env.PATH ?? '',
    env: process.env,
    progress: (line) => console.error(line),
  });
  if (!found) {
    console.error('no Temporal server build and no Go toolchain to build one: the cluster tests cannot run');
    process.exitCode = 1;
    return;
  }
  console.log(dirname(found.server));
}

void main().catch((e: unknown) => {
  console.error((e as Error).message);
  process.exitCode = 1;
});
