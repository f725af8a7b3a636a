import { patched } from '@temporalio/workflow';
import type { NotifyEvent } from '../../shared/notify';
import { startNotification } from '../notify';
import { Patches } from './patches';
import type { ReleaseState } from './state';

/**
 * Tells the webhooks that hear of a release's events (known once its target's settings are read):
 * each notification is a `deliverNotifications` workflow started and left to run, so a receiver
 * that is slow or down never holds up the release. Nothing is started when no webhook listens.
 */
export class Notifier {
  private events: readonly NotifyEvent[] = [];
  private sent = 0;
  private readonly breakersTold = new Set<string>();

  constructor(private readonly release: ReleaseState) {}

  /** The events the target's webhooks hear of (its settings' `notify`). */
  listen(events: readonly NotifyEvent[] | undefined): void {
    this.events = events ?? [];
  }

  /** A breaker that holds the release back: told once per breaker. */
  async breakerOpened(breaker: string, detail: string): Promise<void> {
    if (this.breakersTold.has(breaker)) return;
    this.breakersTold.add(breaker);
    await this.notify('breaker_opened', detail);
  }

  async notify(event: NotifyEvent, detail: string): Promise<void> {
    if (!this.events.includes(event) || !patched(Patches.notifications)) return;
    const { releaseId, service, version, target } = this.release.status;
    this.sent++;
    await startNotification(
      `notify-${releaseId}-${this.sent}`,
      { event, workflowId: releaseId, target, service, version, detail, at: new Date().toISOString() },
      `notify: ${service} ${version} → ${target} ${event.replace('_', ' ')}`,
    );
  }
}
