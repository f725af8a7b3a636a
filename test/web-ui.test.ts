import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { chromium } from 'playwright-core';
import type { Browser, Frame } from 'playwright-core';
import { freePort } from './helpers/postgres';
import type { Harness } from '../harness/release';
import { releaseRequest, startHarness } from '../harness/release';
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

describe('the Web UI, in a real Chromium', () => {
  it('shows every line of a waiting release’s current details, and its summary, on User Metadata', async () => {
    const { releaseId } = await h.api.startRelease(releaseRequest('web', 'v1', 'stage'));
    await waitForStage(h.api, releaseId, 'awaiting_approval');
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    await page.goto(`http://127.0.0.1:${uiPort}/namespaces/default/workflows/${releaseId}`);
    await page.getByText('User Metadata').click();
    const frame = await detailsFrame(() => page.frames(), 'Stage:');
    // Measured in the browser: each line's bottom against the frame's own visible height.
    const lines = await frame.locator('li').evaluateAll((items) => {
      const view = (globalThis as unknown as { document: { documentElement: { clientHeight: number } } })
        .document;
      return items.map((item) => {
        const el = item as unknown as { innerText: string; getBoundingClientRect(): { bottom: number } };
        const bottom = el.getBoundingClientRect().bottom;
        return { text: el.innerText, bottom, height: view.documentElement.clientHeight };
      });
    });
    const cut = lines.filter((l) => l.bottom > l.height);
    assert.deepEqual(
      lines.map((l) => l.text.split(':')[0]),
      ['Stage', 'Waiting for', 'Live', 'Green', 'Policy', 'Tests'],
    );
    assert.deepEqual(cut, [], 'every line is inside the frame, none cut off');
    assert.equal(lines[2]!.text, 'Live: none');
    await detailsFrame(() => page.frames(), `web v1 → stage`);
    await page.close();
    await h.api.abort(releaseId, { by: 'ci' });
  });
});
