import { join } from 'node:path';
import { JsonFile } from '../json-file';
import type { ChangeRecord, CmdbProvider, DeploymentItem } from './types';

interface Store {
  changes: ChangeRecord[];
  deployments: Record<string, DeploymentItem>;
}

/** The embedded default CMDB: a JSON document in `<stateDir>/cmdb/cmdb.json`. */
export class LocalCmdbStore implements CmdbProvider {
  private readonly file: JsonFile<Store>;

  constructor(stateDir: string) {
    this.file = new JsonFile(join(stateDir, 'cmdb', 'cmdb.json'), () => ({ changes: [], deployments: {} }));
  }

  async recordChange(change: ChangeRecord): Promise<void> {
    await this.file.update((store) => {
      const exists = store.changes.some((c) => c.releaseId === change.releaseId && c.step === change.step);
      if (!exists) store.changes.push(change);
    });
  }

  async upsertDeployment(item: DeploymentItem): Promise<void> {
    await this.file.update((store) => {
      store.deployments[item.hostname] = item;
    });
  }

  async deployments(service: string, target?: string): Promise<DeploymentItem[]> {
    const { deployments } = await this.file.read();
    return Object.values(deployments).filter(
      (d) => d.service === service && (!target || d.target === target),
    );
  }

  async changes(service: string, target?: string, limit = 50): Promise<ChangeRecord[]> {
    const { changes } = await this.file.read();
    return changes.filter((c) => c.service === service && (!target || c.target === target)).slice(-limit);
  }
}
