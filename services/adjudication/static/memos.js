// The memos page: the list (by kind, searchable) on the left, the memo being written on the right. Every
// memo is written through POST /memos with the version it was loaded at, so a memo someone else saved in
// the meantime is refused (409) instead of overwritten; the text typed stays in the form.
"use strict";

const root = byId("memos");
const api = projectApi(root.dataset.project);
const canWrite = root.dataset.canWrite === "yes";
const form = byId("memo-form");
const search = byId("memo-search");
const SUBJECT_KINDS = new Set(["source", "code", "coding"]);

// The memo loaded in the form: its id and version (null while writing a new one).
let current = null;
const subjects = { source: [], code: [], coding: [] };

function showSubjectField() {
  const kind = form.elements.kind.value;
  byId("subject-field").hidden = !SUBJECT_KINDS.has(kind);
  const list = byId("subjects");
  list.replaceChildren(...subjects[kind]?.map((name) => el("option", { value: name })) ?? []);
}

function startNew(kind = "journal") {
  current = null;
  form.reset();
  form.elements.kind.value = kind;
  form.elements.kind.disabled = false;
  form.elements.subject.disabled = false;
  byId("memo-state").textContent = "new";
  byId("memo-versions").hidden = true;
  byId("memo-delete").disabled = true;
  byId("memo-history").disabled = true;
  showSubjectField();
  markCurrent();
}

function load(view) {
  const memo = view.memo;
  current = { id: memo.memo_id, version: memo.version, kind: memo.kind, about: view.about };
  form.elements.kind.value = memo.kind;
  form.elements.kind.disabled = true; // a memo stays about what it is about
  form.elements.subject.value = memo.kind === "coding" ? memo.subject_id : SUBJECT_KINDS.has(memo.kind) ? view.about : "";
  form.elements.subject.disabled = true;
  form.elements.title.value = memo.title;
  form.elements.text.value = memo.text;
  byId("memo-state").textContent = `${view.about} · version ${memo.version} by ${view.author}`;
  byId("memo-versions").hidden = true;
  byId("memo-delete").disabled = !canWrite;
  byId("memo-history").disabled = false;
  showSubjectField();
  markCurrent();
}

// Opens the memo as it stands now (the list may be older than someone else's last save).
async function open(memoId) {
  try {
    const versions = await api("GET", `/memos/${encodeURIComponent(memoId)}/history`);
    load(versions[versions.length - 1]);
  } catch (error) {
    notice(error.message, "error");
  }
}

function markCurrent() {
  for (const item of byId("memo-items").children) {
    item.setAttribute("aria-current", String(current !== null && item.dataset.id === current.id));
  }
}

async function refreshList() {
  const query = new URLSearchParams();
  const { kind, q } = search.elements;
  if (kind.value) query.set("kind", kind.value);
  if (q.value.trim()) query.set("q", q.value.trim());
  const views = await api("GET", `/memos${query.size ? `?${query}` : ""}`);
  byId("memo-count").textContent = `${views.length} memo${views.length === 1 ? "" : "s"}`;
  byId("memo-items").replaceChildren(
    ...views.map((view) => {
      const memo = view.memo;
      const first = memo.text.trim().split("\n")[0] ?? "";
      const written = memo.written_at.slice(0, 10);
      return el(
        "li",
        {
          "data-id": memo.memo_id,
          tabindex: "0",
          onclick: () => open(memo.memo_id),
          onkeydown: (event) => event.key === "Enter" && open(memo.memo_id),
        },
        el("span", { class: "tag" }, memo.kind),
        " ",
        el("strong", { dir: "auto" }, memo.title || view.about),
        " ",
        el("span", { class: "muted small" }, written),
        el("span", { class: "memo-first", dir: "auto" }, first.length > 90 ? `${first.slice(0, 87)}...` : first),
      );
    }),
  );
  markCurrent();
}

async function save(event) {
  event.preventDefault();
  if (!canWrite) return notice("Viewers read memos; owners and coders write them.", "error");
  const kind = form.elements.kind.value;
  const body = {
    kind,
    title: form.elements.title.value,
    text: form.elements.text.value,
    version: current ? current.version : 0,
  };
  if (SUBJECT_KINDS.has(kind)) body.subject = form.elements.subject.value.trim();
  if (kind === "journal" && current) body.memo_id = current.id;
  if (!current && kind !== "journal") body.version = await versionOfSubject(kind, body.subject);
  try {
    const view = await api("POST", "/memos", body);
    load(view);
    notice(`Saved: version ${view.memo.version}.`);
    await refreshList();
  } catch (error) {
    const advice = error.status === 409 ? " Copy your text, reload the memo and write it again." : "";
    notice(`${error.message}.${advice}`, "error");
  }
}

// A project, source, code or coding has one memo: writing "a new one" goes on top of the one there is.
async function versionOfSubject(kind, subject) {
  const query = new URLSearchParams({ kind });
  if (subject) query.set("subject", subject);
  const views = await api("GET", `/memos?${query}`).catch(() => []);
  return views.length ? views[0].memo.version : 0;
}

async function remove() {
  if (!current || !confirm("Delete this memo? Its earlier versions are kept.")) return;
  try {
    await api("DELETE", `/memos/${encodeURIComponent(current.id)}?version=${current.version}`);
    notice("Deleted; its history is kept.");
    startNew();
    await refreshList();
  } catch (error) {
    notice(error.message, "error");
  }
}

async function history() {
  if (!current) return;
  const versions = await api("GET", `/memos/${encodeURIComponent(current.id)}/history`);
  const list = byId("memo-versions");
  list.replaceChildren(
    ...versions.map((view) =>
      el(
        "li",
        {},
        el("strong", {}, `version ${view.memo.version}${view.memo.deleted ? " (deleted)" : ""}`),
        ` · ${view.author} · ${view.memo.written_at.slice(0, 16).replace("T", " ")} UTC\n`,
        el("span", { dir: "auto" }, view.memo.text),
      ),
    ),
  );
  list.hidden = false;
}

async function loadSubjects() {
  const [sources, codes, codings] = await Promise.all([
    api("GET", "/sources").catch(() => []),
    api("GET", "/codebook/counts").catch(() => []),
    api("GET", "/codings").catch(() => []),
  ]);
  subjects.source = sources.map((source) => source.name);
  subjects.code = codes.map((code) => code.name);
  subjects.coding = codings.map((coding) => coding.decision_id);
  showSubjectField();
}

form.addEventListener("submit", save);
form.elements.kind.addEventListener("change", showSubjectField);
search.addEventListener("input", () => refreshList().catch((error) => notice(error.message, "error")));
search.addEventListener("submit", (event) => event.preventDefault());
byId("memo-new").addEventListener("click", () => startNew());
byId("memo-delete").addEventListener("click", remove);
byId("memo-history").addEventListener("click", () => history().catch((error) => notice(error.message, "error")));
startNew();
for (const control of form.elements) if (!canWrite && control.type !== "button") control.disabled = true;
loadSubjects().catch(() => {});
refreshList().catch((error) => notice(error.message, "error"));
