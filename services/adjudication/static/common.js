// Helpers shared by the project pages (loaded before each page's script): building DOM from text only
// (never parsed as HTML), code colours, the notice toast and the project's JSON API.
"use strict";

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  node.append(...children.filter((child) => child !== null && child !== undefined && child !== false));
  return node;
}

const byId = (id) => document.getElementById(id);

// Styles are set through the CSSOM: the pages' Content-Security-Policy refuses style attributes.
function paint(node, properties) {
  for (const [name, value] of Object.entries(properties)) node.style.setProperty(name, value);
  return node;
}

/** A code's colour as every page and export shows it (``display_color`` of /codebook/counts: its own, else
 * a palette colour of its own); ``codes`` as that route lists them. */
function codeColor(codes, codeId) {
  const code = codes.find((found) => found.code_id === codeId);
  return code ? code.display_color : "#7F7F7F";
}

function notice(message, kind = "info") {
  const box = byId("notice");
  box.textContent = message;
  box.className = `notice toast ${kind}`;
  box.hidden = false;
  clearTimeout(notice.timer);
  notice.timer = setTimeout(() => (box.hidden = true), kind === "info" ? 4000 : 12000);
}

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** ``api(method, path, body)`` for the routes under ``/projects/{project}``, with the session cookie. */
function projectApi(project) {
  return async function api(method, path, body) {
    const headers = { "X-Groundcode": "1", Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(`/projects/${encodeURIComponent(project)}${path}`, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status === 401) {
      location.assign(`/login?next=${encodeURIComponent(location.pathname + location.search)}`);
    }
    const data = await response.json().catch(() => null);
    if (!response.ok) throw new ApiError(response.status, errorText(data, response.statusText));
    return data;
  };
}

function errorText(data, fallback) {
  const detail = data && data.detail;
  if (Array.isArray(detail)) return detail.map((problem) => problem.msg).join("; ");
  return detail || fallback;
}

// Logging out changes state, so like every other cookie request it carries the CSRF header: the page's
// "Log out" forms are sent with fetch instead of a plain form submission.
document.addEventListener("submit", async (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || form.getAttribute("action") !== "/logout") return;
  event.preventDefault();
  await fetch("/logout", { method: "POST", headers: { "X-Groundcode": "1" }, credentials: "same-origin" });
  location.assign("/login");
});
