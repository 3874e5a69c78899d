// The operator console: sign in through the user pool's app client (USER_SRP_AUTH, then the MFA code
// when Cognito asks for one), then read the status API with the ID token. Plain DOM, no framework;
// everything shown comes from the API and is set as text (textContent), never parsed as HTML.
// Tokens live in this page's memory only: a reload signs out.

import { cognitoTimestamp, newClientSecret, passwordClaimSignature } from "./srp.js";

const STATUSES = ["PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED", "EXPIRED"];
const PAGE_SIZE = 50;
const OUTCOME_FIELDS = [
  ["status", "Status"],
  ["action_type", "Action type"],
  ["account_id", "Account"],
  ["attempt_count", "Attempts"],
  ["approved_at", "Approved"],
  ["started_at", "Started"],
  ["completed_at", "Completed"],
  ["expires_at", "Expires"],
  ["error_class", "Error class"],
  ["error_code", "Error code"],
  ["failed_stage", "Failed stage"],
  ["error_message", "Error message"],
];

const state = {
  config: null,
  session: null, // { idToken, refreshToken, username, claims }
  pendingChallenge: null, // { name, session, username }
  accountId: null,
  nextToken: null,
  loads: 0,
};

const $ = (id) => document.getElementById(id);

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "class") {
      node.className = value;
    } else if (name.startsWith("data-")) {
      node.setAttribute(name, String(value));
    } else {
      node[name] = value;
    }
  }
  for (const child of children) {
    node.append(child instanceof Node ? child : document.createTextNode(String(child ?? "")));
  }
  return node;
}

function show(id, visible) {
  $(id).hidden = !visible;
}

function say(text, kind = "info") {
  const message = $("message");
  message.textContent = text;
  message.dataset.kind = kind;
  message.hidden = !text;
}

// ------------------------------------------------------------------ Cognito (IdP JSON API)
class CognitoError extends Error {
  constructor(type, message) {
    super(message || type);
    this.type = type;
  }
}

async function idp(operation, body) {
  const response = await fetch(state.config.cognito_endpoint, {
    method: "POST",
    headers: {
      "Content-Type": "application/x-amz-json-1.1",
      "X-Amz-Target": `AWSCognitoIdentityProviderService.${operation}`,
    },
    body: JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const type = String(data.__type || `HTTP ${response.status}`).split("#").pop();
    throw new CognitoError(type, data.message);
  }
  return data;
}

function decodeClaims(jwt) {
  // For display only (who is signed in, which accounts to offer): the API verifies the token itself.
  const payload = String(jwt).split(".")[1] || "";
  const base64 = payload.replace(/-/g, "+").replace(/_/g, "/");
  const bytes = Uint8Array.from(atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4)), (c) =>
    c.charCodeAt(0),
  );
  return JSON.parse(new TextDecoder().decode(bytes));
}

async function signIn(username, password) {
  const { client_id: clientId, user_pool_id: userPoolId } = state.config;
  const secret = newClientSecret();
  const started = await idp("InitiateAuth", {
    AuthFlow: "USER_SRP_AUTH",
    ClientId: clientId,
    AuthParameters: { USERNAME: username, SRP_A: secret.srpA },
  });
  if (started.ChallengeName !== "PASSWORD_VERIFIER") {
    return afterChallenge(started, username);
  }
  const parameters = started.ChallengeParameters;
  const timestamp = cognitoTimestamp();
  const signature = await passwordClaimSignature({
    userPoolId,
    userIdForSrp: parameters.USER_ID_FOR_SRP,
    password,
    secret,
    srpB: parameters.SRP_B,
    salt: parameters.SALT,
    secretBlock: parameters.SECRET_BLOCK,
    timestamp,
  });
  const request = {
    ChallengeName: "PASSWORD_VERIFIER",
    ClientId: clientId,
    ChallengeResponses: {
      USERNAME: parameters.USERNAME || parameters.USER_ID_FOR_SRP,
      PASSWORD_CLAIM_SECRET_BLOCK: parameters.SECRET_BLOCK,
      PASSWORD_CLAIM_SIGNATURE: signature,
      TIMESTAMP: timestamp,
    },
  };
  if (started.Session) {
    request.Session = started.Session;
  }
  const verified = await idp("RespondToAuthChallenge", request);
  return afterChallenge(verified, parameters.USERNAME || username);
}

async function afterChallenge(result, username) {
  if (result.AuthenticationResult) {
    return signedIn(result.AuthenticationResult, username);
  }
  if (result.ChallengeName === "SOFTWARE_TOKEN_MFA") {
    state.pendingChallenge = { name: result.ChallengeName, session: result.Session, username };
    show("signin-form", false);
    show("mfa-form", true);
    say("Enter the code from your authenticator app.");
    $("mfa-code").focus();
    return;
  }
  throw new CognitoError(
    result.ChallengeName || "UnexpectedResponse",
    `Cognito asks for ${result.ChallengeName || "something unexpected"}, which this console does not ` +
      "handle: complete it with your organisation's sign-in page first.",
  );
}

async function answerMfa(code) {
  const pending = state.pendingChallenge;
  const result = await idp("RespondToAuthChallenge", {
    ChallengeName: pending.name,
    ClientId: state.config.client_id,
    Session: pending.session,
    ChallengeResponses: { USERNAME: pending.username, SOFTWARE_TOKEN_MFA_CODE: code },
  });
  state.pendingChallenge = null;
  return afterChallenge(result, pending.username);
}

async function refreshIdToken() {
  const refreshToken = state.session?.refreshToken;
  if (!refreshToken) {
    return false;
  }
  try {
    const result = await idp("InitiateAuth", {
      AuthFlow: "REFRESH_TOKEN_AUTH",
      ClientId: state.config.client_id,
      AuthParameters: { REFRESH_TOKEN: refreshToken },
    });
    state.session.idToken = result.AuthenticationResult.IdToken;
    state.session.claims = decodeClaims(state.session.idToken);
    return true;
  } catch {
    return false;
  }
}

async function signedIn(tokens, username) {
  const claims = decodeClaims(tokens.IdToken);
  state.session = {
    idToken: tokens.IdToken,
    refreshToken: tokens.RefreshToken || null,
    username: claims.email || username,
    claims,
  };
  show("signin-form", false);
  show("mfa-form", false);
  show("signed-in", true);
  show("workspace", true);
  $("whoami").textContent = `${state.session.username} (${claims["custom:tenant_id"] || "no tenant"})`;
  say("");
  await loadAccounts();
}

function signOut() {
  state.session = null;
  state.pendingChallenge = null;
  state.accountId = null;
  $("account").replaceChildren();
  $("executions-body").replaceChildren();
  show("detail", false);
  show("workspace", false);
  show("signed-in", false);
  show("mfa-form", false);
  show("signin-form", true);
  $("password").value = "";
  say("Signed out.");
}

// ------------------------------------------------------------------ status API
class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function api(path, query = {}) {
  const url = new URL(state.config.api_base_url.replace(/\/+$/, "") + path);
  for (const [name, value] of Object.entries(query)) {
    if (value !== null && value !== undefined && value !== "") {
      url.searchParams.set(name, value);
    }
  }
  for (let attempt = 0; ; attempt += 1) {
    const response = await fetch(url, { headers: { Authorization: state.session.idToken } });
    if (response.status === 401 && attempt === 0 && (await refreshIdToken())) {
      continue;
    }
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      throw new ApiError(response.status, `HTTP ${response.status} ${data.message || data.error || ""}`.trim());
    }
    return data;
  }
}

function path(...segments) {
  return segments.map((s) => "/" + encodeURIComponent(s)).join("");
}

async function loadAccounts() {
  let accounts = [];
  try {
    const data = await api("/accounts");
    accounts = (data.accounts || []).map((a) => String(a.account_id));
  } catch (error) {
    say(`Could not list your accounts: ${error.message}`, "error");
  }
  const picker = $("account");
  picker.replaceChildren(...accounts.map((id) => el("option", { value: id }, id)));
  picker.disabled = accounts.length === 0;
  state.accountId = accounts[0] || null;
  if (state.accountId) {
    await loadExecutions();
  } else {
    $("executions-body").replaceChildren();
    $("summary").textContent = "No accounts to show.";
    $("summary").dataset.loaded = `|${$("status-filter").value}`;
  }
}

function statusBadge(status) {
  const known = STATUSES.includes(status) ? status : "UNKNOWN";
  return el("span", { class: `status status-${known}`, "data-status": status }, status);
}

function executionRow(row) {
  const open = el("button", { type: "button", class: "link" }, row.action_intent_id);
  open.addEventListener("click", () => openExecution(row.action_intent_id));
  return el(
    "tr",
    { "data-intent-id": row.action_intent_id, "data-status": row.status },
    el("td", {}, open),
    el("td", {}, row.action_type || "–"),
    el("td", {}, statusBadge(row.status)),
    el("td", {}, row.started_at || "–"),
    el("td", {}, row.completed_at || "–"),
    el("td", {}, row.attempt_count ?? "–"),
  );
}

async function loadExecutions({ more = false } = {}) {
  const body = $("executions-body");
  const summary = $("summary");
  const accountId = state.accountId;
  const filter = $("status-filter").value;
  const load = (state.loads += 1); // a later choice wins over an answer still on its way
  if (!more) {
    body.replaceChildren();
    state.nextToken = null;
    show("detail", false);
  }
  delete summary.dataset.loaded;
  summary.textContent = "Loading …";
  try {
    const page = await api(path("accounts", accountId, "executions"), {
      limit: PAGE_SIZE,
      status: filter,
      next_token: more ? state.nextToken : null,
    });
    if (load !== state.loads) {
      return;
    }
    body.append(...(page.executions || []).map(executionRow));
    state.nextToken = page.next_token || null;
    const count = body.children.length;
    summary.textContent =
      `${count} execution${count === 1 ? "" : "s"} in ${accountId}` +
      (filter ? ` with status ${filter}` : "") +
      (state.nextToken ? " (more below)" : "");
    say("");
  } catch (error) {
    if (load !== state.loads) {
      return;
    }
    summary.textContent = "";
    say(`Could not list the executions of ${accountId}: ${error.message}`, "error");
  }
  summary.dataset.loaded = `${accountId}|${filter}`; // what the table shows (for tests and scripts)
  show("more", Boolean(state.nextToken));
}

function definitionList(row) {
  const items = [];
  for (const [field, label] of OUTCOME_FIELDS) {
    const value = row[field];
    if (value === undefined || value === null || value === "") {
      continue;
    }
    const shown = field === "status" ? statusBadge(value) : String(value);
    items.push(el("dt", {}, label), el("dd", { "data-field": field }, shown));
  }
  return items;
}

function safeUrl(text) {
  try {
    const url = new URL(text);
    return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
  } catch {
    return null;
  }
}

function refItem(ref) {
  const label = `${ref.system} ${ref.object_type} ${ref.object_id}`;
  const href = ref.object_url ? safeUrl(ref.object_url) : null;
  const content = href ? el("a", { href, rel: "noopener noreferrer", target: "_blank" }, label) : label;
  return el("li", { "data-object-id": ref.object_id }, content);
}

function timelineItem(entry) {
  const details = Object.entries(entry)
    .filter(([name]) => name !== "at" && name !== "kind")
    .map(([name, value]) => `${name}: ${typeof value === "object" ? JSON.stringify(value) : value}`);
  return el(
    "li",
    { "data-kind": entry.kind },
    el("time", {}, entry.at || ""),
    " ",
    el("strong", {}, entry.kind || "?"),
    details.length ? el("span", { class: "details" }, " — " + details.join(", ")) : "",
  );
}

async function openExecution(intentId) {
  show("detail", true);
  $("detail-title").textContent = intentId;
  $("detail-outcome").replaceChildren(el("dd", {}, "Loading …"));
  $("detail-refs").replaceChildren();
  $("detail-timeline").replaceChildren();
  const query = { account_id: state.accountId };
  try {
    const row = await api(path("executions", intentId, "status"), query);
    $("detail-outcome").replaceChildren(...definitionList(row));
    const refs = row.external_object_refs || [];
    $("detail-refs").replaceChildren(
      ...(refs.length ? refs.map(refItem) : [el("li", { class: "none" }, "No external objects.")]),
    );
  } catch (error) {
    $("detail-outcome").replaceChildren(el("dd", {}, `Could not read the status: ${error.message}`));
  }
  try {
    const ledger = await api(path("executions", intentId, "ledger"), query);
    const entries = ledger.entries || [];
    $("detail-timeline").replaceChildren(
      ...(entries.length ? entries.map(timelineItem) : [el("li", { class: "none" }, "No entries.")]),
    );
  } catch (error) {
    $("detail-timeline").replaceChildren(
      el("li", { class: "none" }, `No timeline: ${error.message}`),
    );
  }
}

// ------------------------------------------------------------------ wiring
function busy(form, running) {
  for (const control of form.querySelectorAll("button, input")) {
    control.disabled = running;
  }
}

function onSubmit(id, action) {
  const form = $(id);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    busy(form, true);
    try {
      await action();
    } catch (error) {
      say(error instanceof CognitoError ? `Sign-in failed: ${error.message}` : String(error.message), "error");
    } finally {
      busy(form, false);
    }
  });
}

async function start() {
  $("status-filter").replaceChildren(
    el("option", { value: "" }, "All statuses"),
    ...STATUSES.map((s) => el("option", { value: s }, s)),
  );
  try {
    const response = await fetch("config.json", { cache: "no-store" });
    if (!response.ok) {
      throw new Error(`HTTP ${response.status}`);
    }
    state.config = await response.json();
  } catch (error) {
    say(`config.json could not be loaded (${error.message}): see the README's "Operator console".`, "error");
    return;
  }
  $("pool").textContent = `${state.config.user_pool_id} (${state.config.region})`;
  onSubmit("signin-form", () => signIn($("username").value.trim(), $("password").value));
  onSubmit("mfa-form", () => answerMfa($("mfa-code").value.trim()));
  $("signout").addEventListener("click", signOut);
  $("account").addEventListener("change", (event) => {
    state.accountId = event.target.value;
    loadExecutions();
  });
  $("status-filter").addEventListener("change", () => loadExecutions());
  $("refresh").addEventListener("click", () => loadExecutions());
  $("more").addEventListener("click", () => loadExecutions({ more: true }));
  $("close-detail").addEventListener("click", () => show("detail", false));
  show("signin-form", true);
  document.body.dataset.ready = "true";
}

start();
