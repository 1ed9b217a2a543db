// The playground in a real browser: serves playground/www on 127.0.0.1, drives it with headless
// Chromium, and fails (exit 1) with the step and what differed.
//
//   node playground/tests/browser.mjs     (npm ci in playground/tests first)
//
// CHROMIUM is the browser binary (default /usr/bin/chromium, Debian's package). PLAYGROUND_WWW
// serves another copy of the page. SCREENSHOT is where the screenshot goes (default
// docs/playground.png; empty: none). playground/www/pkg/ must exist (wasm-bindgen's output).

import { existsSync, readFileSync, readdirSync, statSync, createReadStream, mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const www = resolve(process.env.PLAYGROUND_WWW || join(repo, 'playground/www'));
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const screenshot = process.env.SCREENSHOT ?? join(repo, 'docs/playground.png');
const STEP_MS = 30_000; // one check in a slow CI container, with room to spare
const TOTAL_MS = 240_000;

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.txt': 'text/plain; charset=utf-8',
  '.ts': 'text/plain; charset=utf-8',
};

class Failure extends Error {}

function expect(condition, message) {
  if (!condition) throw new Failure(message);
}

function same(actual, expected, what) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  expect(a === e, `${what}:\n  expected ${e}\n  got      ${a}`);
}

// A static server for `root`, GET and HEAD only, nothing outside root.
function serve(root) {
  const server = createServer((request, response) => {
    const fail = (status) => {
      response.writeHead(status, { 'content-type': 'text/plain' });
      response.end(`${status}\n`);
    };
    if (request.method !== 'GET' && request.method !== 'HEAD') return fail(405);
    let pathname;
    try {
      pathname = decodeURIComponent(new URL(request.url, 'http://x').pathname);
    } catch {
      return fail(400);
    }
    if (pathname.endsWith('/')) pathname += 'index.html';
    const file = resolve(root, `.${pathname}`);
    if (file !== root && !file.startsWith(root + sep)) return fail(403);
    let stat;
    try {
      stat = statSync(file);
    } catch {
      return fail(404);
    }
    if (!stat.isFile()) return fail(404);
    response.writeHead(200, {
      'content-type': MIME[extname(file)] || 'application/octet-stream',
      'content-length': stat.size,
      'cache-control': 'no-store',
    });
    if (request.method === 'HEAD') return response.end();
    createReadStream(file).pipe(response);
  });
  return new Promise((resolve_, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve_(server));
  });
}

// The `fixture.expect` header of a fixture's document 0: {"Kind/name": [check, ...]} and its rule.
// A minimal reading of the two shapes the fixtures use (`rule: id` and `Kind/name: [a, b]`).
function fixtureExpectation(text) {
  const header = text.split(/^---\s*$/m)[0];
  const rule = header.match(/^\s+rule:\s*([\w-]+)\s*$/m)?.[1];
  const expected = {};
  const body = header.split(/^\s+expect:\s*$/m)[1] ?? '';
  for (const match of body.matchAll(/^\s+([\w.-]+\/[\w.-]+):\s*\[([^\]]*)\]\s*$/gm)) {
    expected[match[1]] = match[2].split(',').map((s) => s.trim()).filter(Boolean).sort();
  }
  expect(rule && Object.keys(expected).length, 'could not read the fixture header (fixture.rule, fixture.expect)');
  return { rule, expected };
}

async function main() {
  expect(existsSync(join(www, 'pkg/prodready.js')),
    `${join(www, 'pkg/prodready.js')} is missing: build the wasm-bindgen package into playground/www/pkg first`);
  expect(existsSync(executablePath), `no browser at ${executablePath} (set CHROMIUM, or apt-get install chromium)`);

  const server = await serve(www);
  const { port } = server.address();
  const origin = `http://127.0.0.1:${port}`;
  const problems = [];

  const browser = await chromium.launch({
    executablePath,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-default-apps',
      '--disable-domain-reliability',
      '--disable-sync',
      '--no-first-run',
      '--no-default-browser-check',
      '--metrics-recording-only',
    ],
  });
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1 });
    // Nothing leaves 127.0.0.1: the page must work offline.
    await context.route('**/*', (route) => {
      const url = new URL(route.request().url());
      if (url.protocol === 'data:' || url.protocol === 'blob:' || url.origin === origin) return route.continue();
      problems.push(`request to another host: ${url.href}`);
      return route.abort('blockedbyclient');
    });
    const watch = (where, target) => {
      target.on('console', (message) => {
        if (message.type() === 'error') problems.push(`console error (${where}): ${message.text()}`);
      });
    };
    const open = async () => {
      const page = await context.newPage();
      watch('page', page);
      page.on('worker', (worker) => watch(`worker ${worker.url()}`, worker));
      page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
      page.on('requestfailed', (request) => {
        if (new URL(request.url()).origin === origin) problems.push(`request failed: ${request.url()}`);
      });
      page.on('response', (response) => {
        if (response.status() >= 400) problems.push(`HTTP ${response.status()} for ${response.url()}`);
      });
      return page;
    };
    let page = await open();

    const step = async (name, body) => {
      await body();
      expect(!problems.length, `after "${name}":\n  ${problems.join('\n  ')}`);
      console.log(`ok - ${name}`);
    };
    const runs = () => page.evaluate(() => Number(document.body.dataset.run || 0));
    // Waits for the check started after `before` checks to finish; returns 'done' or 'error'.
    const settled = async (before) => {
      await page.waitForFunction(
        (n) => Number(document.body.dataset.run || 0) > n && ['done', 'error'].includes(document.body.dataset.state),
        before, { timeout: STEP_MS });
      return page.evaluate(() => document.body.dataset.state);
    };
    // Types (fill) or, for a text too long to type in time, pastes (sets the value, as a paste
    // does, and sends the input event).
    const edit = async (text) => {
      const before = await runs();
      if (text.length < 100_000) {
        await page.fill('#editor', text);
      } else {
        await page.$eval('#editor', (editor, value) => {
          editor.value = value;
          editor.dispatchEvent(new Event('input', { bubbles: true }));
        }, text);
      }
      return settled(before);
    };
    const errorText = () => page.evaluate(() => {
      const panel = document.querySelector('#error');
      return panel.hidden ? '' : panel.textContent;
    });
    // {"Kind/name": [check ids of `rule`, sorted]} for every object shown.
    const shown = (rule) => page.$$eval('[data-object]', (objects, prefix) => Object.fromEntries(objects.map((o) => [
      `${o.dataset.kind}/${o.dataset.name}`,
      [...o.querySelectorAll('[data-check]')].map((f) => f.dataset.check)
        .filter((id) => id.startsWith(prefix)).map((id) => id.slice(prefix.length)).sort(),
    ])), `${rule}/`);
    const compare = async (rule, expected, what) => {
      const actual = await shown(rule);
      for (const [object, checks] of Object.entries(expected)) {
        same(actual[object] ?? [], checks, `${what}: ${rule} checks of ${object}`);
      }
    };

    await step('the page loads and lists every rule', async () => {
      await page.goto(`${origin}/`);
      await page.waitForFunction(() => ['done', 'error'].includes(document.body.dataset.state), null, { timeout: STEP_MS });
      same(await page.evaluate(() => document.body.dataset.state), 'done', 'state after loading the sample');
      // Every rule has a fixture folder (tests/fixtures/<rule>/): each must be listed.
      const fixtures = readdirSync(join(repo, 'tests/fixtures'), { withFileTypes: true })
        .filter((entry) => entry.isDirectory()).map((entry) => entry.name).sort();
      const listed = (await page.$$eval('[data-rule]', (rules) => rules.map((r) => r.dataset.rule))).sort();
      same(listed, fixtures, 'rules listed');
      expect(await page.locator('#version').textContent(), 'no version shown');
      expect(await page.locator('#results [data-check]').count() > 0, 'the sample shows no findings');
    });

    const fixturePath = join(repo, 'tests/fixtures/health-check/probes-required.yaml');
    const fixture = readFileSync(fixturePath, 'utf8');
    const { rule, expected } = fixtureExpectation(fixture);

    await step(`a pasted fixture shows exactly the checks its header expects (${fixturePath.slice(repo.length + 1)})`, async () => {
      same(await edit(fixture), 'done', `state after pasting the fixture (error: ${await errorText()})`);
      const failing = Object.values(expected).filter((checks) => checks.length).length;
      expect(failing >= 2, 'the fixture expects findings on fewer than two objects');
      await compare(rule, expected, 'fixture');
      // Document 0 is the fixture header, not a Kubernetes object: listed as skipped.
      same(await page.evaluate(() => document.querySelector('#summary').dataset.skipped), '1', 'skipped documents');
    });

    await step('dropped files are joined into one text with --- lines', async () => {
      const before = await runs();
      const files = [['probes-required.yaml', fixture], ['extra.yaml', '---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n  namespace: shop\ndata: {a: b}\n']];
      const transfer = await page.evaluateHandle((list) => {
        const data = new DataTransfer();
        for (const [name, text] of list) data.items.add(new File([text], name, { type: 'application/yaml' }));
        return data;
      }, files);
      await page.dispatchEvent('#editor-wrap', 'dragover', { dataTransfer: transfer });
      await page.dispatchEvent('#editor-wrap', 'drop', { dataTransfer: transfer });
      same(await settled(before), 'done', `state after the drop (error: ${await errorText()})`);
      const text = await page.inputValue('#editor');
      same(text, `# file: probes-required.yaml\n${fixture}---\n# file: extra.yaml\n${files[1][1].slice(4)}`, 'the joined text');
      await compare(rule, expected, 'dropped');
      same(await page.evaluate(() => document.querySelector('#summary').dataset.objects), '6', 'objects checked from both files');
      expect((await page.textContent('#file-name')).includes('probes-required.yaml, extra.yaml'), 'the file names are not shown');
    });

    await step('settings change the findings, and invalid ones are refused with their error', async () => {
      await page.click('#tab-rules');
      await page.click(`[data-rule="${rule}"] > summary`);
      let before = await runs();
      await page.selectOption(`[data-setting="${rule}.require"]`, { label: 'readiness' });
      same(await settled(before), 'done', 'state after the setting changed');
      // With require: readiness only the readiness probe is required: catalog-unprobed keeps one
      // of its two probes-required findings, ledger-no-liveness (readiness only) passes.
      await compare(rule, {
        ...expected,
        'Deployment/catalog-unprobed': ['probes-required'],
        'StatefulSet/ledger-no-liveness': [],
      }, 'require: readiness');
      same(await page.locator(`[data-rule="${rule}"] .changed`).textContent(), '1 changed', 'the changed-settings badge');

      before = await runs();
      await page.selectOption(`[data-setting="${rule}.require"]`, '');
      same(await settled(before), 'done', 'state after the setting went back to its default');
      await compare(rule, expected, 'require back to its default');

      // A severity override re-grades a check, or switches it off.
      const override = `[data-setting="${rule}.severity.probes-required"]`;
      const severities = () => page.$$eval(`[data-check="${rule}/probes-required"]`,
        (findings) => [...new Set(findings.map((f) => f.dataset.severity))]);
      for (const [value, wanted] of [['warning', ['warning']], ['off', []], ['', ['error']]]) {
        before = await runs();
        await page.selectOption(override, value);
        same(await settled(before), 'done', `state after the severity override "${value}"`);
        same(await severities(), wanted, `severities of ${rule}/probes-required with the override "${value}"`);
      }

      // A value the rule refuses: its error is shown, and the results are cleared.
      await page.click('[data-rule="maintenance"] > summary');
      before = await runs();
      await page.fill('[data-setting="maintenance.minReplicas"]', '-1');
      same(await settled(before), 'error', 'state after an invalid setting');
      const message = await errorText();
      expect(/maintenance/.test(message) && /minReplicas/.test(message),
        `the invalid-setting error does not name the rule and the setting: ${message}`);
      same(await page.locator('#results [data-object]').count(), 0, 'objects shown beside the settings error');
      before = await runs();
      await page.fill('[data-setting="maintenance.minReplicas"]', '');
      same(await settled(before), 'done', 'state after the invalid setting was cleared');

      // A setting without a form of its own is JSON; JSON that does not parse never leaves the page.
      await page.click('[data-rule="initial-processing"] > summary');
      before = await runs();
      await page.fill('[data-setting="initial-processing.minExcess"]', '{"cpu": ');
      same(await settled(before), 'error', 'state after a setting that is not JSON');
      const notJson = await errorText();
      expect(/initial-processing\.minExcess/.test(notJson) && /JSON/.test(notJson), `the not-JSON error does not name the setting: ${notJson}`);
      before = await runs();
      await page.fill('[data-setting="initial-processing.minExcess"]', '{"cpu": "200m"}');
      same(await settled(before), 'done', `state after the JSON setting was fixed (error: ${await errorText()})`);
      before = await runs();
      await page.click('#reset-settings');
      same(await settled(before), 'done', 'state after resetting the settings');
      expect(await page.locator('#changed-count').isHidden(), 'settings still counted as changed after the reset');
      await page.click('#tab-results');
    });

    await step('an alias bomb and invalid YAML are refused with a clear error, and the page recovers', async () => {
      // "Billion laughs": nine levels of nine aliases, 9^9 values once expanded.
      const levels = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]'];
      for (const [prev, name] of [...'abcdefgh'].map((c, i) => [c, 'bcdefghi'[i]])) {
        levels.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(', ')}]`);
      }
      same(await edit(`${levels.join('\n')}\n`), 'error', 'state after the alias bomb');
      let message = await errorText();
      expect(/alias/i.test(message) && /limit/i.test(message), `the alias-bomb error does not name aliases and the limit: ${message}`);
      same(await page.locator('#results [data-object]').count(), 0, 'objects shown beside the alias-bomb error');

      const invalid = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  mode: [fast\n';
      same(await edit(invalid), 'error', 'state after invalid YAML');
      message = await errorText();
      expect(/line \d+/.test(message), `the invalid-YAML error names no line: ${message}`);
      expect(await page.locator('#error-line').isVisible(), 'no "go to line" button for the invalid YAML');

      same(await edit(fixture), 'done', `state after valid manifests again (error: ${await errorText()})`);
      same(await errorText(), '', 'the error panel after a good check');
      await compare(rule, expected, 'after recovering');
    });

    await step('a check past its deadline is stopped, and the next one runs in a new worker', async () => {
      const main = page;
      page = await open();
      const workers = [];
      page.on('worker', (worker) => workers.push(worker));
      // 250 ms: 20,000 ConfigMaps take about 3 s here (measured), one takes a few ms. One line
      // each, so the editor lays the text out quickly.
      await page.goto(`${origin}/?deadline=250`);
      await page.waitForFunction(() => ['done', 'error'].includes(document.body.dataset.state), null, { timeout: STEP_MS });
      const many = Array.from({ length: 20_000 }, (_, i) =>
        `--- {apiVersion: v1, kind: ConfigMap, metadata: {name: settings-${i}, namespace: shop}, data: {mode: fast}}\n`);
      same(await edit(many.join('')), 'error', 'state after a check past its deadline');
      const message = await errorText();
      expect(/did not finish within 250 ms/.test(message) && /stopped/.test(message),
        `the timeout error does not say what happened: ${message}`);
      for (let waited = 0; workers.length < 2 && waited < STEP_MS; waited += 100) await page.waitForTimeout(100);
      expect(workers.length >= 2, `the worker was not started again (${workers.length} started)`);
      same(await edit(many[0]), 'done', `state after a small check in the new worker (error: ${await errorText()})`);
      same(await page.evaluate(() => document.querySelector('#summary').dataset.objects), '1', 'objects checked after the timeout');
      await page.close();
      page = main;
    });

    await step('a finding clicked selects its line in the editor', async () => {
      const before = await runs();
      await page.click('#sample');
      same(await settled(before), 'done', 'state after loading the sample');
      const finding = page.locator('#results [data-check][data-severity="error"]').first();
      await finding.click();
      const line = await finding.getAttribute('data-line');
      same(await page.getAttribute('#editor-wrap', 'data-highlight-line'), line, 'the highlighted line');
      const selected = await page.evaluate(() => {
        const editor = document.querySelector('#editor');
        return editor.value.slice(0, editor.selectionStart).split('\n').length;
      });
      same(String(selected), line, 'the line the editor selection starts on');
      expect(await page.locator('#highlight').isVisible(), 'the line highlight is not visible');
      if (screenshot) {
        mkdirSync(dirname(screenshot), { recursive: true });
        await page.mouse.move(0, 0); // no hover effects in the picture
        await page.screenshot({ path: screenshot });
        console.log(`# screenshot: ${screenshot}`);
      }
    });
  } finally {
    await browser.close();
    server.close();
  }
}

const watchdog = setTimeout(() => {
  console.error(`FAIL: the test did not finish within ${TOTAL_MS / 1000} s`);
  process.exit(1);
}, TOTAL_MS);
watchdog.unref();

main().then(() => {
  console.log('all playground browser tests passed');
  process.exit(0);
}, (error) => {
  // Playwright's messages quote their arguments (whole manifests): keep the start.
  let text = error instanceof Failure ? error.message : String(error.stack || error);
  if (text.length > 4000) text = `${text.slice(0, 4000)}\n[... ${text.length - 4000} more characters]`;
  console.error(`FAIL: ${text}`);
  process.exit(1);
});
