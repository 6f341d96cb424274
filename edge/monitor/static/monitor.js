// The monitor page: counters and the gallery from api/state every second, verdicts from /events
// as they happen, the live frame from stream.mjpg. Relative URLs, so the page works behind a proxy.
"use strict";

const $ = (id) => document.getElementById(id);
const number = (value, digits) => (value === null || value === undefined ? "—" : Number(value).toFixed(digits));
let shownRejects = "";

// A reject's pictures: frame ids count per station, so a run of several names the station too.
// (`== null`: api/state sends a run of one source's station as null, /events leaves it out.)
const picture = (reject, kind) =>
  `rejects/${reject.frame}/${kind}.jpg` + (reject.station == null ? "" : `?station=${encodeURIComponent(reject.station)}`);
// "top #12" on a line of several stations, "#12" for a run of one source (its events name no station).
const frameName = (event) => (event.station == null ? "" : `${event.station} `) + `#${event.frame}`;

function showDecision(event) {
  const verdict = $("verdict");
  verdict.textContent = event.decision.toUpperCase() + (event.reason ? ` (${event.reason})` : "");
  verdict.className = `verdict ${event.decision}`;
  $("score").textContent = number(event.score, 4);
  $("threshold").textContent = number(event.threshold, 4);
  $("frame").textContent = frameName(event);
  $("latency").textContent = event.latency_ms === undefined ? "—" : `${number(event.latency_ms, 1)} ms`;
}

function showRejects(rejects) {
  const key = JSON.stringify(rejects.map((r) => [r.station, r.frame]));
  if (key === shownRejects) return;
  shownRejects = key;
  $("rejects-empty").hidden = rejects.length > 0;
  const list = $("rejects");
  list.replaceChildren(...rejects.map((reject) => {
    const button = document.createElement("button");
    button.className = "reject";
    button.dataset.frame = reject.frame;
    if (reject.station != null) button.dataset.station = reject.station;
    const thumb = document.createElement("img");
    thumb.src = picture(reject, "thumb");
    thumb.alt = `reject, frame ${frameName(reject)}`;
    const label = document.createElement("span");
    label.textContent = `${frameName(reject)} · ${number(reject.score, 3)}`;
    button.append(thumb, label);
    button.addEventListener("click", () => openReject(reject));
    return button;
  }));
}

function openReject(reject) {
  $("viewer-title").textContent = `Frame ${frameName(reject)}: score ${number(reject.score, 4)}, ${reject.regions} region(s)`;
  $("viewer-overlay").src = picture(reject, "overlay");
  $("viewer-frame").src = picture(reject, "frame");
  $("viewer").showModal();
}

function showState(state) {
  const info = state.info;
  $("model").textContent = `${info.model} · ${info.backend}/${info.precision} · ${info.source} · ${info.mode}`;
  const health = $("health");
  health.textContent = state.health.ok ? "frames flowing" : state.health.reason;
  health.title = state.health.reason;
  health.className = `badge ${state.health.ok ? "ok" : "down"}`;
  for (const kind of ["accept", "reject", "fault"]) $(`count-${kind}`).textContent = state.counts[kind] || 0;
  $("fault-reasons").replaceChildren(...Object.entries(state.fault_reasons).map(([reason, n]) => {
    const item = document.createElement("li");
    item.textContent = `${reason}: ${n}`;
    return item;
  }));
  $("fps").textContent = `${number(state.window.fps, 1)} fps`;
  $("p50").textContent = state.window.p50_ms === null ? "—" : `${number(state.window.p50_ms, 1)} ms`;
  $("p99").textContent = state.window.p99_ms === null ? "—" : `${number(state.window.p99_ms, 1)} ms`;
  if (state.last && $("verdict").textContent === "—") showDecision(state.last);
  if (state.live > 0 && !$("live").getAttribute("src")) $("live").src = "stream.mjpg";
  $("live-empty").hidden = state.live > 0;
  showRejects(state.rejects);
}

async function refresh() {
  try {
    const response = await fetch("api/state", { cache: "no-store" });
    if (response.ok) showState(await response.json());
    else $("health").textContent = `monitor answered ${response.status}`;
  } catch (error) {
    $("health").textContent = "monitor unreachable";
    $("health").className = "badge down";
  }
}

window.addEventListener("load", () => {
  const events = new EventSource("events");
  events.onmessage = (message) => {
    const event = JSON.parse(message.data);
    if (event.kind === "decision") showDecision(event);
  };
  refresh();
  setInterval(refresh, 1000);
});
