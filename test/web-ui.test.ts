import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { chromium } from 'playwright-core';
import type { Browser, Frame } from 'playwright-core';
import { freePort } from './helpers/postgres';
import type { Harness } from '../harness/release';
import { releaseRequest, startHarness } from '../harness/release';
import { targetEnvironment } from '../src/config/resolve';
import { waitForStage } from './helpers/wait';

/** Debian's Chromium, which `.ci/run` installs; Playwright's own download needs the internet. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

let h: Harness;
let uiPort: number;
let browser: Browser;

before(async () => {
  assert.ok(
    existsSync(CHROMIUM),
    `no Chromium at ${CHROMIUM}: install Debian's chromium, or set CHROMIUM_PATH`,
  );
  uiPort = await freePort();
  h = await startHarness(undefined, { uiPort });
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
