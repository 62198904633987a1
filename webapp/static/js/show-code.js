// Show code: asks the JSON API for a one-time code, draws it as a QR code in the page,
// counts down, replaces it before it expires (no page reload), and polls the code's status
// to say to whom it was shown. Each refresh is one small JSON request; the QR is drawn here.
const root = document.getElementById("show-code");
const api = root.dataset.api;
const csrf = root.dataset.csrf;
const certificateIds = JSON.parse(root.dataset.certificateIds);
const purpose = root.dataset.purpose || null;
const POLL_MS = 4000;
const RETRY_MS = 5000;

const el = (id) => document.getElementById(id);
const qrBox = el("qr");
const countdown = el("countdown");
const statusLine = el("code-status");
const shown = el("shown");
const refreshButton = el("refresh");
const tokenText = el("code-text");

let encode = null;
let current = null; // {token, qr_content, deadline (ms, local clock), refreshAt}
let refreshTimer = null;
let pollTimer = null;
let tickTimer = null;
let busy = false;

function headers() {
  return { "Content-Type": "application/json", "X-CSRFToken": csrf, Accept: "application/json" };
}

function drawQr(text) {
  const qr = encode(text, { ecc: "Q", border: 4 });
  const n = qr.data.length;
  let d = "";
  for (let y = 0; y < n; y++) {
    const row = qr.data[y];
    for (let x = 0; x < n; x++) {
      if (!row[x]) continue;
      let run = 1;
      while (x + run < n && row[x + run]) run++;
      d += `M${x} ${y}h${run}v1h-${run}z`;
      x += run - 1;
    }
  }
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${n} ${n}`);
  svg.setAttribute("shape-rendering", "crispEdges");
  svg.setAttribute("aria-hidden", "true");
  const bg = document.createElementNS(ns, "rect");
  bg.setAttribute("width", n);
  bg.setAttribute("height", n);
  bg.setAttribute("fill", "#fff");
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", d);
  path.setAttribute("fill", "#000");
  svg.append(bg, path);
  qrBox.replaceChildren(svg);
}

function clearTimers() {
  clearTimeout(refreshTimer);
  clearTimeout(pollTimer);
  clearInterval(tickTimer);
}

function tick() {
  if (!current) return;
  const left = Math.max(0, Math.ceil((current.deadline - Date.now()) / 1000));
  const untilRefresh = Math.max(0, Math.ceil((current.refreshAt - Date.now()) / 1000));
  countdown.textContent = left > 0 ? `${untilRefresh} 秒后自动刷新` : "二维码已过期,正在刷新";
}

async function refresh() {
  if (busy) return;
  busy = true;
  clearTimers();
  refreshButton.disabled = true;
  try {
    const response = await fetch(`${api}/codes`, {
      method: "POST",
      headers: headers(),
      credentials: "same-origin",
      body: JSON.stringify(purpose ? { certificate_ids: certificateIds, purpose } : { certificate_ids: certificateIds }),
    });
    const body = await response.json();
    if (!response.ok) throw new Error(body.error ? body.error.message : "出码失败");
    const now = Date.now();
    current = {
      token: body.token,
      qr: body.qr_content,
      deadline: now + body.ttl_s * 1000,
      refreshAt: now + body.refresh_after_s * 1000,
    };
    drawQr(body.qr_content);
    root.dataset.qrContent = body.qr_content;
    tokenText.textContent = body.token;
    shown.hidden = true;
    qrBox.hidden = false;
    statusLine.textContent = "请向工作人员出示此码";
    tick();
    tickTimer = setInterval(tick, 1000);
    refreshTimer = setTimeout(refresh, body.refresh_after_s * 1000);
    pollTimer = setTimeout(poll, POLL_MS);
  } catch (error) {
    statusLine.textContent = `${error.message},稍后自动重试`;
    refreshTimer = setTimeout(refresh, RETRY_MS);
  } finally {
    busy = false;
    refreshButton.disabled = false;
  }
}

function showScanned(body) {
  clearTimers();
  current = null;
  qrBox.hidden = true;
  countdown.textContent = "";
  const at = (body.scanned_at || "").slice(11, 16);
  const who = body.scanned_by ? body.scanned_by.organisation : "工作人员";
  shown.textContent = `已向 ${who} 出示${at ? `(${at})` : ""}`;
  shown.hidden = false;
  statusLine.textContent = "此码已使用。需要再次出示时请点“刷新二维码”。";
}

async function poll() {
  if (!current || document.hidden) return;
  const token = current.token;
  try {
    const response = await fetch(`${api}/codes/${encodeURIComponent(token)}`, {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    });
    if (!current || current.token !== token) return;
    const body = await response.json();
    if (response.ok && body.status === "scanned") return showScanned(body);
    if (response.ok && body.status !== "waiting") return refresh();
  } catch (error) {
    // A missed poll is harmless: the next one asks again.
  }
  if (current && current.token === token) pollTimer = setTimeout(poll, POLL_MS);
}

document.addEventListener("visibilitychange", () => {
  if (document.hidden || !current) return;
  clearTimeout(pollTimer);
  if (Date.now() >= current.refreshAt) refresh();
  else poll();
});
refreshButton.addEventListener("click", refresh);

import(root.dataset.qrLib).then((lib) => {
  encode = lib.encode;
  refresh();
});
