import { openDnsProviders } from '../../compose/dns';
import { targetZone } from '../../config/resolve';
import { TargetName } from '../../shared/release';
import { GreenlightError } from '../api';
import { validateName } from './arguments';
import type { CommandGroup } from './context';

/** `greenlight dns list`: the records of each target, from its DNS provider. */
export const dnsCommands: CommandGroup = (program, cli) => {
  program
    .command('dns')
    .description("the DNS records of the targets' providers")
    .command('list')
    .description('list the records greenlight manages (A, AAAA, CNAME), per DNS provider')
    .option('--target <env>', 'only the provider of this target')
    .option('--json', 'print JSON', false)
    .action(async (o: { target?: string; json: boolean }) => {
      const s = cli.settings();
      if (o.target !== undefined) {
        validateName(TargetName, o.target, 'target');
        if (!Object.hasOwn(s.config.targets, o.target)) {
          throw new GreenlightError(
            `unknown target ${JSON.stringify(o.target)}; configured targets: ${Object.keys(s.config.targets).join(', ')}`,
            'unknown_target',
          );
        }
      }
      const groups = openDnsProviders(s.config, s.stateDir, cli.io.env)
        .all()
        .filter((g) => o.target === undefined || g.targets.includes(o.target));
      const listed = [];
      for (const g of groups) {
        const records = await g.provider.list().catch((e: unknown) => {
          throw new GreenlightError(`${g.location}: ${(e as Error).message}`, 'unavailable');
        });
        listed.push({ ...g, records });
      }
      // Targets may share a server or zone: with --target, only that target's names.
      if (o.target !== undefined) {
        const suffix = `.${o.target}.${targetZone(s.config, o.target)}`;
        for (const g of listed) {
          g.records = g.records.filter((r) => r.name.endsWith(suffix));
          g.targets = [o.target];
        }
      }
      const rows = listed.flatMap((g) => g.records.map((r) => ({ ...r, targets: g.targets })));
      const text = listed
        .map((g) => {
          const lines = g.records.length
            ? g.records.map(
                (r) => `  ${r.name.padEnd(48)} ${String(r.ttl).padStart(5)} ${r.type.padEnd(5)} ${r.value}`,
              )
            : ['  (no records)'];
          return [`${g.location} (${g.targets.join(', ')})`, ...lines].join('\n');
        })
        .join('\n');
      cli.print(o.json, rows, text);
    });
};
