// kraftsim dashboard: draws a cluster's view (nodes, partitions with each replica's log
// end offset and high watermark, metrics, events, load charts).
//
// Two modes, one drawing code:
//  - live: `sim serve --ui` sends the state over server-sent events (/events); the
//    buttons POST the stdin commands to /command.
//  - replay: `sim run --html` embeds the run's views over virtual time in
//    <script id="replay-data">; a slider picks the moment to draw.
"use strict";

const $ = (id) => document.getElementById(id);

/** An element with a class and text (text only: data never becomes markup). */
function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = String(text);
  return e;
}

const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  return e;
}

function formatMs(ms) {
  return ms >= 10000 ? `${(ms / 1000).toFixed(1)} s` : `${ms} ms`;
}

// ----- nodes ------------------------------------------------------------------------------

const NODE_VERBS = ["stop", "kill", "pause", "resume", "isolate", "restart"];
const VERB_MEANING = {
  stop: "SIGTERM: a controlled shutdown, leaderships move first",
  kill: "SIGKILL: the process dies at once",
  pause: "SIGSTOP: frozen, sockets stay open",
  resume: "SIGCONT",
  isolate: "cut every link to its peers (clients still reach it)",
  restart: "start a stopped or killed node from its disks",
};

function drawNodes(view, live) {
  $("quorum").textContent = view ? view.quorum : "";
  const box = $("nodes");
  box.replaceChildren();
  if (!view) return;
  for (const n of view.nodes) {
    const card = el("div", "node");
    card.dataset.node = n.id;
    card.dataset.state = n.state;
    card.dataset.activeController = n.active_controller ? "yes" : "no";
    const h = el("h3", "", `node ${n.id} `);
    h.append(el("span", "state", n.state));
    card.append(h);
    if (n.active_controller) card.append(el("div", "active", "♛ active controller"));
    card.append(el("div", "controller", n.controller || "(not answering)"));
    if (live) {
      const buttons = el("div", "buttons");
      for (const verb of NODE_VERBS) {
        const b = el("button", "", verb);
        b.type = "button";
        b.title = VERB_MEANING[verb];
        b.dataset.command = verb;
        b.dataset.node = n.id;
        buttons.append(b);
      }
      card.append(buttons);
    }
    box.append(card);
  }
}

// ----- partitions -------------------------------------------------------------------------

function drawPartitions(view) {
  const table = $("partitions");
  table.replaceChildren();
  if (!view) return;
  const head = el("tr");
  for (const t of ["partition", "leader", "epoch", "ISR", "replicas: log end offset (bar) and high watermark (dark)"]) {
    head.append(el("th", "", t));
  }
  table.append(head);
  // One scale for every bar, so partitions compare too.
  let scale = 1;
  for (const p of view.partitions) {
    for (const r of p.replicas) scale = Math.max(scale, r.log_end_offset || 0);
  }
  for (const p of view.partitions) {
    const row = el("tr", p.leader < 0 ? "offline" : "");
    row.dataset.partition = p.partition;
    row.dataset.leader = p.leader;
    row.dataset.isr = p.isr.join(",");
    row.append(el("td", "", p.partition));
    row.append(el("td", "leader", p.leader < 0 ? "none (offline)" : p.leader));
    row.append(el("td", "", p.leader_epoch));
    row.append(el("td", "isr", `[${p.isr.join(", ")}]`));
    const cell = el("td");
    const leader = p.replicas.find((r) => r.node === p.leader);
    const leaderLeo = leader ? leader.log_end_offset : null;
    for (const r of p.replicas) {
      const known = r.log_end_offset !== null && r.log_end_offset !== undefined;
      const classes = ["replica"];
      if (!p.isr.includes(r.node)) classes.push("out-of-isr");
      if (r.node === p.leader) classes.push("leader");
      if (!known) classes.push("unknown");
      const line = el("div", classes.join(" "));
      line.dataset.node = r.node;
      line.dataset.leo = known ? r.log_end_offset : "";
      line.dataset.hw = known ? r.high_watermark : "";
      line.append(el("span", "who", `${r.node === p.leader ? "★" : " "} ${r.node}`));
      const bar = el("div", "bar");
      if (known) {
        const leo = el("div", "leo");
        leo.style.width = `${(100 * r.log_end_offset) / scale}%`;
        const hw = el("div", "hw");
        hw.style.width = `${(100 * r.high_watermark) / scale}%`;
        bar.append(leo, hw);
      }
      line.append(bar);
      let text = known ? `LEO ${r.log_end_offset} HW ${r.high_watermark}` : "? (node not answering)";
      if (known && leaderLeo !== null && r.node !== p.leader && leaderLeo > r.log_end_offset) {
        text += ` (${leaderLeo - r.log_end_offset} behind)`;
      }
      line.append(el("span", "offsets", text));
      cell.append(line);
    }
    row.append(cell);
    table.append(row);
  }
}

// ----- metrics ----------------------------------------------------------------------------

/** A value that is healthy when it is this; anything else is shown in red. */
const HEALTHY = { UnderReplicatedPartitions: 0, OfflinePartitionsCount: 0, ActiveControllerCount: 1, UnderMinIsrPartitionCount: 0 };

function drawMetrics(view) {
  const table = $("metrics");
  table.replaceChildren();
  if (!view) return;
  const head = el("tr");
  for (const t of ["metric", "value", "kind", "meaning"]) head.append(el("th", "", t));
  table.append(head);
  for (const m of view.metrics || []) {
    const row = el("tr");
    row.dataset.metric = m.name;
    const name = el("td");
    name.append(el("div", "", m.name), el("div", "mbean", m.mbean));
    // null: nothing to measure yet (an average over no requests; on a live cluster, the
    // producer's own metrics, which only the client has).
    const shown = m.value === null || m.value === undefined ? "n/a"
      : Number.isInteger(m.value) ? String(m.value) : m.value.toFixed(2);
    const bad = m.value !== null && m.name in HEALTHY && m.value !== HEALTHY[m.name];
    const value = el("td", bad ? "value bad" : "value", shown);
    row.append(name, value, el("td", "", m.kind), el("td", "", m.meaning));
    table.append(row);
  }
}

// ----- events -----------------------------------------------------------------------------

/** The event log: the newest at the bottom, kept scrolled there unless the reader scrolled up. */
function drawEvents(lines, note) {
  const list = $("events");
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 20;
  list.replaceChildren();
  for (const line of lines) {
    const item = el("li", line.fault ? "fault" : "", line.text);
    list.append(item);
  }
  $("events-note").textContent = note || "";
  if (atBottom) list.scrollTop = list.scrollHeight;
}

// ----- charts -----------------------------------------------------------------------------

const CHART_W = 560;
const CHART_H = 150;
const PAD = { left: 52, right: 8, top: 10, bottom: 20 };

/**
 * A line chart: series of [t_ms, value] points over [start, end], fault marks as red
 * lines, and a cursor at `cursor` (replay).
 */
function lineChart(title, unit, start, end, series, marks, cursor) {
  const box = el("div", "chart");
  box.append(el("h4", "", title));
  const s = svg("svg", { viewBox: `0 0 ${CHART_W} ${CHART_H}`, preserveAspectRatio: "none" });
  const span = Math.max(1, end - start);
  let max = 0;
  for (const ser of series) for (const [, v] of ser.points) if (v !== null) max = Math.max(max, v);
  max = max > 0 ? max * 1.1 : 1;
  const x = (t) => PAD.left + ((t - start) / span) * (CHART_W - PAD.left - PAD.right);
  const y = (v) => PAD.top + (1 - v / max) * (CHART_H - PAD.top - PAD.bottom);
  const bottom = CHART_H - PAD.bottom;
  s.append(svg("line", { x1: PAD.left, y1: bottom, x2: CHART_W - PAD.right, y2: bottom, stroke: "#999" }));
  s.append(svg("line", { x1: PAD.left, y1: PAD.top, x2: PAD.left, y2: bottom, stroke: "#999" }));
  const label = (x0, y0, text, anchor) => {
    const t = svg("text", { x: x0, y: y0, "font-size": 10, "text-anchor": anchor || "start", fill: "#555" });
    t.textContent = text;
    s.append(t);
  };
  label(2, PAD.top + 8, `${max >= 10 ? max.toFixed(0) : max.toFixed(2)} ${unit}`);
  label(2, bottom, "0");
  label(PAD.left, CHART_H - 4, formatMs(0), "start");
  label(CHART_W - PAD.right, CHART_H - 4, formatMs(end - start), "end");
  for (const m of marks || []) {
    const line = svg("line", { x1: x(m.t), y1: PAD.top, x2: x(m.t), y2: bottom, stroke: "#c62828", "stroke-dasharray": "3,2" });
    const tip = svg("title");
    tip.textContent = m.text;
    line.append(tip);
    s.append(line);
  }
  // A gap (null: nothing measured) breaks the line; a point alone is a dot.
  for (const ser of series) {
    let run = [];
    const flush = () => {
      if (run.length === 1) {
        s.append(svg("circle", { cx: run[0][0], cy: run[0][1], r: 2.5, fill: ser.colour }));
      } else if (run.length > 1) {
        s.append(svg("polyline", { points: run.map(([a, b]) => `${a},${b}`).join(" "), fill: "none", stroke: ser.colour, "stroke-width": 1.5 }));
      }
      run = [];
    };
    for (const [t, v] of ser.points) {
      if (v === null || v === undefined) flush();
      else run.push([x(t).toFixed(1), y(v).toFixed(1)]);
    }
    flush();
  }
  if (cursor !== undefined && cursor !== null) {
    s.append(svg("line", { class: "cursor", x1: x(cursor), y1: PAD.top, x2: x(cursor), y2: bottom, stroke: "#000", "stroke-width": 1.5 }));
  }
  box.append(s);
  if (series.length > 1) {
    const legend = el("div", "note");
    for (const ser of series) {
      const swatch = el("span", "", "■ ");
      swatch.style.color = ser.colour;
      legend.append(swatch, document.createTextNode(`${ser.name}  `));
    }
    box.append(legend);
  }
  return box;
}

// ----- live mode --------------------------------------------------------------------------

function startLive() {
  $("mode").textContent = "live";
  $("cluster-commands").classList.remove("hidden");
  $("load-note").textContent =
    "Measured at the brokers, whoever the clients are: records and bytes the partitions' leaders appended per second (Kafka's MessagesInPerSec and BytesInPerSec), and the time Produce requests took from the request read to its response (RequestMetrics TotalTimeMs, request=Produce). The last two minutes.";
  document.addEventListener("click", onCommandClick);
  connect();
}

let source = null;
let retryTimer = null;

function setConnected(yes, text) {
  const c = $("connection");
  c.dataset.connected = yes ? "yes" : "no";
  c.textContent = text;
}

/** Opens the event stream; on loss, says so and tries again every two seconds. */
function connect() {
  if (retryTimer !== null) {
    clearTimeout(retryTimer);
    retryTimer = null;
  }
  if (source) source.close();
  source = new EventSource("events");
  source.addEventListener("state", (e) => {
    setConnected(true, "connected: live");
    let state;
    try {
      state = JSON.parse(e.data);
    } catch (err) {
      setConnected(false, `bad data from the server: ${err}`);
      return;
    }
    drawLive(state);
  });
  source.onerror = () => {
    setConnected(false, "disconnected: the server does not answer; retrying…");
    // EventSource retries by itself unless it gave up; then start over.
    source.close();
    source = null;
    retryTimer = setTimeout(connect, 2000);
  };
}

function drawLive(state) {
  $("identity").textContent = `bootstrap.servers=${state.bootstrap_servers}`;
  const view = state.view;
  drawNodes(view, true);
  drawPartitions(view);
  drawMetrics(view);
  drawEvents(state.events.map((e) => ({ text: e.text, fault: /killed|stopped|isolated|paused|SIGTERM|error/.test(e.text) })),
    `(the last ${state.events.length} lines, as sim serve prints them)`);
  const samples = state.samples;
  const charts = $("charts");
  charts.replaceChildren();
  if (samples.length === 0) {
    charts.append(el("p", "note", "no samples yet"));
    return;
  }
  const end = samples[samples.length - 1].t_ms;
  const start = Math.min(samples[0].t_ms, end - 10000);
  charts.append(
    lineChart("Records appended per second (at the leaders)", "rec/s", start, end,
      [{ name: "records/s", colour: "#4e79a7", points: samples.map((s) => [s.t_ms, s.records_per_sec]) }]),
    lineChart("MB appended per second", "MB/s", start, end,
      [{ name: "MB/s", colour: "#59a14f", points: samples.map((s) => [s.t_ms, s.mb_per_sec]) }]),
    lineChart("Produce request time (average per interval)", "ms", start, end,
      [{ name: "produce ms", colour: "#f28e2b", points: samples.map((s) => [s.t_ms, s.produce_ms]) }]),
  );
}

async function onCommandClick(e) {
  const b = e.target.closest("button[data-command]");
  if (!b) return;
  const body = { command: b.dataset.command };
  // A node id, or "controller": whichever node is the active controller when it runs.
  if (b.dataset.node) body.node = /^\d+$/.test(b.dataset.node) ? Number(b.dataset.node) : b.dataset.node;
  const result = $("command-result");
  result.className = "command-result";
  result.textContent = `${body.command}${body.node !== undefined ? " " + body.node : ""}…`;
  try {
    const r = await fetch("command", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    const answer = await r.json();
    if (answer.ok) {
      result.textContent = answer.result;
    } else {
      result.className = "command-result error";
      result.textContent = `error: ${answer.error}`;
    }
  } catch (err) {
    result.className = "command-result error";
    result.textContent = `error: the server did not answer (${err})`;
  }
}

// ----- replay mode ------------------------------------------------------------------------

/** The index of the last item whose `key` is at most `t` (-1 if none). */
function lastAtOrBefore(items, key, t) {
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (items[mid][key] <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

/** Event lines shown at once in replay (the earlier ones are counted). */
const MAX_SHOWN_EVENTS = 400;

function startReplay(data) {
  $("mode").textContent = "replay";
  $("connection").classList.add("hidden");
  $("replay-controls").classList.remove("hidden");
  $("identity").textContent = data.frames.length > 0
    ? `seed ${data.seed}: ${data.command}`
    : `seed ${data.seed}: ${data.command} (a real-time run: its poller saw leaders and ISRs, not each replica's offsets, so there is no cluster view to replay; the charts and tables below are the run's)`;
  $("load-note").textContent =
    "Measured at the simulated producer (kafka-producer-perf-test's view), per second of virtual time: records acknowledged, MB/s, the latency from send to acknowledgement, and records that failed. Red dashed lines: the faults (hover for each); black: the slider's moment.";
  const slider = $("slider");
  slider.min = data.start_ms;
  slider.max = data.end_ms;
  slider.value = data.start_ms;
  const draw = () => drawReplay(data, Number(slider.value));
  slider.addEventListener("input", draw);
  let playing = null;
  $("play").addEventListener("click", () => {
    if (playing !== null) {
      clearInterval(playing);
      playing = null;
      $("play").textContent = "play";
      return;
    }
    $("play").textContent = "pause";
    const step = Math.max(1, Math.round((data.end_ms - data.start_ms) / 300));
    playing = setInterval(() => {
      const next = Math.min(Number(slider.max), Number(slider.value) + step);
      slider.value = next;
      draw();
      if (next >= Number(slider.max)) $("play").click();
    }, 50);
  });
  draw();
}

function drawReplay(data, t) {
  $("slider-time").textContent = `${t} ms (${formatMs(t - data.start_ms)} into the run)`;
  const i = lastAtOrBefore(data.frames, "at_ms", t);
  const view = i >= 0 ? data.frames[i] : null;
  $("slider-time").dataset.frameAt = view ? view.at_ms : "";
  drawNodes(view, false);
  drawPartitions(view);
  drawMetrics(view);
  const upTo = lastAtOrBefore(data.events, "at_ms", t) + 1;
  const from = Math.max(0, upTo - MAX_SHOWN_EVENTS);
  const lines = data.events.slice(from, upTo).map((e) => ({
    text: `${String(e.at_ms).padStart(9)} ms  ${e.node === 0 ? "sim    " : `node ${e.node}`}  ${e.text}`,
    fault: e.node === 0,
  }));
  let note = `(${upTo} up to this moment${from > 0 ? `, the last ${MAX_SHOWN_EVENTS} shown` : ""})`;
  if (data.events_left_out > 0) note += `; ${data.events_left_out} later events are not in this page`;
  drawEvents(lines, note);
  const b = data.buckets;
  const marks = data.faults.map((f) => ({ t: f.at_ms, text: f.text }));
  const start = data.start_ms;
  const end = data.end_ms;
  const mid = (bucket) => bucket.t_ms + 500;
  const charts = $("charts");
  charts.replaceChildren(
    lineChart("Throughput (acknowledged records per second)", "rec/s", start, end,
      [{ name: "records/s", colour: "#4e79a7", points: b.map((x) => [mid(x), x.acked]) }], marks, t),
    lineChart("Throughput (MB/s)", "MB/s", start, end,
      [{ name: "MB/s", colour: "#59a14f", points: b.map((x) => [mid(x), x.mb_per_sec]) }], marks, t),
    lineChart("Latency, send to acknowledgement (ms)", "ms", start, end,
      [
        { name: "average", colour: "#f28e2b", points: b.map((x) => [mid(x), x.acked > 0 ? x.avg_latency_ms : null]) },
        { name: "p99", colour: "#e15759", points: b.map((x) => [mid(x), x.acked > 0 ? x.p99_latency_ms : null]) },
      ], marks, t),
    lineChart("Records that failed, per second", "records", start, end,
      [{ name: "failed", colour: "#c62828", points: b.map((x) => [mid(x), x.failed]) }], marks, t),
  );
}

// ----- start ------------------------------------------------------------------------------

(function start() {
  const embedded = $("replay-data");
  if (!embedded) {
    startLive();
    return;
  }
  try {
    startReplay(JSON.parse(embedded.textContent));
  } catch (err) {
    $("identity").textContent = `this page's run data cannot be read: ${err}`;
  }
})();
