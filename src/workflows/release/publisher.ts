import { patched, setCurrentDetails, upsertSearchAttributes } from '@temporalio/workflow';
import { SearchAttributes } from '../../shared/messages';
import type { Stage } from '../../shared/release';
import { currentDetails } from './details';
import { Patches } from './patches';
import type { ReleaseState } from './state';

/** Shows a release's state outside the workflow: its search attributes and the Web UI's details. */
export class Publisher {
  /** The stage last written to the GreenlightStage search attribute. */
  private publishedStage: Stage | null = null;

  constructor(private readonly release: ReleaseState) {}

  /** Sets the search attributes a release is found by, then shows its state. */
  start(): void {
    const { service, target, version } = this.release.status;
    upsertSearchAttributes([
      { key: SearchAttributes.service, value: service },
      { key: SearchAttributes.target, value: target },
      { key: SearchAttributes.version, value: version },
      { key: SearchAttributes.stage, value: this.release.stage },
    ]);
    this.publishedStage = this.release.stage;
    this.publish();
  }

  /**
   * Keeps the search attribute and the UI's current details in step with the state. The attribute
   * is upserted only when the stage changed: each upsert is a history event, and requests that
   * change nothing must not grow the history.
   */
  publish(): void {
    if (!patched(Patches.publishStageOnChange) || this.release.stage !== this.publishedStage) {
      upsertSearchAttributes([{ key: SearchAttributes.stage, value: this.release.stage }]);
      this.publishedStage = this.release.stage;
    }
    setCurrentDetails(currentDetails(this.release.status));
  }
}
