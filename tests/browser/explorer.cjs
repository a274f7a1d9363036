// Drives the router's explorer page in Debian's Chromium (headless, through playwright-core from
// the tool cache) and prints what a person would see, as one JSON object on stdout; the Rust test
// (node/tests/it/explorer.rs) compares it with the API and the chains.
//
//   node explorer.cjs URL CLICK_ID PARKED_ID SCREENSHOT
//
// Env: XROUTE_PLAYWRIGHT (the playwright-core folder), XROUTE_CHROMIUM (the browser binary).
"use strict";
const { chromium } = require(process.env.XROUTE_PLAYWRIGHT);
// Playwright gives the browser a fresh, empty profile of its own.

async function main() {
  const [url, clickId, parkedId, screenshot] = process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath: process.env.XROUTE_CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(url);
    await page.waitForSelector("body[data-loaded='1']", { timeout: 20000 });
    const rows = await page.$$eval("tr.message", (trs) =>
      trs.map((tr) => ({ id: tr.dataset.id, stage: tr.dataset.stage, text: tr.innerText })));
    const routes = await page.$$eval("#routes tr", (trs) =>
      trs.map((tr) => [...tr.children].map((td) => td.innerText)));
    // It refreshes itself: the page counts its own refreshes, read before and after a wait.
    const refreshesBefore = await page.evaluate(() => Number(document.body.dataset.refreshes));
    await page.waitForFunction((n) => Number(document.body.dataset.refreshes) > n,
      refreshesBefore, { timeout: 10000 }).catch(() => {});
    const refreshesAfter = await page.evaluate(() => Number(document.body.dataset.refreshes));

    // A click on a delivered message opens its timeline.
    await page.click(`tr.message[data-id='${clickId}']`);
    await page.waitForFunction((id) => document.getElementById("detail-id").textContent === id,
      clickId, { timeout: 10000 });
    await page.waitForSelector("#timeline li.transition");
    const timeline = await page.$$eval("#timeline li.transition", (lis) =>
      lis.map((li) => li.querySelector("b").innerText));
    const detailStage = await page.innerText("#detail-stage");
    const relays = await page.$$eval("#relays tr", (trs) => trs.length);

    // Search narrows the table to the message whose id is typed.
    await page.fill("#search", parkedId.slice(2, 14));
    const searched = await page.$$eval("tr.message", (trs) => trs.map((tr) => tr.dataset.id));
    // The parked message shows its reason.
    await page.click(`tr.message[data-id='${parkedId}']`);
    await page.waitForFunction((id) => document.getElementById("detail-id").textContent === id,
      parkedId, { timeout: 10000 });
    await page.waitForSelector("#reason:not([hidden])");
    const reason = await page.innerText("#reason");
    await page.fill("#search", "");
    await page.selectOption("#stage", "parked");
    const parkedFilter = await page.$$eval("tr.message", (trs) => trs.map((tr) => tr.dataset.stage));
    await page.selectOption("#stage", "");
    await page.click(`tr.message[data-id='${clickId}']`);
    await page.waitForSelector("#timeline li.transition");
    if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
    process.stdout.write(JSON.stringify({ rows, routes, refreshesBefore, refreshesAfter, timeline, detailStage, relays,
      searched, reason, parkedFilter, errors }) + "\n");
  } finally {
    await browser.close();
  }
}

main().catch((e) => { console.error(String(e && e.stack || e)); process.exit(1); });
