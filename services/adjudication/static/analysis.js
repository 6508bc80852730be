// The analysis page: the saturation curves as a table next to their plot, and the axial-coding proposal
// for the researcher to rename, rearrange and apply. Text is only put on the page as text (el()).
"use strict";

const root = byId("analysis");
const api = projectApi(root.dataset.project);
const CAN_APPLY = byId("apply") !== null;
const UNGROUPED = -1;

const proposal = {
  version: null, // the codebook version the proposal was made on
  groups: [], // { name, code_ids, definition } in the proposal's order, as edited
  ungrouped: [], // code ids taken out of every group
  names: new Map(), // code id -> name
};

// Saturation

function saturationText(label, curve) {
  if (curve.saturation === null) return [label, "not reached"];
  const confirmed = `confirmed by ${curve.confirmed_by} coded interviews`;
  const plateau = curve.added_after > 0 ? `; ${curve.added_after} new codes later (an early plateau)` : "";
  return [label, `interview ${curve.saturation} (${curve.saturation_source}), ${confirmed}${plateau}`];
}

function renderSaturation(report) {
  byId("saturation-rule").textContent = report.rule_text;
  const lines = [
    saturationText("Accepted codings", report.accepted),
    saturationText("Suggestions", report.suggested),
  ];
  byId("saturation-points").replaceChildren(
    ...lines.flatMap(([label, text]) => [el("dt", {}, label), el("dd", {}, text)]),
  );
  const rows = report.accepted.points.map((point, index) => {
    const suggested = report.suggested.points[index];
    const marks = Object.entries({ accepted: report.accepted, suggested: report.suggested })
      .filter(([, curve]) => curve.saturation === point.interview)
      .map(([basis]) => `saturation-${basis}`);
    return el(
      "tr",
      { class: marks.join(" ") || null, title: point.new_codes.join(", ") || null },
      el("td", {}, String(point.interview)),
      el("td", { dir: "auto" }, point.source),
      el("td", {}, String(point.new)),
      el("td", {}, String(point.cumulative)),
      el("td", {}, String(suggested.new)),
      el("td", {}, String(suggested.cumulative)),
    );
  });
  byId("saturation-table").tBodies[0].replaceChildren(...rows);
}

// The axial-coding proposal

function loadProposal(data) {
  proposal.version = data.codebook_version;
  proposal.groups = data.groups.map((group) => ({
    name: group.name,
    definition: group.definition,
    code_ids: [...group.code_ids],
  }));
  proposal.ungrouped = [];
  proposal.names = new Map(
    data.groups.flatMap((group) => group.code_ids.map((id, i) => [id, group.code_names[i]])),
  );
  const naming = `${data.codes} codes in ${data.chosen_groups} groups; names: ${data.naming}`;
  byId("axial-naming").textContent = naming;
  renderGroups();
}

function move(codeId, from, to) {
  const list = (index) => (index === UNGROUPED ? proposal.ungrouped : proposal.groups[index].code_ids);
  list(from).splice(list(from).indexOf(codeId), 1);
  list(to).push(codeId);
  renderGroups();
}

function codeItem(codeId, index) {
  const targets = [...proposal.groups.map((group, i) => [i, group.name]), [UNGROUPED, "ungrouped"]];
  const select = el(
    "select",
    { "aria-label": `Group of ${proposal.names.get(codeId)}`, disabled: !CAN_APPLY },
    ...targets.map(([i, name]) => el("option", { value: String(i) }, name)),
  );
  select.value = String(index);
  select.addEventListener("change", () => move(codeId, index, Number(select.value)));
  return el("li", { class: "row" }, el("span", { dir: "auto" }, proposal.names.get(codeId)), select);
}

function groupItem(group, index) {
  const name = el("input", {
    value: group.name,
    maxlength: "200",
    dir: "auto",
    "aria-label": `Name of group ${index + 1}`,
    readonly: !CAN_APPLY,
  });
  name.addEventListener("input", () => {
    group.name = name.value;
    const targets = byId("groups").querySelectorAll(`option[value="${index}"]`);
    for (const option of targets) option.text = name.value;
  });
  const codes = group.code_ids.map((codeId) => codeItem(codeId, index));
  return el("li", { class: "group" }, name, el("ul", { class: "group-codes" }, ...codes));
}

function renderGroups() {
  const groups = proposal.groups.map(groupItem);
  const ungrouped = proposal.ungrouped.map((codeId) => codeItem(codeId, UNGROUPED));
  const rest = el(
    "li",
    { class: "group" },
    el("h3", {}, "Ungrouped"),
    el("ul", { class: "group-codes" }, ...ungrouped),
  );
  const empty = el("li", { class: "empty-state" }, "No accepted codings to group yet.");
  byId("groups").replaceChildren(...(groups.length ? groups : [empty]), ...(ungrouped.length ? [rest] : []));
  if (CAN_APPLY) byId("apply").disabled = groups.length === 0;
}

async function apply() {
  const groups = proposal.groups
    .filter((group) => group.code_ids.length > 0)
    .map(({ name, definition, code_ids }) => ({ name: name.trim(), definition, code_ids }));
  const codebook = await api("POST", "/axial/apply", { codebook_version: proposal.version, groups });
  await Promise.all([showHierarchy(), api("GET", "/axial/proposal").then(loadProposal)]);
  notice(`Applied: codebook version ${codebook.version}.`);
}

// The codebook's hierarchy

async function showHierarchy() {
  const codes = await api("GET", "/codebook/counts");
  const known = new Set(codes.map((code) => code.code_id));
  const children = (parentId) => codes.filter((code) => code.parent_id === parentId);
  const item = (code) => {
    const nested = children(code.code_id);
    return el(
      "li",
      { "data-code-id": code.code_id, title: code.definition || null },
      el("span", { dir: "auto" }, code.name),
      nested.length ? el("ul", {}, ...nested.map(item)) : null,
    );
  };
  const roots = codes.filter((code) => code.parent_id === null || !known.has(code.parent_id));
  byId("hierarchy").replaceChildren(...roots.map(item));
}

async function start() {
  if (CAN_APPLY) {
    byId("apply").addEventListener("click", () => apply().catch((error) => notice(error.message, "error")));
  }
  const [report, data] = await Promise.all([
    api("GET", "/saturation"),
    api("GET", "/axial/proposal"),
    showHierarchy(),
  ]);
  renderSaturation(report);
  loadProposal(data);
}

start().catch((error) => notice(error.message, "error"));
