import { tearDownLocal } from '../local-teardown';
import type { CommandGroup } from './context';

/** `greenlight local teardown`: the local deployments of `npm start`. */
export const localCommands: CommandGroup = (program, cli) => {
  program
    .command('local')
    .description('the embedded local infrastructure of `npm start`')
    .command('teardown')
    .description('stop the local example services and remove their DNS names (with the worker stopped)')
    .option('--json', 'print JSON', false)
    .action(async (o: { json: boolean }) => {
      const removed = await tearDownLocal(cli.settings().stateDir);
      const text = removed.stopped.length
        ? removed.stopped.map((d) => `stopped ${d.service} ${d.version} (${d.hostname})`).join('\n') +
          `\nremoved ${removed.records.length} DNS record${removed.records.length === 1 ? '' : 's'}`
        : 'no local deployment runs';
      cli.print(o.json, removed, text);
    });
};
