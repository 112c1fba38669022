// Drives headless Chromium (playwright-core, found through NODE_PATH) over `cnnlab serve`'s
// dashboard for tests/apps/test_dashboard_browser.cpp: opens the run page of a run that is
// being written, waits until its loss chart has points, waits for more to appear (the page
// polls the metrics API) and its layer statistics, screenshots it, then the compare page of
// the given runs.
//   NODE_PATH=build/browser_tools/node_modules node dashboard_browser.js \
//       CHROMIUM BASE_URL RUN_ID COMPARE_IDS RUN_PNG COMPARE_PNG
// Prints one JSON line: {"first": N, "second": M, "layers": L, "compare": K, "legend": TEXT,
// "errors": [...]} (point counts from the canvases' data-points).
'use strict';
const {chromium} = require('playwright-core');

const points = (page, id) =>
  page.$eval(id, canvas => Number(canvas.dataset.points || 0));

async function main() {
  const [executable, base, runId, compareIds, runPng, comparePng] = process.argv.slice(2);
  // As root (CI) Chromium needs --no-sandbox; --headless=new is the full browser, headless.
  const browser = await chromium.launch({executablePath: executable, args: ['--no-sandbox', '--headless=new']});
  const errors = [];
  try {
    const page = await browser.newPage({viewport: {width: 1200, height: 900}});
    page.on('pageerror', error => errors.push(String(error)));
    page.on('console', message => { if (message.type() === 'error') errors.push(message.text()); });
    await page.goto(`${base}/run?id=${runId}`);
    await page.waitForFunction(() => Number(document.getElementById('chart-loss').dataset.points || 0) > 0,
                               null, {timeout: 60000});
    const first = await points(page, '#chart-loss');
    await page.waitForFunction(n => Number(document.getElementById('chart-loss').dataset.points) > n,
                               first, {timeout: 90000});
    const second = await points(page, '#chart-loss');
    await page.waitForFunction(() => Number(document.getElementById('chart-layers').dataset.points || 0) > 0,
                               null, {timeout: 60000});
    const layers = await points(page, '#chart-layers');
    await page.screenshot({path: runPng, fullPage: true});

    await page.goto(`${base}/compare?ids=${compareIds}`);
    await page.waitForFunction(() => Number(document.getElementById('chart-loss').dataset.points || 0) > 0,
                               null, {timeout: 60000});
    const compare = await points(page, '#chart-loss');
    const legend = await page.$eval('#legend', node => node.textContent);
    await page.screenshot({path: comparePng, fullPage: true});
    console.log(JSON.stringify({first, second, layers, compare, legend, errors}));
  } finally {
    await browser.close();
  }
}

main().catch(error => {
  console.error(`dashboard_browser.js: ${error.message}`);
  process.exit(1);
});
