/**
 * The dashboard: one static page, one script and one style sheet, all served by `firstcall serve`
 * itself (no build step, no CDN: the page makes no request to any other origin, which the CSP
 * enforces too). The page holds no data; the script fetches it from the API with the session cookie.
 *
 * Every value from the logs is put into the page with `textContent` (never as HTML), after
 * `visible()`, the browser twin of safeText: control, bidirectional and invisible characters are shown
 * as escapes, so a user agent or session name cannot forge or reorder what the reader sees.
 */

/** Escapes text for HTML (only for the server's own messages; log values never reach HTML). */
function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string,
  );
}

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="/assets/dashboard.css">
</head>
<body>
${body}
</body>
</html>
`;
}

/** The login page: a form for the API token (the one-time link logs in without it). */
export function loginPage(message?: string): string {
  return page(
    "firstcall — log in",
    `<main class="login">
<h1>firstcall</h1>
${message ? `<p class="error" id="login-error">${escapeHtml(message)}</p>` : ""}
<p>Open the one-time login link that <code>firstcall serve</code> printed, or paste its API token.</p>
<form method="post" action="/login">
<label>API token <input type="password" name="token" autocomplete="off" required></label>
<button type="submit">Log in</button>
</form>
</main>`,
  );
}

/** The dashboard page (its data comes from the API). */
export function dashboardPage(): string {
  return page(
    "firstcall",
    `<header>
<h1>firstcall</h1>
<span id="state" class="muted"></span>
<span id="live" class="live off">connecting…</span>
<form method="post" action="/logout" class="logout"><button type="submit">Log out</button></form>
</header>
<section id="figures" class="figures"></section>
<form id="filters" class="filters">
<label>Rule <select id="filter-rule" name="rule"><option value="">any</option></select></label>
<label>Severity ≥ <select id="filter-severity" name="minSeverity"><option value="">any</option><option>low</option><option>medium</option><option>high</option></select></label>
<label>Status <select id="filter-triage" name="triage"><option value="">any</option><option>open</option><option>acknowledged</option><option>suppressed</option></select></label>
<label>Retracted <select id="filter-status" name="status"><option value="">any</option><option value="open">no</option><option value="retracted">yes</option></select></label>
<label>Account <select id="filter-account" name="account"><option value="">any</option></select></label>
<label>Region <select id="filter-region" name="region"><option value="">any</option></select></label>
<label>From <input id="filter-since" name="since" placeholder="2026-11-01T00:00Z or 24h"></label>
<label>To <input id="filter-until" name="until" placeholder="2026-11-02"></label>
<label>Credential or role <input id="filter-q" name="q" placeholder="role name, ARN, key id, instance"></label>
<button type="submit">Filter</button>
<button type="reset" id="filter-reset">Clear</button>
</form>
<p id="error" class="error" hidden></p>
<main class="split">
<section>
<p><span id="total">0</span> finding(s)</p>
<table id="findings">
<thead><tr><th>time</th><th>severity</th><th>rule</th><th>account</th><th>region</th><th>credential</th><th>from</th><th>calls</th><th>status</th></tr></thead>
<tbody></tbody>
</table>
<button id="more" hidden>Load more</button>
</section>
<section id="detail" class="detail"><p class="muted">Choose a finding to see its evidence.</p></section>
</main>
<script src="/assets/dashboard.js"></script>`,
  );
}

export const DASHBOARD_CSS = `
:root { font-family: system-ui, sans-serif; font-size: 14px; color: #1b1f24; background: #fafbfc; }
body { margin: 0 1rem 2rem; }
header { display: flex; align-items: center; gap: 1rem; border-bottom: 1px solid #d0d7de; }
header h1 { font-size: 1.3rem; margin: .6rem 0; }
.logout { margin-left: auto; }
.muted { color: #57606a; }
.live { padding: .1rem .5rem; border-radius: 1rem; font-size: .85rem; }
.live.on { background: #dafbe1; color: #116329; }
.live.off { background: #ffebe9; color: #a40e26; }
.figures { display: flex; flex-wrap: wrap; gap: .5rem; margin: .8rem 0; }
.figure { background: #fff; border: 1px solid #d0d7de; border-radius: 6px; padding: .4rem .7rem; }
.figure b { display: block; font-size: 1.2rem; }
.filters { display: flex; flex-wrap: wrap; gap: .6rem; align-items: end; margin-bottom: .8rem; }
.filters label { display: flex; flex-direction: column; font-size: .8rem; color: #57606a; }
.split { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 1rem; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { text-align: left; padding: .3rem .4rem; border-bottom: 1px solid #eaeef2; vertical-align: top; }
td { overflow-wrap: anywhere; }
tbody tr { cursor: pointer; }
tbody tr:hover, tbody tr.selected { background: #f3f7fc; }
tr.fresh { animation: fresh 3s ease-out; }
@keyframes fresh { from { background: #fff8c5; } to { background: transparent; } }
.sev { font-weight: 600; text-transform: uppercase; font-size: .75rem; }
.sev-high { color: #a40e26; } .sev-medium { color: #9a6700; } .sev-low { color: #0969da; } .sev-info { color: #57606a; }
.retracted { text-decoration: line-through; color: #57606a; }
tr.row-suppressed td { color: #57606a; }
.triage { font-size: .75rem; font-weight: 600; padding: .05rem .4rem; border-radius: 1rem; white-space: nowrap; }
.triage-open { background: #fff8c5; color: #7d4e00; }
.triage-acknowledged { background: #ddf4ff; color: #0550ae; }
.triage-suppressed { background: #eaeef2; color: #57606a; }
.decide { border-top: 1px solid #eaeef2; margin-top: .6rem; padding-top: .4rem; }
.decide textarea { width: 100%; box-sizing: border-box; min-height: 3.2rem; font: inherit; }
.decide .buttons { display: flex; gap: .5rem; margin-top: .4rem; flex-wrap: wrap; align-items: center; }
.history { padding-left: 1.2rem; font-size: .85rem; }
.detail { background: #fff; border: 1px solid #d0d7de; border-radius: 6px; padding: .5rem 1rem; align-self: start; }
.detail dt { font-weight: 600; margin-top: .4rem; }
.detail dd { margin-left: 1rem; overflow-wrap: anywhere; }
.timeline { list-style: none; padding-left: 0; }
.timeline li { border-left: 3px solid #d0d7de; padding-left: .6rem; margin: .3rem 0; }
.timeline li.home { border-color: #1a7f37; } .timeline li.offending { border-color: #cf222e; }
.error { color: #a40e26; }
.login { max-width: 28rem; margin: 4rem auto; }
.login input { width: 100%; }
code { overflow-wrap: anywhere; }
`;

/**
 * The dashboard's script. Plain ES2020 in a string (it is sent as it is: no build), without template
 * literals so that this TypeScript file can hold it.
 */
export const DASHBOARD_JS = String.raw`"use strict";
(function () {
  var UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\u115F\u1160\u3164\uFFA0\\]/gu;
  var SHORT = { "\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\" };
  /** The page's safeText: invisible and reordering characters become visible escapes. */
  function visible(value) {
    var s = value === undefined || value === null ? "" : String(value);
    return s.replace(UNSAFE, function (ch) {
      if (SHORT[ch]) return SHORT[ch];
      var cp = ch.codePointAt(0);
      var hex = cp.toString(16);
      if (cp <= 0xff) return "\\x" + hex.padStart(2, "0");
      if (cp <= 0xffff) return "\\u" + hex.padStart(4, "0");
      return "\\u{" + hex + "}";
    });
  }
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) for (var k in attrs) if (Object.prototype.hasOwnProperty.call(attrs, k)) {
      if (k === "text") node.textContent = visible(attrs[k]);
      else if (k === "className") node.className = attrs[k];
      else node.setAttribute(k, attrs[k]);
    }
    (children || []).forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }
  function $(id) { return document.getElementById(id); }
  function showError(message) {
    var e = $("error");
    if (!message) { e.hidden = true; e.textContent = ""; return; }
    e.hidden = false;
    e.textContent = visible(message);
  }
  function api(path, method, body) {
    var init = { headers: { Accept: "application/json" }, credentials: "same-origin" };
    if (method) {
      init.method = method;
      init.body = JSON.stringify(body);
      init.headers["Content-Type"] = "application/json";
      // Without it the server refuses a change made with the session cookie (CSRF).
      init.headers["X-Firstcall-Request"] = "1";
    }
    return fetch(path, init).then(function (r) {
      return r.json().then(function (body) {
        if (r.status === 401) { window.location.assign("/login"); throw new Error("logged out"); }
        if (!r.ok) throw new Error((body.error && body.error.code ? body.error.code + ": " : "") + (body.error ? body.error.message : r.status));
        return body;
      });
    });
  }

  var FILTERS = ["rule", "severity", "triage", "status", "account", "region", "since", "until", "q"];
  function filterParams() {
    var p = new URLSearchParams();
    FILTERS.forEach(function (name) {
      var input = $("filter-" + name);
      var v = input.value.trim();
      if (v !== "") p.set(input.name, v);
    });
    return p;
  }

  var shown = new Set();
  var cursor = null;
  var selected = null;
  /** The caller's role: "admin" may acknowledge and suppress, "read" may only look. */
  var role = "read";
  function credential(f) {
    var p = f.principal || {};
    var role = p.roleArn ? p.roleArn.replace(/^[^/]*:role\//, "") : "";
    return (role ? role + "/" : "") + (p.sessionName || p.instanceId || p.arn || "");
  }
  function triageBadge(t) {
    var status = (t && t.status) || "open";
    return el("span", { className: "triage triage-" + status, text: status });
  }
  function row(f, fresh) {
    var status = f.status || "open";
    var triage = (f.triage && f.triage.status) || "open";
    var tr = el("tr", { "data-id": f.id, "data-triage": triage, className: (status === "retracted" ? "retracted " : "") + "row-" + triage + (fresh ? " fresh" : "") }, [
      el("td", { text: f.time }),
      el("td", { text: f.severity, className: "sev sev-" + f.severity }),
      el("td", { text: f.rule }),
      el("td", { text: f.account }),
      el("td", { text: f.region }),
      el("td", { text: credential(f), title: visible(f.principal && f.principal.arn) }),
      el("td", { text: f.sourceIp }),
      el("td", { text: f.evidence ? f.evidence.count : "" }),
      el("td", { className: "status" }, [triageBadge(f.triage), status === "retracted" ? el("span", { text: " retracted" }) : null])
    ]);
    if (f.id === selected) tr.classList.add("selected");
    tr.addEventListener("click", function () { openFinding(f.id); });
    return tr;
  }
  function loadFindings(append) {
    var p = filterParams();
    p.set("limit", "50");
    if (append && cursor) p.set("cursor", cursor);
    return api("/api/v1/findings?" + p.toString()).then(function (page) {
      showError(null);
      var body = $("findings").tBodies[0];
      if (!append) body.replaceChildren();
      // The first load marks nothing as new; later ones mark what was not shown before.
      var marking = shown.size > 0;
      page.findings.forEach(function (f) {
        body.appendChild(row(f, marking && !shown.has(f.id)));
        shown.add(f.id);
      });
      $("total").textContent = String(page.total);
      cursor = page.nextCursor || null;
      $("more").hidden = !cursor;
    }).catch(function (e) { showError(e.message); });
  }

  function figure(label, value) {
    return el("div", { className: "figure" }, [el("b", { text: value }), el("span", { text: label })]);
  }
  function fillSelect(id, values) {
    var select = $(id);
    var current = select.value;
    var have = new Set(Array.prototype.map.call(select.options, function (o) { return o.value; }));
    values.forEach(function (v) { if (!have.has(v)) select.appendChild(el("option", { value: v, text: v })); });
    select.value = current;
  }
  function loadSummary() {
    return api("/api/v1/summary").then(function (s) {
      $("state").textContent = visible(s.state);
      var f = s.findings;
      $("figures").replaceChildren(
        figure("open, high", f.bySeverity.high),
        figure("open, medium", f.bySeverity.medium),
        figure("open, low", f.bySeverity.low),
        figure("retracted", f.retracted),
        figure("acknowledged", f.acknowledged),
        figure("suppressed", f.suppressed),
        figure("sessions (live)", s.sessions.stored + " (" + s.sessions.live + ")"),
        figure("findings covered / uncovered", s.coverage.coveredFindings + " / " + s.coverage.uncoveredFindings),
        figure("accounts in the trail", s.fleet.accounts),
        figure("NAT / Elastic IPs known", s.fleet.egressAddresses),
        figure("endpoints known", s.fleet.knownEndpoints),
        figure("objects scanned", s.objects.complete + (s.objects.partial ? " + " + s.objects.partial + " partial" : "")),
        figure("newest event", s.fleet.newestEvent || "-")
      );
      fillSelect("filter-rule", Object.keys(f.byRule).sort());
      fillSelect("filter-account", f.accounts);
      fillSelect("filter-region", f.regions);
    }).catch(function (e) { showError(e.message); });
  }

  function dl(pairs) {
    var list = el("dl");
    pairs.forEach(function (p) {
      if (p[1] === undefined || p[1] === null || p[1] === "") return;
      list.appendChild(el("dt", { text: p[0] }));
      list.appendChild(el("dd", { text: p[1] }));
    });
    return list;
  }
  /** The finding's triage: its status, the form to change it (admin only) and the history. */
  function triagePart(x) {
    var t = x.triage || { status: "open" };
    var box = el("section", { className: "decide", id: "triage" });
    box.appendChild(el("h3", { text: "Status" }));
    box.appendChild(el("p", { id: "triage-current" }, [
      triageBadge(t),
      t.status !== "open" ? el("span", { text: " by " + t.actor + " at " + t.at + ": " + t.reason }) : null
    ]));
    if (role === "admin") {
      var reason = el("textarea", { id: "triage-reason", maxlength: "1000", placeholder: "why (required to acknowledge or suppress)" });
      var buttons = el("div", { className: "buttons" });
      [["acknowledged", "Acknowledge"], ["suppressed", "Suppress"], ["open", "Reopen"]].forEach(function (b) {
        if (b[0] === t.status) return;
        var button = el("button", { type: "button", id: "triage-" + b[0], text: b[1] });
        button.addEventListener("click", function () {
          var why = reason.value.trim();
          if (b[0] !== "open" && why === "") { showError("Give a reason to " + b[1].toLowerCase() + " this finding."); reason.focus(); return; }
          button.disabled = true;
          api("/api/v1/findings/" + encodeURIComponent(x.finding.id) + "/status", "PUT", { status: b[0], reason: why })
            .then(function () { reason.value = ""; showError(null); refreshSoon(); })
            .catch(function (e) { showError(e.message); button.disabled = false; });
        });
        buttons.appendChild(button);
      });
      buttons.appendChild(el("span", { className: "muted", text: "Suppressed findings are not alerted again." }));
      box.appendChild(el("label", { text: "Reason" }));
      box.appendChild(reason);
      box.appendChild(buttons);
    } else {
      box.appendChild(el("p", { className: "muted", text: "Read-only access: acknowledging and suppressing need the API token." }));
    }
    var history = x.triageHistory || [];
    if (history.length) {
      box.appendChild(el("h4", { text: "History" }));
      box.appendChild(el("ol", { className: "history" }, history.map(function (h) {
        return el("li", { text: h.at + "  " + h.status + " by " + h.actor + (h.reason ? ": " + h.reason : "") });
      })));
    }
    return box;
  }
  function openFinding(id) {
    selected = id;
    Array.prototype.forEach.call($("findings").tBodies[0].rows, function (tr) {
      tr.classList.toggle("selected", tr.getAttribute("data-id") === id);
    });
    return api("/api/v1/findings/" + encodeURIComponent(id)).then(function (x) {
      var f = x.finding;
      var c = x.offendingCalls;
      var parts = [
        el("h2", { text: f.severity.toUpperCase() + " " + f.rule }),
        el("p", { text: f.reason, className: "reason" }),
        triagePart(x),
        dl([
          ["id", f.id],
          ["retracted", f.status === "retracted" ? "yes" + (f.retractionReason ? ": " + f.retractionReason : "") : "no"],
          ["credential", f.principal.arn],
          ["role", f.principal.roleArn],
          ["kind", f.principal.kind],
          ["instance", f.principal.instanceId],
          ["account / region", f.account + " / " + f.region]
        ]),
        el("h3", { text: "Timeline" })
      ];
      var events = [];
      if (x.home) events.push({ t: x.home.boundAt, cls: "home", text: "home " + x.home.address + " bound by " + x.home.eventName + " (event " + x.home.eventId + ")" + (x.home.issuanceSeen ? ", issuance seen" : ", issuance not in the logs") + (x.home.userAgent ? ", agent " + x.home.userAgent : "") });
      else if (f.expectedIps && f.expectedIps.length) events.push({ t: "", cls: "home", text: "expected " + f.expectedIps.join(", ") });
      events.push({ t: c.firstSeen, cls: "offending", text: "first call from " + c.address + " (" + c.network + ")" + (c.vpcEndpointId ? " through " + c.vpcEndpointId : "") });
      if (c.lastSeen !== c.firstSeen) events.push({ t: c.lastSeen, cls: "offending", text: "last call from " + c.address + ", " + c.count + " call(s) in all" });
      if (f.retractedAt) events.push({ t: f.retractedAt, cls: "", text: "retracted: " + (f.retractionReason || "") });
      events.sort(function (a, b) { return a.t < b.t ? -1 : a.t > b.t ? 1 : 0; });
      parts.push(el("ol", { className: "timeline" }, events.map(function (e) {
        return el("li", { className: e.cls, text: (e.t ? e.t + "  " : "") + e.text });
      })));
      parts.push(el("h3", { text: "Offending calls" }));
      parts.push(dl([
        ["address", c.address + " (" + c.network + ")"],
        ["calls", c.count + ", first " + c.firstSeen + ", last " + c.lastSeen],
        ["events", c.eventIds.join(", ") + (c.count > c.eventIds.length ? ", …" : "")],
        ["names", c.eventNames.join(", ")],
        ["keys", c.accessKeyIds.join(", ")],
        ["through", c.vpcEndpointId ? c.vpcEndpointId + " (owner " + (c.vpcEndpointAccountId || "not logged") + ")" : ""]
      ]));
      var agents = el("ul", { className: "agents" }, c.userAgents.map(function (ua) { return el("li", { text: ua }); }));
      parts.push(el("h4", { text: "User agents" }), agents);
      if (x.notFound.length) {
        parts.push(el("h3", { text: "Looked for and not found" }));
        parts.push(el("ul", { className: "not-found" }, x.notFound.map(function (n) { return el("li", { text: n }); })));
      }
      x.notes.forEach(function (n) { parts.push(el("p", { className: "muted", text: "note: " + n })); });
      // A reload (an event arrived) must not lose a reason being typed for the same finding.
      var typing = $("triage-reason");
      var kept = typing && $("detail").getAttribute("data-id") === f.id ? typing.value : "";
      $("detail").replaceChildren.apply($("detail"), parts);
      $("detail").setAttribute("data-id", f.id);
      if (kept && $("triage-reason")) $("triage-reason").value = kept;
    }).catch(function (e) { showError(e.message); });
  }

  var refreshTimer = null;
  function refreshSoon() {
    if (refreshTimer) return;
    refreshTimer = setTimeout(function () {
      refreshTimer = null;
      loadSummary();
      loadFindings(false);
      if (selected) openFinding(selected);
    }, 250);
  }
  function listen() {
    var live = $("live");
    var source = new EventSource("/api/v1/events");
    source.addEventListener("open", function () { live.textContent = "live"; live.className = "live on"; });
    source.addEventListener("error", function () { live.textContent = "reconnecting…"; live.className = "live off"; });
    source.addEventListener("finding", refreshSoon);
    // Another dashboard (or a script) acknowledged or suppressed a finding.
    source.addEventListener("triage", refreshSoon);
    // After a reconnect, status changes made meanwhile are not replayed: reload what is shown.
    var readyBefore = false;
    source.addEventListener("ready", function () { if (readyBefore) refreshSoon(); readyBefore = true; });
    source.addEventListener("state-error", function (e) { showError(JSON.parse(e.data).message); });
  }

  $("filters").addEventListener("submit", function (e) { e.preventDefault(); loadFindings(false); });
  $("filters").addEventListener("change", function () { loadFindings(false); });
  $("filter-reset").addEventListener("click", function () { setTimeout(function () { loadFindings(false); }, 0); });
  $("more").addEventListener("click", function () { loadFindings(true); });
  api("/api/v1/whoami").then(function (w) { role = w.role || "read"; }).catch(function () {})
    .then(loadSummary).then(function () { return loadFindings(false); }).then(listen);
})();
`;
