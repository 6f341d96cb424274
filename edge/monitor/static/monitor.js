// The monitor page: counters and the gallery from api/state every second, verdicts from /events
// as they happen, the live frame from stream.mjpg. Relative URLs, so the page works behind a proxy.
"use strict";

const $ = (id) => document.getElementById(id);
const number = (value, digits) => (value === null || value === undefined ? "—" : Number(value).toFixed(digits));
let shownRejects = "";

function showDecision(event) {
  const verdict = $("verdict");
  verdict.textContent = event.decision.toUpperCase() + (event.reason ? ` (${event.reason})` : "");
  verdict.className = `verdict ${event.decision}`;
  $("score").textContent = number(event.score, 4);
  $("threshold").textContent = number(event.threshold, 4);
  $("frame").textContent = `#${event.frame}`;
  $("latency").textContent = event.latency_ms === undefined ? "—" : `${number(event.latency_ms, 1)} ms`;
}

function showRejects(rejects) {
  const key = rejects.map((r) => r.frame).join(",");
  if (key === shownRejects) return;
  shownRejects = key;
  $("rejects-empty").hidden = rejects.length > 0;
  const list = $("rejects");
  list.replaceChildren(...rejects.map((reject) => {
    const button = document.createElement("button");
    button.className = "reject";
    button.dataset.frame = reject.frame;
    const thumb = document.createElement("img");
    thumb.src = `rejects/${reject.frame}/thumb.jpg`;
    thumb.alt = `reject, frame ${reject.frame}`;
    const label = document.createElement("span");
    label.textContent = `#${reject.frame} · ${number(reject.score, 3)}`;
    button.append(thumb, label);
    button.addEventListener("click", () => openReject(reject));
    return button;
  }));
}

function openReject(reject) {
  $("viewer-title").textContent = `Frame #${reject.frame}: score ${number(reject.score, 4)}, ${reject.regions} region(s)`;
  $("viewer-overlay").src = `rejects/${reject.frame}/overlay.jpg`;
  $("viewer-frame").src = `rejects/${reject.frame}/frame.jpg`;
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
