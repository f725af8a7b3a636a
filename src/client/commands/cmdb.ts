import { Option } from 'commander';
import { openCmdbForReading } from '../../providers/cmdb/open';
import { ServiceName, TargetName } from '../../shared/release';
import { GreenlightError } from '../api';
import { formatCmdb } from '../format';
import { positiveInt, validateName } from './arguments';
import type { CommandGroup } from './context';

/** `greenlight cmdb show`: deployments, relationships and changes of a service. */
export const cmdbCommands: CommandGroup = (program, cli) => {
  program
    .command('cmdb')
    .description('the configuration management database')
    .command('show <service>')
    .description("a service's deployments, their relationships and its recent changes")
    .option('--target <env>', 'only this target')
    .addOption(new Option('--limit <n>', 'recent changes to show').default(20).argParser(positiveInt))
    .option('--json', 'print JSON', false)
    .action(async (service: string, o: { target?: string; limit: number; json: boolean }) => {
      validateName(ServiceName, service, 'service');
      if (o.target !== undefined) validateName(TargetName, o.target, 'target');
      const s = cli.settings();
      const db = await openCmdbForReading(s.stateDir, s.cmdbUrl);
      try {
        const view = {
          deployments: await db.cmdb.deployments(service, o.target),
          relationships: await db.cmdb.relationships(service, o.target),
          changes: await db.cmdb.changes(service, o.target, o.limit),
        };
        if (!o.json && view.deployments.length === 0 && view.changes.length === 0) {
          throw new GreenlightError(
            `the CMDB has no service ${service}${o.target ? ` on ${o.target}` : ''}: nothing was released there yet`,
            'not_found',
          );
        }
        cli.print(o.json, view, formatCmdb(service, view));
      } finally {
        await db.close();
      }
    });
};
