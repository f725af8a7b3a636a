import type { Config } from '../config/schema';
import type { CmdbProvider } from '../providers/cmdb/types';

/**
 * Which configured target an environment's providers, zone and settings are those of: a configured
 * target is its own; an environment made from a template is like the target its template names
 * (default: the first). Learnt from the template when an environment's activity names it, else
 * from the environment's item in the CMDB, and kept.
 */
export class EnvironmentTargets {
  private readonly known = new Map<string, string>();

  constructor(
    private readonly config: Config,
    private readonly cmdb: Pick<CmdbProvider, 'environment'>,
  ) {}

  /** The configured target whose providers serve `name` (itself when it is not known to be a template's). */
  targetOf(name: string): string {
    if (Object.hasOwn(this.config.targets, name)) return name;
    return this.known.get(name) ?? name;
  }

  /**
   * Learns which target `name` is like, from `template` when given, else from the CMDB (which
   * throws when it cannot be read: then the activity is retried rather than run on the wrong
   * providers). An environment the CMDB does not know stays itself.
   */
  async learn(name: string, template?: string): Promise<void> {
    if (Object.hasOwn(this.config.targets, name)) return;
    // A template named by the activity is the truth (a name decommissioned and made again from
    // another template is learnt anew); the CMDB is asked once per name.
    if (template === undefined && this.known.has(name)) return;
    const templateName = template ?? (await this.cmdb.environment(name))?.template;
    if (templateName === undefined) return;
    const templates = this.config.environments.templates;
    if (!Object.hasOwn(templates, templateName)) return;
    this.known.set(name, templates[templateName]!.like ?? Object.keys(this.config.targets)[0]!);
  }
}
