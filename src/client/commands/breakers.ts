import { userInfo } from 'node:os';
import type { BreakerView } from '../../breaker/registry';
import { BreakerConfigKey } from '../../shared/breaker-name';
import { adminRequest } from '../admin-client';
import { formatBreakers } from '../format';
import { validateName } from './arguments';
import type { CommandGroup } from './context';

/** `greenlight breakers …`: the circuit breakers, through the worker's admin endpoint. */
export const breakerCommands: CommandGroup = (program, cli) => {
  const breakers = program
    .command('breakers')
    .description("the circuit breakers of the dependencies, as the worker's admin endpoint reports them")
    .option('--json', 'print JSON', false)
    .action(async (o: { json: boolean }) => {
      const list = (await adminRequest(cli.settings().admin, 'GET', '/breakers')) as BreakerView[];
      cli.print(o.json, list, formatBreakers(list));
    });
  for (const action of ['open', 'close', 'reset'] as const) {
    breakers
      .command(`${action} <name>`)
      .description(
        {
          open: 'force a breaker open: every call is rejected until it is closed or reset',
          close: 'close a breaker (from forced open, open or half-open), with an empty window',
          reset: 'reset a breaker: closed, empty window, no backoff history',
        }[action],
      )
      .option('--by <name>', 'who does it (logged)', userInfo().username)
      .option('--json', 'print JSON', false)
      .action(async (name: string, o: { by: string; json: boolean }) => {
        validateName(BreakerConfigKey, name, 'breaker name');
        const view = (await adminRequest(
          cli.settings().admin,
          'POST',
          `/breakers/${encodeURIComponent(name)}/${action}?by=${encodeURIComponent(o.by)}`,
        )) as BreakerView;
        cli.print(o.json, view, formatBreakers([view]));
      });
  }
};
