// The document page: one source's whole transcript, segment by segment with its speakers, the codings this
// member may see highlighted in their code colours (a span under several codings is underlined in the
// second one's). Clicking a highlight lists its codings: code, coder, time and the suggestion it came from.
// Selecting text within one segment codes it by hand (a "code" decision), and "Remove" takes one of your
// codings off (a "remove" decision): both are appended decisions that undo reverses.
// Offsets are code points into the source text, as everywhere in groundcode.
"use strict";

const root = byId("document");
const api = projectApi(root.dataset.project);
const canWrite = root.dataset.canWrite === "yes";

const state = { source: null, segments: [], codings: [], codes: new Map(), codeList: [], selection: null };

const colorOf = (codeId) => codeColor(state.codeList, codeId);

// A colour as a light background: the code's colour at a fifth of its strength.
function tint(color) {
  const hex = color.length === 4 ? color.replace(/[0-9a-f]/gi, (d) => d + d).slice(1) : color.slice(1);
  const [r, g, b] = [0, 2, 4].map((i) => parseInt(hex.slice(i, i + 2), 16));
  return `rgba(${r}, ${g}, ${b}, 0.28)`;
}

async function load(source) {
  const [found, segments, codings, codes] = await Promise.all([
    api("GET", `/sources/${encodeURIComponent(source)}`),
    api("GET", `/sources/${encodeURIComponent(source)}/segments?limit=5000`),
    api("GET", `/codings?source=${encodeURIComponent(source)}`),
    api("GET", "/codebook/counts"),
  ]);
  state.source = found;
  state.segments = segments;
  state.codings = codings;
  state.codeList = codes;
  state.codes = new Map(codes.map((code) => [code.code_id, code]));
  render();
}

function render() {
  const text = Array.from(state.source.text);
  byId("doc-title").textContent = state.source.name;
  byId("doc-meta").textContent = `${state.segments.length} segments · ${state.codings.length} codings you may see`;
  let speaker = null;
  const body = [];
  for (const segment of state.segments) {
    if (segment.speaker && segment.speaker !== speaker) body.push(el("span", { class: "speaker", dir: "auto" }, segment.speaker));
    speaker = segment.speaker || speaker;
    body.push(renderSegment(segment, text), " ");
  }
  byId("doc-body").replaceChildren(...body);
  renderLegend();
  const wanted = root.dataset.segment && byId(`segment-${root.dataset.segment}`);
  if (wanted) {
    wanted.classList.add("focus");
    wanted.scrollIntoView({ block: "center" });
  }
}

// The segment split into runs at every coding boundary inside it; each run knows the codings over it.
function renderSegment(segment, text) {
  const inside = state.codings.filter((c) => c.start < segment.end && c.end > segment.start);
  const cuts = new Set([segment.start, segment.end]);
  for (const coding of inside) {
    cuts.add(Math.max(coding.start, segment.start));
    cuts.add(Math.min(coding.end, segment.end));
  }
  const bounds = [...cuts].sort((a, b) => a - b);
  const runs = [];
  for (let i = 0; i + 1 < bounds.length; i += 1) {
    const [start, end] = [bounds[i], bounds[i + 1]];
    const over = inside.filter((c) => c.start <= start && c.end >= end);
    const piece = text.slice(start, end).join("");
    if (!over.length) {
      runs.push(el("span", { "data-start": start }, piece));
      continue;
    }
    const colors = { background: tint(colorOf(over[0].code_id)) };
    if (over.length > 1) colors["text-decoration-color"] = colorOf(over[1].code_id);
    const title = over.map((c) => `${c.code} (${c.coder})`).join(", ");
    const run = el("span", { class: over.length > 1 ? "coded overlap" : "coded", "data-start": start, title, onclick: () => showCodings(over) }, piece);
    runs.push(paint(run, colors));
  }
  return el("span", { class: "seg", id: `segment-${segment.id}`, "data-id": segment.id, "data-start": segment.start, dir: "auto" }, ...runs);
}

function swatch(codeId) {
  return paint(el("span", { class: "swatch" }), { background: colorOf(codeId) });
}

function showCodings(codings) {
  byId("doc-codings").replaceChildren(
    ...codings.map((coding) => {
      const provenance = coding.backend ? `from a suggestion (${coding.backend}${coding.model ? `, ${coding.model}` : ""})` : "coded by hand";
      return el(
        "li",
        { "data-decision": coding.decision_id },
        swatch(coding.code_id),
        " ",
        el("strong", { dir: "auto" }, coding.code),
        el("div", { class: "muted small" }, `${coding.coder} · ${coding.decided_at.slice(0, 16).replace("T", " ")} UTC · ${provenance}`),
        el("div", { class: "small", dir: "auto" }, `“${coding.text}”`),
        el("a", { class: "small", href: `/memos?project=${encodeURIComponent(root.dataset.project)}` }, "memos"),
        coding.coder === root.dataset.user && canWrite
          ? el("button", { type: "button", class: "link small", onclick: () => remove(coding) }, "Remove")
          : null,
      );
    }),
  );
}

function renderLegend() {
  const used = new Map();
  for (const coding of state.codings) used.set(coding.code_id, (used.get(coding.code_id) || 0) + 1);
  byId("doc-count").textContent = `${used.size} in this document`;
  byId("doc-legend").replaceChildren(
    ...[...state.codes.values()].filter((code) => used.has(code.code_id)).map((code) =>
      el("li", {}, swatch(code.code_id), el("span", { dir: "auto" }, code.name), el("span", { class: "muted" }, `${used.get(code.code_id)}`)),
    ),
  );
  const select = byId("code-form").elements.code;
  select.replaceChildren(...[...state.codes.values()].map((code) => el("option", { value: code.code_id }, code.name)));
}

// The selection as code points of the source, if it lies within one segment.
function selectedSpan() {
  const selection = document.getSelection();
  if (!selection.rangeCount || selection.isCollapsed) return null;
  const range = selection.getRangeAt(0);
  const segment = (node) => (node.nodeType === Node.ELEMENT_NODE ? node : node.parentElement)?.closest(".seg");
  const first = segment(range.startContainer);
  if (!first || first !== segment(range.endContainer)) return null;
  const before = document.createRange();
  before.setStart(first, 0);
  before.setEnd(range.startContainer, range.startOffset);
  const start = Number(first.dataset.start) + Array.from(before.toString()).length;
  return { segmentId: first.dataset.id, start, end: start + Array.from(range.toString()).length, text: range.toString() };
}

function onSelection() {
  const span = selectedSpan();
  if (!span && document.activeElement && byId("code-form").contains(document.activeElement)) return;
  state.selection = span;
  byId("code-form").hidden = !span || !canWrite;
  byId("selection-hint").hidden = Boolean(span && canWrite);
  if (span) byId("selection-text").textContent = span.text;
}

async function codeSelection(event) {
  event.preventDefault();
  const span = state.selection;
  if (!span) return;
  const codeId = byId("code-form").elements.code.value;
  try {
    const version = await reviewVersion(span.start);
    await api("POST", "/decisions", { action: "code", segment_id: span.segmentId, code_id: codeId, start: span.start, end: span.end, version });
    notice(`Coded with “${state.codes.get(codeId).name}” (u on the review page undoes).`);
    state.selection = null;
    byId("code-form").hidden = true;
    byId("selection-hint").hidden = false;
    await load(state.source.id);
  } catch (error) {
    notice(error.message, "error");
  }
}

// The segment a coding lies in (a coding never crosses segments) and its review version for this coder.
async function reviewVersion(offset) {
  const segment = state.segments.find((s) => s.start <= offset && offset < s.end);
  const view = await api("GET", `/review/${encodeURIComponent(segment.id)}`);
  return view.version;
}

async function remove(coding) {
  try {
    const version = await reviewVersion(coding.start);
    await api("POST", "/decisions", { action: "remove", decision_id: coding.decision_id, version });
    notice(`Removed “${coding.code}” here (u on the review page puts it back).`);
    byId("doc-codings").replaceChildren();
    await load(state.source.id);
  } catch (error) {
    notice(error.message, "error");
  }
}

async function start() {
  const sources = await api("GET", "/sources");
  const picker = byId("doc-source");
  picker.replaceChildren(...sources.map((source) => el("option", { value: source.id }, source.name)));
  const wanted = sources.find((s) => s.id === root.dataset.source || s.name === root.dataset.source) || sources[0];
  if (!wanted) return notice("This project has no sources yet.");
  picker.value = wanted.id;
  picker.addEventListener("change", () => load(picker.value).catch((error) => notice(error.message, "error")));
  await load(wanted.id);
}

document.addEventListener("selectionchange", onSelection);
byId("code-form").addEventListener("submit", codeSelection);
start().catch((error) => notice(error.message, "error"));
