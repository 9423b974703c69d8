// The HTTP API as the page uses it: the signed-in key, JSON calls, errors, downloads.

const KEY = "adbandit.key";
const WHO = "adbandit.who";

/** A refused call: the API's {detail, problems: [{row, field, rule, value}]}. */
export class ApiError extends Error {
  constructor(status, body) {
    super(body.detail || `HTTP ${status}`);
    this.status = status;
    this.problems = body.problems || [];
  }
}

/** The key lives in sessionStorage: it goes when the tab closes. */
export const session = {
  get key() { return sessionStorage.getItem(KEY); },
  get who() {
    const raw = sessionStorage.getItem(WHO);
    return raw ? JSON.parse(raw) : null;
  },
  save(key, who) {
    sessionStorage.setItem(KEY, key);
    sessionStorage.setItem(WHO, JSON.stringify(who));
  },
  clear() {
    sessionStorage.removeItem(KEY);
    sessionStorage.removeItem(WHO);
  },
  /** Whether the signed-in key has at least `role` (roles are ordered, weakest first). */
  can(role) {
    const who = this.who;
    return !!who && who.roles.indexOf(who.role) >= who.roles.indexOf(role);
  },
};

/** Call the API; resolves to the JSON answer (or the Response with raw), throws ApiError. */
export async function api(path, { method = "GET", json, form, raw = false, key } = {}) {
  const headers = { Authorization: `Bearer ${key || session.key}` };
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form) {
    body = form;
  }
  let res;
  try {
    res = await fetch(path, { method, headers, body });
  } catch (err) {
    throw new ApiError(0, { detail: `the server does not answer (${err.message})` });
  }
  if (!res.ok) {
    let data;
    try {
      data = await res.json();
    } catch {
      data = { detail: `${res.status} ${res.statusText}` };
    }
    if (res.status === 401 && !key) window.dispatchEvent(new Event("adbandit:signed-out"));
    throw new ApiError(res.status, data);
  }
  return raw ? res : res.json();
}

/** Fetch with the key and hand the answer to the browser as a file download. */
export async function download(path, fallbackName) {
  const res = await api(path, { raw: true });
  const blob = await res.blob();
  const match = /filename="([^"]+)"/.exec(res.headers.get("Content-Disposition") || "");
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = match ? match[1] : fallbackName;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}

/** A query string from an object, leaving out empty values. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === "") continue;
    for (const item of Array.isArray(v) ? v : [v]) q.append(k, item);
  }
  const s = q.toString();
  return s ? `?${s}` : "";
}
