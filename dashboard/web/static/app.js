// jetq dashboard: refreshes the overview and the workers page every 2 s,
// draws the overview's chart of the server's history, and asks before a
// delete.
"use strict";
(function () {
  const base = document.body.dataset.base || "";
  const page = document.body.dataset.page;
  const every = 2000;

  // age writes a duration in nanoseconds as the server does: 42s, 3m12s, 5h3m, 2d4h.
  function age(ns) {
    const s = Math.floor(ns / 1e9);
    if (s <= 0) return "-";
    if (s < 60) return s + "s";
    if (s < 3600) return Math.floor(s / 60) + "m" + (s % 60) + "s";
    if (s < 48 * 3600) return Math.floor(s / 3600) + "h" + Math.floor((s % 3600) / 60) + "m";
    return Math.floor(s / 86400) + "d" + Math.floor((s % 86400) / 3600) + "h";
  }
  // wait writes a wait in nanoseconds as the server does, to two digits:
  // 420µs, 4.2ms, 120ms, 1.4s, 42s, then as age.
  function wait(ns) {
    const two = (v, unit) => (v < 10 ? v.toFixed(1) : Math.floor(v)) + unit;
    if (ns <= 0) return "-";
    if (ns < 1e6) return Math.floor(ns / 1e3) + "µs";
    if (ns < 1e9) return two(ns / 1e6, "ms");
    if (ns < 60e9) return two(ns / 1e9, "s");
    return age(ns);
  }
  // seen writes how long ago a worker last wrote, ms milliseconds, as the
  // server does: "just now" under a second, else "42s ago".
  function seen(ms) {
    if (ms < 1000) return "just now";
    return age(ms * 1e6) + " ago";
  }
  function when(t) {
    if (!t || t.startsWith("0001-")) return "-";
    return new Date(t).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
  }
  function cell(tr, text, field) {
    const td = tr.insertCell();
    td.textContent = text;
    if (field) td.dataset.f = field;
    return td;
  }
  function empty(tbody, cols, text) {
    const tr = tbody.insertRow();
    tr.className = "empty";
    const td = cell(tr, text);
    td.colSpan = cols;
  }
  function setText(id, v) {
    const el = document.getElementById(id);
    if (el) el.textContent = v;
  }

  function showOverview(o) {
    setText("total-pending", o.totals.pending);
    setText("total-inflight", o.totals.in_flight);
    setText("total-dlq", o.totals.dead_lettered);
    setText("total-workers", o.workers);
    setText("updated", when(o.at));
    const tbody = document.querySelector("#queues tbody");
    tbody.replaceChildren();
    const latency = new Map((o.history.types || []).map((t) => [t.queue + "/" + t.task, t]));
    if (o.queues.length === 0) empty(tbody, 15, "No task types yet: nothing was enqueued with this prefix.");
    for (const q of o.queues) {
      const tr = tbody.insertRow();
      tr.dataset.key = q.queue + "/" + q.task;
      if (q.workers === 0 && q.pending > 0) Object.assign(tr, { className: "stalled", title: "pending work and no live worker" });
      cell(tr, q.queue);
      cell(tr, q.task);
      for (const f of ["pending", "running", "held", "waiting_to_retry", "in_flight", "redelivered"]) cell(tr, q[f], f);
      const dl = cell(tr, "", "dead_lettered");
      if (q.dead_lettered > 0) {
        const a = document.createElement("a");
        a.href = base + "/dlq?" + new URLSearchParams({ queue: q.queue, task: q.task });
        a.textContent = q.dead_lettered;
        dl.append(a);
      } else dl.textContent = "0";
      cell(tr, q.scheduled, "scheduled");
      cell(tr, age(q.oldest_pending_age), "oldest_pending_age");
      const l = latency.get(q.queue + "/" + q.task) || {};
      cell(tr, wait(l.wait_p50 || 0), "wait_p50");
      cell(tr, wait(l.wait_p99 || 0), "wait_p99");
      cell(tr, q.workers, "workers");
      cell(tr, q.paused ? (q.paused_until ? "until " + when(q.paused_until) : "yes") : "-", "paused");
    }
    showLimits(o.limits || []);
    setText("limits-note", o.limits_note || "");
    setText("history-note", o.history_note || "");
    drawChart(o.history, new Date(o.at).getTime());
  }

  // rate writes a rate limit as the server does: 50/1s, 3/1h0m0s.
  function rate(r) {
    let s = Math.round(r.per / 1e6) / 1e3; // seconds, to the ms
    let out = "";
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    if (h > 0) out = h + "h" + m + "m" + Math.round(s % 60) + "s";
    else if (m > 0) out = m + "m" + Math.round(s % 60) + "s";
    else out = s < 1 ? Math.round(s * 1000) + "ms" : s + "s";
    return r.n + "/" + out;
  }
  // keyText writes a key's count as the server does: acme=2, "big co"=1.
  function keyText(k) {
    const quote = k.key === "" || /[\s="`]/.test(k.key) || /[^\x20-\x7e\u00a0-\uffff]/.test(k.key);
    return (quote ? JSON.stringify(k.key) : k.key) + "=" + k.count;
  }
  function showLimits(ls) {
    const tbody = document.querySelector("#limit-table tbody");
    if (!tbody) return;
    tbody.replaceChildren();
    if (ls.length === 0) empty(tbody, 8, "No live worker serves a task type with a rate limit or a concurrency per key.");
    const until = (t) => "ends in " + age((new Date(t).getTime() - serverNow()) * 1e6);
    const top = (ks) => (ks && ks.length ? ks.map(keyText).join(" ") : "-");
    const row = (l, kind, cells) => {
      const tr = tbody.insertRow();
      tr.dataset.key = l.queue + "/" + l.task + "/" + kind;
      cell(tr, l.queue);
      cell(tr, l.task);
      for (const [f, v] of cells) cell(tr, v, f);
    };
    for (const l of ls) {
      if (l.rate) row(l, "rate", [["limit", rate(l.rate.limit)], ["used", l.rate.used + " started"], ["waiting", l.rate.waiting],
        ["window", until(l.rate.window_end)], ["keys", "-"], ["top", "-"]]);
      const kr = l.key_rate;
      if (kr) row(l, "key_rate", [["limit", rate(kr.limit) + " a key"], ["used", kr.used + " started"], ["waiting", kr.waiting],
        ["window", until(kr.window_end)], ["keys", kr.keys + (kr.partial ? "+" : "")], ["top", top(kr.top)]]);
      const kc = l.key_concurrency;
      if (kc) row(l, "key_concurrency", [["limit", kc.limit + " running a key"], ["used", kc.running + " running"], ["waiting", "-"],
        ["window", "-"], ["keys", kc.keys + (kc.partial ? "+" : "")], ["top", top(kc.top)]]);
    }
  }

  // drawChart draws the history h, a point a step, as tasks per minute over
  // its window up to now.
  function drawChart(h, now) {
    const c = document.getElementById("chart");
    if (!c) return;
    const points = h.points || [];
    const perMinute = h.step > 0 ? 60e9 / h.step : 1;
    c.dataset.points = points.length;
    c.dataset.succeeded = points.reduce((n, p) => n + p.succeeded, 0);
    const g = c.getContext("2d");
    const w = c.width, ht = c.height, pad = 28;
    g.clearRect(0, 0, w, ht);
    const span = (h.window || 3600e9) / 1e6;
    const series = [["enqueued", "#15803d"], ["succeeded", "#2563eb"], ["failed", "#c2410c"], ["dead_lettered", "#7c3aed"]];
    let top = 1;
    for (const p of points) for (const [f] of series) top = Math.max(top, p[f] * perMinute);
    g.strokeStyle = "#e3e6ea";
    g.fillStyle = "#6b7480";
    g.font = "11px system-ui, sans-serif";
    for (let i = 0; i <= 2; i++) {
      const y = ht - pad - ((ht - 2 * pad) * i) / 2;
      g.beginPath(); g.moveTo(pad, y); g.lineTo(w - 4, y); g.stroke();
      g.fillText(((top * i) / 2).toFixed(top < 10 ? 1 : 0), 2, y - 2);
    }
    g.fillText("-" + Math.round(span / 60000) + "m", pad, ht - 8);
    g.fillText("now", w - 28, ht - 8);
    const x = (t) => pad + ((w - pad - 4) * (1 - (now - new Date(t).getTime()) / span));
    const y = (v) => ht - pad - ((ht - 2 * pad) * v * perMinute) / top;
    for (const [field, color] of series) {
      g.strokeStyle = color;
      g.lineWidth = 2;
      g.beginPath();
      points.forEach((p, i) => (i ? g.lineTo(x(p.at), y(p[field])) : g.moveTo(x(p.at), y(p[field]))));
      g.stroke();
      g.fillStyle = color;
      for (const p of points) g.fillRect(x(p.at) - 2, y(p[field]) - 2, 4, 4);
    }
    const last = points[points.length - 1];
    const fmt = (v) => {
      const m = v * perMinute;
      return Number.isInteger(m) ? String(m) : m.toFixed(m < 10 ? 1 : 0);
    };
    setText("rates", last ? "at " + when(last.at) + ": " + fmt(last.enqueued) + " enqueued, " + fmt(last.succeeded) + " succeeded, " +
      fmt(last.failed) + " failed, " + fmt(last.dead_lettered) + " dead-lettered a minute" : "");
  }

  function showWorkers(ws) {
    const tbody = document.querySelector("#workers tbody");
    tbody.replaceChildren();
    if (ws.length === 0) empty(tbody, 10, "No live workers.");
    for (const w of ws) {
      const tr = tbody.insertRow();
      tr.dataset.id = w.id;
      cell(tr, w.id);
      cell(tr, w.host);
      cell(tr, w.pid);
      cell(tr, (w.tasks || []).map((t) => t.queue + "/" + t.task).join(", "));
      cell(tr, w.concurrency);
      cell(tr, w.in_flight);
      cell(tr, w.succeeded);
      cell(tr, w.failed);
      cell(tr, when(w.started_at));
      cell(tr, w.last_seen && !w.last_seen.startsWith("0001-") ? seen(serverNow() - new Date(w.last_seen).getTime()) : "-", "last_seen");
    }
  }

  // serverNow is the server's clock as of its last answer, so that ages
  // do not depend on the browser's: to the millisecond from its
  // X-Jetq-Time header (the Date header has whole seconds only, which
  // made a worker seen a moment ago look seen in the future).
  let skew = 0;
  const serverNow = () => Date.now() + skew;

  // poll refreshes the page from path now (the chart is drawn only here)
  // and every 2 s while the page is visible.
  function poll(path, show) {
    const tick = () => {
      if (document.hidden) {
        setTimeout(tick, every);
        return;
      }
      fetch(base + path, { headers: { Accept: "application/json" } })
        .then((r) => {
          const ms = Number(r.headers.get("X-Jetq-Time") || NaN);
          const date = isNaN(ms) ? Date.parse(r.headers.get("Date")) : ms;
          if (!isNaN(date)) skew = date - Date.now();
          return r.ok ? r.json() : Promise.reject(r.status);
        })
        .then(show)
        .catch(() => {})
        .finally(() => setTimeout(tick, every));
    };
    tick();
  }

  if (page === "overview") poll("/api/overview", showOverview);
  if (page === "workers") poll("/api/workers", showWorkers);

  for (const f of document.querySelectorAll("form[data-confirm]")) {
    f.addEventListener("submit", (e) => {
      if (!confirm(f.dataset.confirm)) e.preventDefault();
    });
  }
})();
