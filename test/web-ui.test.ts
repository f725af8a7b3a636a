import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium } from 'playwright-core';
import type { Browser, Frame, Page } from 'playwright-core';
import { freePort } from './helpers/postgres';
import type { Harness } from '../harness/release';
import { releaseRequest, startHarness, TEST_CONFIG } from '../harness/release';
import { EncryptionCodec } from '../src/codec/encryption';
import { startCodecServer } from '../src/codec/server';
import type { CodecServer } from '../src/codec/server';
import { targetEnvironment } from '../src/config/resolve';
import { laneWorkflowId } from '../src/shared/messages';
import { waitForStage } from './helpers/wait';

/** Debian's Chromium, which `.ci/run` installs; Playwright's own download needs the internet. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Where the screenshots go: kept as the run's artifacts (ignored by git). */
const ARTIFACTS =
  process.env.GREENLIGHT_TEST_ARTIFACTS ?? join(__dirname, '..', '..', 'test-artifacts', 'web-ui');
const KEY = randomBytes(32);

let h: Harness;
let uiPort: number;
let browser: Browser;
let codec: CodecServer;
/** What the codec server was asked, by path. */
const codecCalls: string[] = [];

before(async () => {
  assert.ok(
    existsSync(CHROMIUM),
    `no Chromium at ${CHROMIUM}: install Debian's chromium, or set CHROMIUM_PATH`,
  );
  await mkdir(ARTIFACTS, { recursive: true });
  uiPort = await freePort();
  // Payloads are encrypted: the UI decodes them through the codec server, as an operator's would.
  codec = await startCodecServer({
    codec: new EncryptionCodec([{ id: 'ui-test', key: KEY }]),
    host: '127.0.0.1',
    port: 0,
    origins: [`http://127.0.0.1:${uiPort}`],
    onRequest: (e) => codecCalls.push(`${e.method} ${e.path} ${e.status}`),
  });
  h = await startHarness(
    { ...TEST_CONFIG, encryption: { keys: [{ id: 'ui-test', key: { env: 'UI_TEST_KEY' } }] } },
    { uiPort, uiCodecEndpoint: codec.url, env: { ...process.env, UI_TEST_KEY: KEY.toString('base64') } },
  );
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
});

after(async () => {
  await browser?.close();
  await h?.stop();
  await codec?.close();
});

/** The frame in which the UI renders a release's current details, once it shows `text`. */
async function detailsFrame(frames: () => Frame[], text: string): Promise<Frame> {
  for (let i = 0; i < 100; i++) {
    for (const frame of frames()) {
      const body = await frame
        .locator('body')
        .innerText()
        .catch(() => '');
      if (body.includes(text)) return frame;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`no frame shows ${JSON.stringify(text)}`);
}

/** Waits until the page's text matches (a line of a JSON block is split into many elements). */
async function untilText(page: Page, pattern: RegExp): Promise<void> {
  let text = '';
  for (let i = 0; i < 100; i++) {
    text = await page.locator('body').innerText();
    if (pattern.test(text)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`the page never showed ${String(pattern)}:\n${text.slice(0, 2000)}`);
}

/** The lines of the current details, each with its bottom and the frame's own visible height (measured in the browser). */
function detailLines(frame: Frame): Promise<{ text: string; bottom: number; height: number }[]> {
  return frame.locator('li').evaluateAll((items) => {
    const view = (globalThis as unknown as { document: { documentElement: { clientHeight: number } } })
      .document;
    return items.map((item) => {
      const el = item as unknown as { innerText: string; getBoundingClientRect(): { bottom: number } };
      const bottom = el.getBoundingClientRect().bottom;
      return { text: el.innerText, bottom, height: view.documentElement.clientHeight };
    });
  });
}

describe('the Web UI, in a real Chromium', () => {
  it('shows every line of a waiting release’s current details, and its summary, on User Metadata', async () => {
    const { releaseId } = await h.api.startRelease(releaseRequest('web', 'v1', 'stage'));
    await waitForStage(h.api, releaseId, 'awaiting_approval');
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    await page.goto(`http://127.0.0.1:${uiPort}/namespaces/default/workflows/${releaseId}`);
    await page.getByText('User Metadata').click();
    const frame = await detailsFrame(() => page.frames(), 'Stage:');
    const lines = await detailLines(frame);
    const cut = lines.filter((l) => l.bottom > l.height);
    assert.deepEqual(
      lines.map((l) => l.text.split(':')[0]),
      ['Stage', 'Waiting for', 'Live', 'Green', 'Artifact', 'Policy', 'Tests'],
    );
    assert.deepEqual(cut, [], 'every line is inside the frame, none cut off');
    assert.equal(lines[2]!.text, 'Live: none');
    await detailsFrame(() => page.frames(), `web v1 → stage`);
    await page.close();
    await h.api.abort(releaseId, { by: 'ci' });
  });

  it('finds a release by GreenlightService, shows its decrypted payloads, and approves it through "Send an Update"', async () => {
    const { releaseId } = await h.api.startRelease(
      releaseRequest('checkout', 'v7', 'stage', { initiator: 'dana' }),
    );
    await waitForStage(h.api, releaseId, 'awaiting_approval');
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });
    try {
      await page.goto(`http://127.0.0.1:${uiPort}/namespaces/default/workflows`);
      const lane = page.getByRole('link', { name: laneWorkflowId('checkout', 'stage') });
      await lane.waitFor({ timeout: 20_000 });
      await page.getByRole('button', { name: 'Add Filter' }).click();
      await page.getByRole('menuitem', { name: /^GreenlightService/ }).click();
      await page.getByTestId('dropdown-filter-chip-GreenlightService-0-text').fill('checkout');
      await page.getByRole('button', { name: 'Apply' }).click();
      // Filtered: the release's lane (listed before, a workflow without the attribute) leaves the list.
      await page.waitForURL(/query=/);
      await lane.waitFor({ state: 'detached' });
      const row = page.getByRole('link', { name: releaseId });
      await row.waitFor({ timeout: 20_000 });
      await shot('1-filtered-by-service');
      await row.click();

      // The input is decrypted by the codec server: the initiator reads in plain text.
      await untilText(page, /"initiator": "dana"/);
      await page.getByText('User Metadata').click();
      await detailsFrame(() => page.frames(), 'Stage: awaiting approval');
      await detailsFrame(() => page.frames(), 'checkout v7 → stage');
      await shot('2-release-awaiting-approval');

      await page.getByRole('button', { name: 'More Actions' }).click();
      await page.getByRole('menuitem', { name: 'Send an Update' }).click();
      const dialog = page.getByRole('dialog').filter({ hasText: 'Send an Update' });
      await dialog.getByTestId('update-select-button').click();
      await dialog.getByRole('option', { name: 'approve', exact: true }).click();
      await dialog.locator('.cm-content').click();
      await page.keyboard.press('Control+A');
      await page.keyboard.insertText('{"approver": "alice", "comment": "approved in the Web UI"}');
      // The editor checks and formats its JSON when it loses focus; only then does Submit send it.
      await dialog.getByText('Data', { exact: true }).click();
      await shot('3-send-an-update');
      const submit = dialog.getByRole('button', { name: 'Submit' });
      await submit.click();
      // Should that click only have taken the focus, a person clicks again (the same update id:
      // Temporal never applies one update twice).
      await dialog.waitFor({ state: 'hidden', timeout: 3_000 }).catch(() => submit.click());
      await dialog.waitFor({ state: 'hidden', timeout: 20_000 });

      const done = await h.api.wait(releaseId);
      assert.equal(done.stage, 'completed', done.reason ?? '');
      assert.deepEqual(
        done.approvals.approvedBy.map((a) => [a.approver, a.via, a.comment]),
        [['alice', 'update', 'approved in the Web UI']],
      );
      await page.goto(`http://127.0.0.1:${uiPort}/namespaces/default/workflows/${releaseId}`);
      // The result (the release's final status), decrypted.
      await untilText(page, /"stage": "completed"/);
      await page.getByText('Completed').first().waitFor({ timeout: 20_000 });
      await shot('4-completed');
      // The UI encoded the update's input through the codec server, and decoded the history with it.
      assert.ok(codecCalls.includes('POST /encode 200'), codecCalls.join(', '));
      assert.ok(codecCalls.includes('POST /decode 200'));
    } finally {
      await page.close();
    }
  });

  it("shows an environment's state, what it waits for and its last drift check, and its summary", async () => {
    await h.api.environments.create(targetEnvironment(h.config, 'stage'));
    const isActive = async () => {
      const s = await h.api.environments.status('stage');
      return s.state === 'active' && !s.running;
    };
    for (let i = 0; i < 100 && !(await isActive()); i++) await new Promise((r) => setTimeout(r, 100));
    await h.api.environments.checkDrift('stage', { by: 'ci' });
    for (let i = 0; i < 100 && !(await h.api.environments.status('stage')).lastDrift; i++)
      await new Promise((r) => setTimeout(r, 100));
    // Protected (stage asks for an approval): decommissioning waits for one.
    await h.api.environments.transition('stage', { on: 'decommission', by: 'ci' });
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    await page.goto(`http://127.0.0.1:${uiPort}/namespaces/default/workflows/env-stage`);
    await page.getByText('User Metadata').click();
    const frame = await detailsFrame(() => page.frames(), 'Waiting for:');
    const measured = await detailLines(frame);
    const lines = measured.map((l) => l.text);
    assert.deepEqual(
      lines.map((l) => l.split(':')[0]),
      ['State', 'Waiting for', 'Policy of verify', 'Last drift check', 'Next drift check', 'Flow'],
    );
    assert.deepEqual(
      measured.filter((l) => l.bottom > l.height),
      [],
      'every line is inside the frame, none cut off',
    );
    assert.match(lines[1]!, /^Waiting for: approval of decommission \(0 of 1 given\)$/);
    assert.match(lines[3]!, /: no drift$/);
    await detailsFrame(() => page.frames(), 'environment stage (target, flow lifecycle)');
    await page.close();
  });
});
