// The review page: one segment in its transcript with its ranked suggestions; keys become decisions
// through the JSON API. Text is only ever put on the page as text (el() in common.js), never parsed as HTML.
"use strict";

const root = document.getElementById("review");
const PROJECT = root.dataset.project;
const REASONS = JSON.parse(root.dataset.reasons);
const VERDICTS = { accept: "accepted", edit: "edited", create_code: "created as a code", reject: "rejected" };
const UNDONE = { ...VERDICTS, skip: "skipped", merge: "merged", code: "coded", no_code: "no code applies" };
const UNIT_NAMES = { sentence: "sentence", turn: "turn", paragraph: "paragraph", response: "answer" };
const LEGEND_STORAGE = "groundcode.legend";

const state = {
  view: null, // the SegmentView shown, null when the queue is empty
  focus: 0, // index of the focused candidate
  codes: [], // the codebook with counts (CodeCount)
  sources: [], // progress per source (SourceProgress)
  filter: null, // the review queue's filter, as in the URL
  editSpan: null, // the span being edited (code points within the segment), highlighted meanwhile
  bulk: null, // the last bulk preview: { request, ids, name }
};
let pending = Promise.resolve(); // actions run one after another, each on the view the previous one left

// DOM (el, byId and notice come from common.js)

const percent = (fraction) => `${Math.round(fraction * 100)}%`;
const clamp = (value, low, high) => Math.min(Math.max(value, low), high);

/** A horizontal bar filled to ``fraction`` (decoration: the number is always written next to it). */
function bar(fraction) {
  const fill = el("span", { class: "bar-fill" });
  fill.style.width = percent(clamp(fraction, 0, 1));
  return el("span", { class: "bar", "aria-hidden": "true" }, fill);
}

function fillSelect(select, options, value, placeholder) {
  const first = placeholder === undefined ? [] : [el("option", { value: "" }, placeholder)];
  select.replaceChildren(...first, ...options.map(([key, label]) => el("option", { value: key }, label)));
  select.value = value;
  if (select.selectedIndex < 0) select.selectedIndex = 0;
}

const codeOptions = () => state.codes.map((code) => [code.code_id, code.name]);
const sourceOptions = () => state.sources.map((source) => [source.source_id, source.source_name]);
const codeName = (codeId) => (state.codes.find((code) => code.code_id === codeId) || {}).name || "?";

// The API

const api = projectApi(PROJECT);

/** Run an action after the ones before it; a 409 (the review changed meanwhile) reloads the view. */
function perform(action) {
  pending = pending.then(action).catch(async (error) => {
    if (error.status !== 409) return notice(error.message, "error");
    await reload().catch(() => {});
    notice("This segment's review changed meanwhile (another tab?): reloaded, please decide again.", "warn");
  });
  return pending;
}

// The queue filter, kept in the URL with the segment shown

function readFilter(params) {
  return {
    source: params.get("source") || "",
    code: params.get("code") || "",
    min_confidence: Number(params.get("min_confidence") || 0),
    max_confidence: Number(params.get("max_confidence") || 1),
    status: params.get("status") || "todo",
    order: params.get("order") || "source",
  };
}

function filterParams() {
  const { source, code, min_confidence, max_confidence, status, order } = state.filter;
  const params = new URLSearchParams();
  if (source) params.set("source", source);
  if (code) params.set("code", code);
  if (min_confidence > 0) params.set("min_confidence", min_confidence);
  if (max_confidence < 1) params.set("max_confidence", max_confidence);
  if (status !== "todo") params.set("status", status);
  if (order !== "source") params.set("order", order);
  return params;
}

function writeUrl() {
  const params = new URLSearchParams({ project: PROJECT });
  for (const [name, value] of filterParams()) params.set(name, value);
  if (state.view) params.set("segment", state.view.segment_id);
  history.replaceState(null, "", `/review?${params}`);
}

function showFilter() {
  const fields = byId("filters").elements;
  fillSelect(fields.source, sourceOptions(), state.filter.source, "all sources");
  fillSelect(fields.code, codeOptions(), state.filter.code, "all codes");
  fields.min_confidence.value = Math.round(state.filter.min_confidence * 100);
  fields.max_confidence.value = Math.round(state.filter.max_confidence * 100);
  fields.status.value = state.filter.status;
  fields.order.value = state.filter.order;
}

async function applyFilter() {
  const fields = byId("filters").elements;
  state.filter = {
    source: fields.source.value,
    code: fields.code.value,
    min_confidence: clamp(Number(fields.min_confidence.value) / 100, 0, 1),
    max_confidence: clamp(Number(fields.max_confidence.value || 100) / 100, 0, 1),
    status: fields.status.value,
    order: fields.order.value,
  };
  await show(null);
}

// Loading

/** Show a segment (the next one in the queue when none is named). */
async function show(segmentId) {
  const path = segmentId ? `/review/${encodeURIComponent(segmentId)}` : "/review";
  const view = await api("GET", `${path}?${filterParams()}`);
  const same = view && state.view && view.segment_id === state.view.segment_id;
  state.focus = same ? clamp(state.focus, 0, Math.max(view.candidates.length - 1, 0)) : 0;
  state.view = view;
  writeUrl();
  renderView();
}

const reload = () => show(state.view && state.view.segment_id);

async function refreshSide() {
  [state.sources, state.codes] = await Promise.all([api("GET", "/progress"), api("GET", "/codebook/counts")]);
  renderProgress();
  renderCodebook();
  showFilter();
  const bulk = byId("bulk-form").elements;
  fillSelect(bulk.code, codeOptions(), bulk.code.value);
  fillSelect(bulk.source, sourceOptions(), bulk.source.value, "all sources");
}

async function showCodedSpeakers() {
  const settings = await api("GET", "/settings");
  byId("coded-speakers").textContent = `coding ${settings.coded}`;
}

async function afterDecision(message) {
  await Promise.all([reload(), refreshSide()]);
  notice(message);
}

// Rendering

function renderView() {
  const view = state.view;
  byId("position").textContent = positionText(view);
  byId("source-name").textContent = view ? view.source_name : "";
  const documentLink = byId("open-document");
  documentLink.hidden = !view;
  if (view) {
    const where = new URLSearchParams({ project: PROJECT, source: view.source_id, segment: view.segment_id });
    documentLink.href = `/document?${where}`;
  }
  byId("segment-state").replaceChildren(...segmentTags(view));
  renderTranscript();
  renderCandidates();
  renderCodings();
}

function positionText(view) {
  if (!view) return "nothing left in this queue";
  if (view.queue_index) return `${view.queue_index} of ${view.queue_length}`;
  return `not in this queue · ${view.queue_length} in queue`;
}

function segmentTags(view) {
  if (!view) return [];
  return [
    el("span", { class: "muted" }, `${UNIT_NAMES[view.unit] || "segment"} ${view.position + 1}`),
    view.reviewed && el("span", { class: "tag done" }, "reviewed"),
    view.no_code && el("span", { class: "tag" }, "no code applies"),
    view.skipped && el("span", { class: "tag" }, "skipped"),
  ].filter(Boolean);
}

function renderTranscript() {
  const view = state.view;
  if (!view) {
    const hint = "Nothing to review with these filters: change the status or the filters above.";
    byId("transcript").replaceChildren(el("p", { class: "empty-state" }, hint));
    return;
  }
  const current = el("p", { id: "segment-text", class: "text" });
  const context = (turn) => turnBlock(turn.speaker, el("p", { class: "text" }, turn.text), "context");
  byId("transcript").replaceChildren(
    ...view.before.map(context),
    turnBlock(view.speaker, current, "current"),
    ...view.after.map(context),
  );
  renderSegmentText();
}

function turnBlock(speaker, text, kind) {
  const { direction, language } = state.view;
  return el(
    "div",
    { class: `turn ${kind}`, dir: direction, lang: language },
    el("div", { class: "speaker" }, speaker || "—"),
    text,
  );
}

/** The segment's text with the highlighted span (code points, so Persian and emoji count right). */
function renderSegmentText() {
  const target = byId("segment-text");
  if (!target) return;
  const characters = Array.from(state.view.text);
  const span = state.editSpan || quoteSpan(focusedCandidate());
  if (!span) return target.replaceChildren(state.view.text);
  const start = clamp(span.start, 0, characters.length);
  const end = clamp(span.end, start, characters.length);
  target.replaceChildren(
    characters.slice(0, start).join(""),
    el("mark", {}, characters.slice(start, end).join("")),
    characters.slice(end).join(""),
  );
}

/** A candidate's quote as code points within the segment (its offsets are into the source text). */
function quoteSpan(candidate) {
  if (!candidate || candidate.quote_start === null || candidate.quote_end === null) return null;
  return { start: candidate.quote_start - state.view.start, end: candidate.quote_end - state.view.start };
}

function focusedCandidate() {
  return state.view ? state.view.candidates[state.focus] || null : null;
}

function renderCandidates() {
  const candidates = state.view ? state.view.candidates : [];
  const list = byId("candidates");
  list.replaceChildren(...candidates.map(candidateItem));
  if (state.view && !candidates.length) list.append(el("li", { class: "muted" }, "No suggestions here."));
}

function candidateItem(candidate, index) {
  const proposal = candidate.code_id === null;
  const decided = candidate.my_decision ? `decided ${candidate.my_decision}` : "";
  return el(
    "li",
    {
      class: `candidate ${decided} ${index === state.focus ? "focused" : ""}`,
      "aria-current": index === state.focus ? "true" : null,
      onclick: () => perform(() => setFocus(index)),
    },
    el("kbd", { class: "number" }, index < 9 ? String(index + 1) : "·"),
    el(
      "div",
      { class: "candidate-body" },
      el(
        "div",
        { class: "candidate-head" },
        el(
          "span",
          { class: "code-name", dir: "auto", title: codeHelp(candidate) || null },
          proposal ? el("span", { class: "prefix" }, "new code: ") : null,
          candidate.code_name,
        ),
        proposal && candidate.weaker_than_llm
          ? el("span", { class: "tag weak", title: "an offline key phrase: weaker than an LLM's" }, "weaker")
          : null,
        candidate.merged_into
          ? el("span", { class: "tag" }, `merged into ${codeName(candidate.merged_into)}`)
          : null,
        verdict(candidate),
        el("span", { class: "provenance", title: "suggested by" }, provenance(candidate)),
        el("span", { class: "confidence" }, bar(candidate.confidence), percent(candidate.confidence)),
      ),
      el("p", { class: "rationale", dir: "auto" }, candidate.rationale),
      codeHelp(candidate) ? definitionDetails(candidate) : null,
    ),
  );
}

function verdict(candidate) {
  const kind = candidate.my_decision;
  if (!VERDICTS[kind]) return null;
  const reason = kind === "reject" && candidate.my_reason ? `: ${REASONS[candidate.my_reason]}` : "";
  return el("span", { class: `verdict ${kind}` }, VERDICTS[kind] + reason);
}

function codeHelp(candidate) {
  return [
    candidate.definition,
    candidate.inclusion && `Include: ${candidate.inclusion}`,
    candidate.exclusion && `Exclude: ${candidate.exclusion}`,
  ]
    .filter(Boolean)
    .join("\n");
}

function definitionDetails(candidate) {
  const rows = [
    ["Definition", candidate.definition],
    ["Include", candidate.inclusion],
    ["Exclude", candidate.exclusion],
  ].filter(([, text]) => text);
  return el(
    "details",
    { class: "definition", onclick: (event) => event.stopPropagation() },
    el("summary", {}, "Definition"),
    el("dl", {}, ...rows.flatMap(([term, text]) => [el("dt", {}, term), el("dd", { dir: "auto" }, text)])),
  );
}

function provenance(candidate) {
  const prompt = candidate.prompt_version && `prompt ${candidate.prompt_version}`;
  return [candidate.backend, candidate.model, prompt].filter(Boolean).join(" · ");
}

function renderCodings() {
  const codings = state.view ? state.view.codings : [];
  const list = byId("codings");
  list.replaceChildren(
    ...codings.map((coding) =>
      el(
        "li",
        { class: "coding" },
        paint(el("span", { class: "code-chip", dir: "auto" }, coding.code_name), {
          "border-inline-start": `6px solid ${codeColor(state.codes, coding.code_id)}`,
        }),
        el("span", { class: "muted small" }, `by ${coding.coder}`),
        el("q", { dir: state.view.direction, lang: state.view.language }, coding.text),
      ),
    ),
  );
  const hint = "None yet: accepting a suggestion makes one.";
  if (state.view && !codings.length) list.append(el("li", { class: "muted" }, hint));
}

function renderProgress() {
  byId("progress").replaceChildren(
    ...state.sources.map((source) =>
      el(
        "li",
        {},
        el(
          "div",
          { class: "row" },
          el("span", { dir: "auto" }, source.source_name),
          el("span", { class: "muted" }, `${source.reviewed} reviewed · ${source.remaining} to go`),
        ),
        bar(source.segments ? source.reviewed / source.segments : 0),
      ),
    ),
  );
}

function renderCodebook() {
  byId("codebook").replaceChildren(
    ...state.codes.map((code) =>
      el(
        "li",
        { class: code.parent_id ? "row child" : "row", title: code.definition || null },
        el("span", { dir: "auto" }, code.name),
        el("span", { class: "count", title: `${code.suggestions} suggestions` }, String(code.codings)),
      ),
    ),
  );
}

// Moving around

function setFocus(index) {
  const candidates = state.view ? state.view.candidates : [];
  if (!candidates.length) return;
  state.focus = clamp(index, 0, candidates.length - 1);
  byId("candidates")
    .querySelectorAll(".candidate")
    .forEach((item, i) => {
      item.classList.toggle("focused", i === state.focus);
      if (i === state.focus) item.setAttribute("aria-current", "true");
      else item.removeAttribute("aria-current");
    });
  byId("candidates").children[state.focus].scrollIntoView({ block: "nearest" });
  renderSegmentText();
}

async function step(direction) {
  const target = state.view && state.view[`${direction}_segment_id`];
  if (!target) {
    return notice(direction === "next" ? "Nothing further in this queue." : "This is the first segment.");
  }
  await show(target);
}

function toggleLegend() {
  const legend = byId("legend");
  legend.hidden = !legend.hidden;
  localStorage.setItem(LEGEND_STORAGE, legend.hidden ? "hidden" : "shown");
}

// Deciding

async function decide(body, message) {
  await api("POST", "/decisions", { ...body, version: state.view.version });
  await afterDecision(message);
}

async function acceptNumber(number) {
  const candidate = state.view && state.view.candidates[number - 1];
  if (!candidate) return;
  setFocus(number - 1);
  if (candidate.code_id === null) return openCreateCode();
  const name = `“${candidate.code_name}”`;
  if (candidate.my_decision === "accept") return notice(`${name} is accepted already (u undoes).`);
  await decide({ action: "accept", suggestion_ids: [candidate.suggestion_id] }, `Accepted ${name}.`);
}

async function skip() {
  const view = state.view;
  if (!view) return;
  await api("POST", "/decisions", { action: "skip", segment_id: view.segment_id, version: view.version });
  await Promise.all([show(view.next_segment_id), refreshSide()]);
  notice("Skipped: it comes back at the end of the queue.");
}

async function noCode() {
  const view = state.view;
  if (!view) return;
  await api("POST", "/decisions", { action: "no_code", segment_id: view.segment_id, version: view.version });
  await Promise.all([show(view.next_segment_id), refreshSide()]);
  notice("No code applies: reviewed without a coding (u undoes).");
}

async function undo() {
  const result = await api("POST", "/undo");
  if (!result.undone) return notice("Nothing left to undo.");
  await Promise.all([show(result.undone.segment_id || (state.view && state.view.segment_id)), refreshSide()]);
  notice(`Undone: ${UNDONE[result.undone.kind] || result.undone.kind}.`);
}

// Dialogs: each submit runs its action through perform(); closing one restores the page

function openForm(id, prepare, submit) {
  const dialog = byId(id);
  const form = dialog.querySelector("form");
  form.reset();
  form.onsubmit = (event) => {
    event.preventDefault();
    const values = Object.fromEntries(new FormData(form));
    dialog.close();
    perform(() => submit(values));
  };
  prepare(form.elements, dialog);
  if (dialog.classList.contains("floating")) dialog.show();
  else dialog.showModal();
  return form.elements;
}

function subject(dialog, candidate) {
  dialog.querySelector(".dialog-subject").textContent = candidate.code_name;
}

function openReject() {
  const candidate = focusedCandidate();
  if (!candidate) return;
  const body = (values) => ({ action: "reject", suggestion_id: candidate.suggestion_id, ...values });
  const fields = openForm(
    "reject-dialog",
    (_, dialog) => subject(dialog, candidate),
    (values) => decide(body(values), `Rejected “${candidate.code_name}”: ${REASONS[values.reason]}.`),
  );
  fields.reason[0].focus();
}

function pickReason(number) {
  const choice = byId("reject-dialog").querySelector("form").elements.reason[number - 1];
  if (!choice) return;
  choice.checked = true;
  choice.focus();
}

function openEdit() {
  const candidate = focusedCandidate();
  if (!candidate) return;
  const length = Array.from(state.view.text).length;
  const segmentStart = state.view.start;
  state.editSpan = quoteSpan(candidate) || { start: 0, end: length };
  const fields = openForm(
    "edit-dialog",
    (fields, dialog) => {
      subject(dialog, candidate);
      fields.start.max = length - 1;
      fields.end.max = length;
      showEditSpan(fields, state.editSpan);
      listCodes(fields, candidate.code_id);
    },
    (values) => {
      const span = { start: segmentStart + Number(values.start), end: segmentStart + Number(values.end) };
      const body = { action: "edit", suggestion_id: candidate.suggestion_id, code_id: values.code, ...span };
      return decide(body, `Coded “${codeName(values.code)}” instead of “${candidate.code_name}”.`);
    },
  );
  renderSegmentText();
  fields.filter.focus();
}

/** The codebook's codes whose name contains the filter text, in the edit dialog's list. */
function listCodes(fields, selected) {
  const wanted = fields.filter.value.trim().toLowerCase();
  const options = codeOptions().filter(([, name]) => name.toLowerCase().includes(wanted));
  fillSelect(fields.code, options, selected || fields.code.value);
}

function showEditSpan(fields, span) {
  fields.start.value = span.start;
  fields.end.value = span.end;
  fields.end.setCustomValidity(span.end > span.start ? "" : "the end must come after the start");
  const text = Array.from(state.view.text).slice(span.start, span.end).join("");
  byId("edit-dialog").querySelector(".span-preview").textContent = text;
}

function typedEditSpan() {
  const fields = byId("edit-dialog").querySelector("form").elements;
  state.editSpan = { start: Number(fields.start.value), end: Number(fields.end.value) };
  showEditSpan(fields, state.editSpan);
  renderSegmentText();
}

/** While editing, text selected in the segment becomes the span. */
function selectedEditSpan() {
  const container = byId("segment-text");
  const selection = document.getSelection();
  if (!byId("edit-dialog").open || !container || !selection.rangeCount || selection.isCollapsed) return;
  const range = selection.getRangeAt(0);
  if (!container.contains(range.startContainer) || !container.contains(range.endContainer)) return;
  const before = document.createRange();
  before.setStart(container, 0);
  before.setEnd(range.startContainer, range.startOffset);
  const start = Array.from(before.toString()).length;
  state.editSpan = { start, end: start + Array.from(range.toString()).length };
  showEditSpan(byId("edit-dialog").querySelector("form").elements, state.editSpan);
}

function openCreateCode() {
  const candidate = focusedCandidate();
  if (!candidate) return;
  if (candidate.code_id !== null) return notice("n turns a proposed label (“new code: …”) into a code.");
  const body = (values) => ({ action: "create_code", suggestion_id: candidate.suggestion_id, ...values });
  const fields = openForm(
    "create-dialog",
    (fields) => (fields.name.value = candidate.code_name),
    (values) => decide(body(values), `Created the code “${values.name}” and coded the segment with it.`),
  );
  // The button has the focus, not the name: keys pressed on after the number (the next shortcut) must not
  // type over the proposed name. Enter creates it as proposed; Tab or a click edits the name.
  fields.name.closest("form").querySelector("button[type=submit]").focus();
}

function openMerge() {
  const candidate = focusedCandidate();
  const fields = openForm(
    "merge-dialog",
    (fields) => {
      fillSelect(fields.keep, codeOptions(), (candidate && candidate.code_id) || "", "choose a code");
      fillSelect(fields.merged, codeOptions(), "", "choose a code");
    },
    async ({ keep, merged }) => {
      const message = `Merged “${codeName(merged)}” into “${codeName(keep)}” (u undoes).`;
      await api("POST", "/merge", { code_id: keep, merged_code_id: merged });
      await afterDecision(message);
    },
  );
  fields.keep.focus();
}

function closedDialog() {
  state.editSpan = null;
  if (state.view) renderSegmentText();
}

// Bulk acceptance: preview, then accept exactly the previewed suggestions

function toggleBulk() {
  const panel = byId("bulk");
  panel.hidden = !panel.hidden;
  if (panel.hidden) return;
  const fields = byId("bulk-form").elements;
  const candidate = focusedCandidate();
  if (candidate && candidate.code_id) fields.code.value = candidate.code_id;
  fields.code.focus();
}

async function previewBulk() {
  const fields = byId("bulk-form").elements;
  const request = {
    code_id: fields.code.value,
    min_confidence: clamp(Number(fields.min_confidence.value) / 100, 0, 1),
    source_id: fields.source.value || null,
  };
  const preview = await api("POST", "/bulk/preview", request);
  state.bulk = { request, ids: preview.items.map((item) => item.suggestion_id), name: preview.code_name };
  byId("bulk-items").replaceChildren(
    ...preview.items.map((item) =>
      el(
        "li",
        {},
        el("span", { class: "muted" }, `${item.source_name} · ${percent(item.confidence)}`),
        el("span", { class: "bulk-text", dir: "auto" }, item.text),
      ),
    ),
  );
  if (!preview.items.length) {
    byId("bulk-items").append(el("li", { class: "muted" }, "Nothing waiting for review."));
  }
  const accept = byId("bulk-accept");
  accept.hidden = !preview.items.length;
  accept.textContent = `Accept ${preview.items.length}`;
}

function clearBulk() {
  state.bulk = null;
  byId("bulk-items").replaceChildren();
  byId("bulk-accept").hidden = true;
}

async function acceptBulk() {
  const { request, ids, name } = state.bulk;
  const result = await api("POST", "/bulk/accept", { ...request, suggestion_ids: ids });
  clearBulk();
  await afterDecision(`Accepted ${result.decisions.length} suggestions of “${name}”.`);
}

// Keys

const COMMANDS = {
  ArrowDown: () => setFocus(state.focus + 1),
  ArrowUp: () => setFocus(state.focus - 1),
  accept: () => acceptNumber(state.focus + 1),
  r: openReject,
  e: openEdit,
  n: openCreateCode,
  m: openMerge,
  0: noCode,
  s: skip,
  u: undo,
  j: () => step("next"),
  k: () => step("previous"),
  b: toggleBulk,
  f: () => byId("filters").elements.source.focus(),
  "?": toggleLegend,
};

function command(key) {
  if (/^[1-9]$/.test(key)) return () => acceptNumber(Number(key));
  return COMMANDS[key];
}

const isTyping = (target) => target.matches("input, textarea, select, [contenteditable]");

function onKey(event) {
  const dialog = document.querySelector("dialog[open]");
  if (dialog) return dialogKey(event, dialog);
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (isTyping(event.target)) {
    if (event.key === "Escape") event.target.blur();
    return;
  }
  const action = command(event.key);
  if (!action || (event.repeat && !event.key.startsWith("Arrow"))) return;
  event.preventDefault();
  perform(action);
}

/** In a dialog: Esc cancels, Enter confirms (Ctrl+Enter in a text area), digits pick a reject reason,
 * arrows walk the code list. */
function dialogKey(event, dialog) {
  const { key, target } = event;
  const fields = dialog.querySelector("form").elements;
  const inTextArea = target.tagName === "TEXTAREA";
  const confirms = inTextArea ? event.ctrlKey || event.metaKey : target.tagName !== "BUTTON";
  if (key === "Escape") {
    event.preventDefault();
    dialog.close();
  } else if (key === "Enter" && confirms) {
    event.preventDefault();
    dialog.querySelector("form").requestSubmit();
  } else if (dialog.id === "reject-dialog" && /^[1-9]$/.test(key) && target.type !== "text") {
    event.preventDefault();
    pickReason(Number(key));
  } else if (target === fields.filter && (key === "ArrowDown" || key === "ArrowUp")) {
    event.preventDefault();
    const last = fields.code.options.length - 1;
    fields.code.selectedIndex = clamp(fields.code.selectedIndex + (key === "ArrowDown" ? 1 : -1), 0, last);
  }
}

function onClick(event) {
  const closer = event.target.closest("[data-close]");
  if (closer) return closer.closest("dialog").close();
  const button = event.target.closest("[data-key]");
  if (!button) return;
  button.blur();
  perform(command(button.dataset.key));
}

function onSubmit(form, action) {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    perform(action);
  });
}

function start() {
  const params = new URLSearchParams(location.search);
  state.filter = readFilter(params);
  byId("legend").hidden = localStorage.getItem(LEGEND_STORAGE) !== "shown";
  document.addEventListener("keydown", onKey);
  document.addEventListener("click", onClick);
  document.addEventListener("selectionchange", selectedEditSpan);
  document.querySelectorAll("dialog").forEach((dialog) => dialog.addEventListener("close", closedDialog));
  const edit = byId("edit-dialog").querySelector("form").elements;
  edit.filter.addEventListener("input", () => listCodes(edit));
  edit.start.addEventListener("input", typedEditSpan);
  edit.end.addEventListener("input", typedEditSpan);
  const filters = byId("filters");
  filters.addEventListener("change", () => perform(applyFilter));
  onSubmit(filters, applyFilter);
  const bulk = byId("bulk-form");
  onSubmit(bulk, previewBulk);
  bulk.addEventListener("input", clearBulk);
  byId("bulk-accept").addEventListener("click", () => perform(acceptBulk));
  perform(() => Promise.all([refreshSide(), show(params.get("segment")), showCodedSpeakers()]));
}

start();
