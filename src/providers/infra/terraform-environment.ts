import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { z } from 'zod';
import { ProviderError, ProviderErrorKinds } from '../errors';
import { DEFAULT_WORKSPACE, INIT, parsePlan, TerraformRunner } from './terraform-cli';
import type { PlanSummary, TerraformRunnerOptions } from './terraform-cli';
import type { EnvironmentModule } from './types';

export interface EnvironmentModuleOptions extends TerraformRunnerOptions {
  /** The environment's module: its network and shared resources. It takes `environment` and `tags`. */
  moduleDir: string;
  /** Where each environment gets its working directory (root module; local state). */
  workDir: string;
}

/** The tag every resource of an environment carries, with the environment's name as its value. */
export const ENVIRONMENT_TAG = 'greenlight-environment';

/** What `apply` left: the module's outputs, and those of them that have no value. */
export interface AppliedModule {
  plan: PlanSummary;
  outputs: string[];
  unset: string[];
}

const ModuleOutputs = z.object({
  module_outputs: z.object({ value: z.record(z.string(), z.unknown()).nullable() }),
});

/**
 * An environment's own Terraform/OpenTofu module (its network and shared resources), applied once
 * per environment in its own workspace (`environment_<name>`) of the same backend as the target's
 * deployments. The generated root module passes the environment's name and the tag
 * `{ greenlight-environment = <name> }`, which the module puts on every resource it creates, so
 * everything of an environment is found and torn down at once.
 */
export class TerraformEnvironment implements EnvironmentModule {
  private readonly runner: TerraformRunner;

  constructor(private readonly options: EnvironmentModuleOptions) {
    this.runner = new TerraformRunner(options);
  }

  /** Applies the module; every output it declares is read back, and those without a value named. */
  async apply(environment: string, signal?: AbortSignal): Promise<AppliedModule> {
    const { dir, workspace } = await this.prepare(environment, signal);
    const planned = await this.runner.run(
      dir,
      ['plan', '-input=false', '-no-color', '-out=tfplan'],
      workspace,
      signal,
    );
    await this.runner.run(dir, ['apply', '-input=false', '-no-color', 'tfplan'], workspace, signal);
    const outputs = await this.outputs(dir, workspace, signal);
    return {
      plan: parsePlan(planned),
      outputs: Object.keys(outputs),
      unset: Object.entries(outputs)
        .filter(([, value]) => value === null || value === undefined)
        .map(([name]) => name),
    };
  }

  /** `plan -detailed-exitcode`: whether the infrastructure differs from the module (drift). */
  async plan(environment: string, signal?: AbortSignal): Promise<{ isChanged: boolean; plan: PlanSummary }> {
    const { dir, workspace } = await this.prepare(environment, signal);
    const { stdout, exitCode } = await this.runner.runFor(
      dir,
      ['plan', '-input=false', '-no-color', '-detailed-exitcode', '-lock=false'],
      workspace,
      [0, 2],
      signal,
    );
    return { isChanged: exitCode === 2, plan: parsePlan(stdout) };
  }

  /** Destroys everything the module created; the workspace and the working directory go too. */
  async destroy(environment: string, signal?: AbortSignal): Promise<void> {
    const { dir, workspace } = await this.prepare(environment, signal);
    await this.runner.run(dir, ['destroy', '-input=false', '-no-color', '-auto-approve'], workspace, signal);
    if (workspace !== DEFAULT_WORKSPACE) {
      await this.runner.run(dir, ['workspace', 'delete', '-no-color', workspace], DEFAULT_WORKSPACE, signal);
    } else if ((await this.list(dir, workspace, signal)).length > 0) {
      return; // a local state that still holds resources stays, for the leak check to name them
    }
    await rm(dir, { recursive: true, force: true });
  }

  /** The addresses of the resources the environment's state still holds (none once destroyed). */
  async resources(environment: string, signal?: AbortSignal): Promise<string[]> {
    const dir = this.dirOf(environment);
    if (!this.options.backend) {
      if (!existsSync(join(dir, 'terraform.tfstate'))) return [];
      return this.list(dir, DEFAULT_WORKSPACE, signal);
    }
    // A lookup leaves nothing behind: the working directory goes when it was made for it.
    const isMadeHere = !existsSync(dir);
    await mkdir(dir, { recursive: true });
    try {
      await this.writeRootModule(environment, dir);
      await this.runner.run(dir, INIT, DEFAULT_WORKSPACE, signal);
      const workspace = this.workspaceOf(environment);
      if (!(await this.runner.hasWorkspace(dir, workspace, signal))) return [];
      return await this.list(dir, workspace, signal);
    } finally {
      if (isMadeHere) await rm(dir, { recursive: true, force: true });
    }
  }

  private async list(dir: string, workspace: string, signal?: AbortSignal): Promise<string[]> {
    const listed = await this.runner.runFor(dir, ['state', 'list'], workspace, [0, 1], signal);
    // Exit 1 with no state at all ("No state file was found!") is an empty state.
    if (listed.exitCode === 1) return [];
    return listed.stdout
      .split('\n')
      .map((line) => line.trim())
      .filter(Boolean);
  }

  private async prepare(
    environment: string,
    signal?: AbortSignal,
  ): Promise<{ dir: string; workspace: string }> {
    const dir = this.dirOf(environment);
    await mkdir(dir, { recursive: true });
    await this.writeRootModule(environment, dir);
    const workspace = this.workspaceOf(environment);
    await this.runner.run(dir, INIT, DEFAULT_WORKSPACE, signal);
    if (workspace !== DEFAULT_WORKSPACE) await this.runner.createWorkspace(dir, workspace, signal);
    return { dir, workspace };
  }

  private dirOf(environment: string): string {
    return join(this.options.workDir, environment);
  }

  private workspaceOf(environment: string): string {
    return this.options.backend ? `environment_${environment}` : DEFAULT_WORKSPACE;
  }

  private async outputs(
    dir: string,
    workspace: string,
    signal?: AbortSignal,
  ): Promise<Record<string, unknown>> {
    const raw: unknown = JSON.parse(
      await this.runner.run(dir, ['output', '-json', '-no-color'], workspace, signal),
    );
    const parsed = ModuleOutputs.safeParse(raw);
    if (!parsed.success) {
      throw new ProviderError(
        ProviderErrorKinds.infraConfigInvalid,
        "the environment module's outputs could not be read back",
        false,
      );
    }
    return parsed.data.module_outputs.value ?? {};
  }

  /** The root module: the environment's module called with its name and tag; its outputs as one. */
  private async writeRootModule(environment: string, dir: string): Promise<void> {
    const source = `./${relative(dir, this.options.moduleDir).split('\\').join('/')}`.replace(
      /^\.\/\.\.\//,
      '../',
    );
    const root = {
      ...this.runner.backendBlock(),
      module: {
        environment: { source, environment, tags: { [ENVIRONMENT_TAG]: environment } },
      },
      output: { module_outputs: { value: '${module.environment}' } },
    };
    await writeFile(join(dir, 'main.tf.json'), JSON.stringify(root, null, 2));
  }
}
