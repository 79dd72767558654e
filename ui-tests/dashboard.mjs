// End-to-end checks of kraftsim's dashboard in headless Chromium, driven by
// sim/tests/dashboard_ui.rs (which starts and stops `sim serve` and writes the replay page).
//
//   node dashboard.mjs live URL BOOTSTRAP [SCREENSHOT]
//     the page loads and shows three nodes and the partitions; a click on kill marks the
//     node down and the leaders move; records produced with kcat raise the log end
//     offsets; then it prints "waiting for the server to go" and, once a line arrives on
//     stdin (the test has stopped the server), checks the page says "disconnected".
//   node dashboard.mjs replay PAGE EXPECTED_JSON [SCREENSHOT]
//     moves the replay page's slider to EXPECTED_JSON's moment and checks the page shows
//     the nodes and partitions EXPECTED_JSON gives for it.
//
// Chromium is Debian's (/usr/bin/chromium, or $CHROMIUM); it runs with --no-sandbox as
// the tests run as root. Every failure exits non-zero with what was expected and seen;
// the browser is closed whatever happens.
import { chromium } from "playwright-core";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";

const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";

function fail(message) {
  throw new Error(message);
}

/** Polls `probe` (async, returns a value or null) until it returns non-null or `ms` pass. */
async function waitFor(what, ms, probe) {
  const deadline = Date.now() + ms;
  let last = null;
  for (;;) {
    last = await probe();
    if (last !== null && last !== undefined && last !== false) return last;
    if (Date.now() > deadline) fail(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** What the page shows: nodes and partitions, read from its data attributes. */
async function shown(page) {
  return page.evaluate(() => {
    const nodes = [...document.querySelectorAll(".node")].map((n) => ({
      id: Number(n.dataset.node),
      state: n.dataset.state,
      active_controller: n.dataset.activeController === "yes",
    }));
    const partitions = [...document.querySelectorAll("tr[data-partition]")].map((r) => ({
      partition: r.dataset.partition,
      leader: Number(r.dataset.leader),
      isr: r.dataset.isr === "" ? [] : r.dataset.isr.split(",").map(Number),
      replicas: [...r.querySelectorAll(".replica")].map((x) => ({
        node: Number(x.dataset.node),
        log_end_offset: x.dataset.leo === "" ? null : Number(x.dataset.leo),
        high_watermark: x.dataset.hw === "" ? null : Number(x.dataset.hw),
      })),
    }));
    return { nodes, partitions };
  });
}

function leaderOffsets(view) {
  let sum = 0;
  for (const p of view.partitions) {
    const leader = p.replicas.find((r) => r.node === p.leader);
    if (leader && leader.log_end_offset !== null) sum += leader.log_end_offset;
  }
  return sum;
}

async function live(page, url, bootstrap, screenshot) {
  const t0 = Date.now();
  await page.goto(url);
  const first = await waitFor("three nodes and four partitions", 10000, async () => {
    const v = await shown(page);
    return v.nodes.length === 3 && v.partitions.length === 4 && v.partitions.every((p) => p.leader > 0) ? v : null;
  });
  console.log(`page shows 3 nodes and ${first.partitions.length} partitions after ${Date.now() - t0} ms`);
  const connected = await page.textContent("#connection");
  if (!connected.includes("connected")) fail(`connection line says ${JSON.stringify(connected)}`);

  // A bad command from the page gets a clear error, and changes nothing.
  const bad = await page.evaluate(async () => {
    const r = await fetch("command", { method: "POST", body: JSON.stringify({ command: "kill", node: 9 }) });
    return { status: r.status, body: await r.json() };
  });
  if (bad.body.ok !== false || !/node 9 does not exist/.test(bad.body.error)) {
    fail(`killing node 9 should say it does not exist: ${JSON.stringify(bad)}`);
  }

  // Kill the leader of t-0 by its button; the page marks it killed and its leaderships move.
  const victim = first.partitions.find((p) => p.partition === "t-0").leader;
  const led = first.partitions.filter((p) => p.leader === victim).map((p) => p.partition);
  const clicked = Date.now();
  await page.click(`.node[data-node="${victim}"] button[data-command="kill"]`);
  await waitFor(`node ${victim} shown as killed`, 15000, async () => {
    const v = await shown(page);
    return v.nodes.find((n) => n.id === victim).state === "killed";
  });
  console.log(`node ${victim} shown killed ${Date.now() - clicked} ms after the click`);
  const moved = await waitFor(`the leaders of ${led.join(", ")} to move off node ${victim}`, 30000, async () => {
    const v = await shown(page);
    return v.partitions.every((p) => p.leader > 0 && p.leader !== victim) ? v : null;
  });
  console.log(`leaders moved off node ${victim} ${Date.now() - clicked} ms after the click: ${moved.partitions.map((p) => `${p.partition}->${p.leader}`).join(" ")}`);
  // Kafka's metrics say the same as the partitions: the dead node's replicas are out of
  // every ISR it was in, so partitions are under-replicated, and elections were counted.
  const metric = async (name) => page.textContent(`tr[data-metric="${name}"] td.value`);
  await waitFor("UnderReplicatedPartitions above 0 in the metrics table", 10000, async () => {
    const v = Number(await metric("UnderReplicatedPartitions"));
    return v > 0 ? v : null;
  });
  const elections = await page.textContent('tr[data-metric="LeaderElectionRateAndTimeMs"]');
  if (!elections) fail("the metrics table lists LeaderElectionRateAndTimeMs");
  const result = await page.textContent("#command-result");
  if (!result.includes(`kill ${victim}: done`)) fail(`the command line says ${JSON.stringify(result)}`);

  // Records produced by a real client raise the leaders' log end offsets on the page.
  const before = leaderOffsets(moved);
  const records = Array.from({ length: 200 }, (_, i) => `record-${i}`).join("\n") + "\n";
  execFileSync("kcat", ["-P", "-b", bootstrap, "-t", "t", "-X", "message.timeout.ms=20000"], { input: records });
  const produced = Date.now();
  const after = await waitFor("the log end offsets to rise by 200", 10000, async () => {
    const v = await shown(page);
    return leaderOffsets(v) >= before + 200 ? v : null;
  });
  console.log(`log end offsets rose from ${before} to ${leaderOffsets(after)} on the page ${Date.now() - produced} ms after kcat returned`);
  // The followers catch up too: their offsets show on the page.
  await waitFor("followers' LEO to reach their leader's", 10000, async () => {
    const v = await shown(page);
    return v.partitions.every((p) => {
      const l = p.replicas.find((r) => r.node === p.leader);
      return p.replicas.every((r) => r.node === victim || r.log_end_offset === l.log_end_offset);
    });
  });
  if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });

  // The server goes away: the page says so and keeps trying.
  console.log("waiting for the server to go");
  const lines = createInterface({ input: process.stdin });
  await new Promise((resolve) => lines.once("line", resolve));
  lines.close();
  await waitFor("the page to say disconnected", 8000, async () => {
    const c = await page.getAttribute("#connection", "data-connected");
    return c === "no";
  });
  console.log(`page says: ${await page.textContent("#connection")}`);
}

async function replay(page, file, expectedFile, screenshot) {
  const expected = JSON.parse(readFileSync(expectedFile, "utf8"));
  await page.goto(`file://${file}`);
  await waitFor("the replay slider", 10000, async () => page.isVisible("#slider"));
  // Move the slider as a user's drag does: set its value and fire `input`.
  await page.$eval("#slider", (s, t) => {
    s.value = String(t);
    s.dispatchEvent(new Event("input", { bubbles: true }));
  }, expected.at_ms);
  const v = await shown(page);
  const want = {
    nodes: expected.nodes.map((n) => ({ id: n.id, state: n.state, active_controller: n.active_controller })),
    partitions: expected.partitions.map((p) => ({
      partition: p.partition,
      leader: p.leader,
      isr: p.isr,
      replicas: p.replicas.map((r) => ({ node: r.node, log_end_offset: r.log_end_offset, high_watermark: r.high_watermark })),
    })),
  };
  if (JSON.stringify(v) !== JSON.stringify(want)) {
    fail(`at ${expected.at_ms} ms the page shows\n${JSON.stringify(v)}\nbut the run's JSON gives\n${JSON.stringify(want)}`);
  }
  const events = await page.$$eval("#events li", (l) => l.length);
  if (events !== expected.events_up_to) {
    fail(`at ${expected.at_ms} ms the page lists ${events} events; the run had ${expected.events_up_to} by then`);
  }
  const cursor = await page.$$eval("svg .cursor", (c) => c.length);
  if (cursor < 1) fail("the charts have no cursor at the slider's moment");
  console.log(`replay at ${expected.at_ms} ms shows what the run's JSON gives: ${v.nodes.map((n) => `node ${n.id} ${n.state}`).join(", ")}; ${v.partitions.length} partitions; ${events} events`);
  if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
}

const [mode, ...args] = process.argv.slice(2);
const browser = await chromium.launch({ executablePath, args: ["--no-sandbox"], headless: true });
let code = 0;
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  if (mode === "live") await live(page, args[0], args[1], args[2]);
  else if (mode === "replay") await replay(page, args[0], args[1], args[2]);
  else fail(`unknown mode ${mode}: live or replay`);
  if (errors.length > 0) fail(`the page threw: ${errors.join("; ")}`);
  console.log("ok");
} catch (e) {
  console.error(`FAILED: ${e.message}`);
  code = 1;
} finally {
  await browser.close();
}
process.exit(code);
