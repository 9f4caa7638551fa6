// The eventbus debug page: follows the live updates (server-sent events
// from "live"), lists a topic's events, shows an event's causal trace and
// republishes dead letters when actions are enabled. Every URL is relative,
// so the page works wherever it is mounted. Data goes into the page through
// textContent only: payloads are never parsed as HTML.
"use strict";

(function () {
  const state = { selectedTopic: null, selectedEvent: null, published: {}, events: {}, actions: false };

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null) continue;
      if (k === "class") e.className = v;
      else if (k.startsWith("data-")) e.setAttribute(k, v);
      else e[k] = v;
    }
    for (const c of children) {
      if (c === null || c === undefined) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  function rate(v) { return v.toFixed(1) + "/s"; }
  function dur(ms) {
    if (!ms) return "–";
    if (ms < 1) return (ms * 1000).toFixed(0) + "µs";
    if (ms < 1000) return ms.toFixed(1) + "ms";
    return (ms / 1000).toFixed(2) + "s";
  }
  function clock(t) {
    const d = new Date(t);
    return isNaN(d) ? "" : d.toISOString().slice(11, 23);
  }
  function short(id) { return id ? id.slice(0, 8) + "…" + id.slice(-4) : ""; }
  function fill(tbody, rows) { tbody.replaceChildren(...rows); }

  function render(s) {
    state.actions = s.actions;
    document.body.dataset.actions = String(s.actions);
    const b = s.bus;
    document.getElementById("bus-summary").textContent =
      `${b.published} published on ${b.topics} topics, ${b.subscriptions} subscriptions` +
      (b.transport ? `, transport ${b.transport}` : "");

    fill(document.querySelector("#topics tbody"), s.topics.map((t) => el("tr", { class: "topic" + (t.name === state.selectedTopic ? " selected" : ""), "data-topic": t.name },
      el("td", { class: "topic-name" }, el("a", { class: "topic-link", "data-topic": t.name, href: "#topic=" + encodeURIComponent(t.name) }, t.name)),
      el("td", { class: "payload-type" }, t.payloadType),
      el("td", { class: "published" }, t.published),
      el("td", { class: "publish-rate" }, rate(t.publishRate)),
      el("td", { class: "retention" }, t.retentionMaxEvents ? `${t.retained} of ${t.retentionMaxEvents}` : "none"),
      el("td", { class: "subscribers" }, ...t.subscribers.flatMap((n) => [el("span", { class: "subscriber", "data-subscriber": n }, n), " "])))));

    fill(document.querySelector("#patterns tbody"), s.patterns.map((p) => el("tr", { class: "pattern", "data-pattern": p.pattern, "data-subscriber": p.subscriber },
      el("td", {}, p.pattern), el("td", {}, p.subscriber),
      el("td", {}, ...p.topics.flatMap((t) => [el("span", { class: "topic-ref" }, t), " "])))));

    fill(document.querySelector("#subscriptions tbody"), s.subscriptions.map((x) => el("tr", { class: "subscription" + (x.oldestQueuedMs > 1000 ? " stuck" : ""), "data-topic": x.topic, "data-subscriber": x.subscriber, "data-pattern": x.pattern || "" },
      el("td", {}, x.topic),
      el("td", {}, x.subscriber, x.pattern ? " " : null, x.pattern ? el("span", { class: "pattern-tag" }, x.pattern) : null),
      el("td", { class: "queue" }, `${x.queueLength} / ${x.capacity}`),
      el("td", { class: "in-flight" }, x.inFlight),
      el("td", { class: "oldest" }, dur(x.oldestQueuedMs)),
      el("td", { class: "rate-in" }, rate(x.enqueueRate)),
      el("td", { class: "rate-out" }, rate(x.deliverRate)),
      el("td", { class: "delivered" }, x.delivered),
      el("td", { class: "failed" }, x.failed),
      el("td", { class: "retried" }, x.retried),
      el("td", { class: "dead-lettered" }, x.deadLettered),
      el("td", { class: "dropped", title: x.droppedBy }, x.dropped))));

    const count = document.getElementById("recorder-count");
    if (count) count.textContent = s.recorder.events;
    fill(document.querySelector("#recent tbody"), s.recent.map((e) => el("tr", { class: "event" + (e.id === state.selectedEvent ? " selected" : ""), "data-event-id": e.id, "data-topic": e.topic },
      el("td", {}, clock(e.time)), el("td", {}, e.topic), el("td", {}, e.sequence),
      el("td", { class: "event-id" }, short(e.id)), el("td", {}, e.publishedBy || ""), el("td", {}, e.handlings))));

    fill(document.querySelector("#deadletters tbody"), s.deadLetters.map((d) => el("tr", { class: "deadletter", "data-event-id": d.event.envelope.id, "data-failed-id": d.failed.id },
      el("td", {}, clock(d.failedAt)), el("td", {}, d.failed.topic), el("td", {}, d.subscriber), el("td", {}, d.attempts),
      el("td", { class: "error" }, d.error),
      el("td", { class: "event-id" }, el("a", { class: "event-link", "data-event-id": d.failed.id, href: "#" }, short(d.failed.id))),
      el("td", {}, s.actions ? el("button", { type: "button", class: "republish", "data-event-id": d.event.envelope.id }, d.republished ? `Republish (${d.republished.length} done)` : "Republish") : ""))));

    // Follow the selected topic: reload its events when it got new ones.
    for (const t of s.topics) {
      const seen = state.published[t.name];
      state.published[t.name] = t.published;
      if (t.name === state.selectedTopic && seen !== undefined && seen !== t.published) loadTopic(t.name);
    }
  }

  async function getJSON(url) {
    const r = await fetch(url, { headers: { Accept: "application/json" } });
    const body = await r.json();
    if (!r.ok) throw new Error(body.error || r.statusText);
    return body;
  }

  async function loadTopic(name) {
    state.selectedTopic = name;
    document.getElementById("events-topic").textContent = name;
    for (const row of document.querySelectorAll("#topics tr.topic")) row.classList.toggle("selected", row.dataset.topic === name);
    const note = document.getElementById("events-note");
    try {
      const te = await getJSON("api/topics/" + encodeURIComponent(name) + "/events");
      if (state.selectedTopic !== name) return;
      note.textContent = te.retains ? "Retained events, newest first." : "The topic keeps no events: these are the recorder's, newest first.";
      fill(document.getElementById("topic-events"), te.events.map((e) => {
        state.events[e.envelope.id] = e;
        return el("li", { class: "event" + (e.envelope.id === state.selectedEvent ? " selected" : ""), "data-event-id": e.envelope.id, "data-topic": e.envelope.topic },
          el("span", { class: "seq" }, "#" + e.envelope.sequence), " ",
          el("span", { class: "time" }, clock(e.envelope.time)), " ",
          el("code", { class: "payload" }, JSON.stringify(e.payload)));
      }));
    } catch (err) {
      note.textContent = String(err.message || err);
    }
  }

  function handlingList(hs) {
    return el("ul", { class: "trace-handlings" }, ...hs.map((h) => el("li", { class: "handling outcome-" + h.outcome, "data-subscriber": h.subscriber, "data-outcome": h.outcome },
      `${h.subscriber}: ${h.outcome} in ${dur(h.durationMs)}, ${h.attempts} attempt${h.attempts === 1 ? "" : "s"}`,
      h.error ? el("span", { class: "error" }, " — " + h.error) : null)));
  }

  function eventLine(e, focus) {
    const env = e.envelope;
    return el("div", { class: "trace-event" + (focus ? " focus" : "") },
      el("a", { class: "event-link", "data-event-id": env.id, href: "#" }, `${env.topic} #${env.sequence}`), " ",
      el("span", { class: "event-id" }, short(env.id)),
      e.publishedBy ? el("span", { class: "published-by" }, " published by " + e.publishedBy) : null);
  }

  function traceNode(n, focus) {
    return el("li", { class: "trace-node", "data-event-id": n.event.envelope.id, "data-topic": n.event.envelope.topic },
      eventLine(n.event, focus), handlingList(n.event.handlings),
      n.children.length ? el("ul", { class: "trace-tree" }, ...n.children.map((c) => traceNode(c, false))) : null);
  }

  async function showEvent(id) {
    state.selectedEvent = id;
    for (const row of document.querySelectorAll(".event")) row.classList.toggle("selected", row.dataset.eventId === id);
    const box = document.getElementById("trace");
    const json = document.getElementById("event-json");
    try {
      const tr = await getJSON("api/events/" + encodeURIComponent(id) + "/trace");
      const parts = [];
      if (tr.missingCause) parts.push(el("p", { class: "note" }, "Caused by " + tr.missingCause + ", not recorded."));
      if (tr.ancestors.length) {
        parts.push(el("h3", {}, "Caused by"));
        parts.push(el("ol", { id: "trace-ancestors" }, ...tr.ancestors.map((a) => el("li", { class: "trace-ancestor", "data-event-id": a.envelope.id }, eventLine(a, false), handlingList(a.handlings)))));
      }
      parts.push(el("h3", {}, "The event and what it caused"));
      parts.push(el("ul", { class: "trace-tree", id: "trace-root" }, traceNode(tr.tree, true)));
      if (tr.correlated.length) {
        parts.push(el("h3", {}, "Same correlation ID"));
        parts.push(el("ul", { id: "trace-correlated" }, ...tr.correlated.map((c) => el("li", { class: "trace-correlated", "data-event-id": c.envelope.id }, eventLine(c, false)))));
      }
      box.replaceChildren(...parts);
      json.textContent = JSON.stringify(tr.tree.event, null, 2);
    } catch (err) {
      box.replaceChildren(el("p", { class: "note" }, "No trace: " + (err.message || err)));
      json.textContent = state.events[id] ? JSON.stringify(state.events[id], null, 2) : "";
    }
  }

  async function republish(id, button) {
    const result = document.getElementById("action-result");
    button.disabled = true;
    try {
      const r = await fetch("actions/republish", { method: "POST", body: new URLSearchParams({ id }) });
      const body = await r.json();
      result.textContent = r.ok ? `Republished on ${body.topic}.` : body.error;
    } catch (err) {
      result.textContent = String(err.message || err);
    } finally {
      button.disabled = false;
    }
  }

  document.addEventListener("click", (ev) => {
    const t = ev.target;
    const topic = t.closest(".topic-link");
    if (topic) { ev.preventDefault(); loadTopic(topic.dataset.topic).then(remember); return; }
    const button = t.closest("button.republish");
    if (button) { republish(button.dataset.eventId, button); return; }
    const item = t.closest(".event-link, .event, .trace-ancestor, .trace-correlated");
    if (item && item.dataset.eventId) { ev.preventDefault(); showEvent(item.dataset.eventId).then(remember); }
  });

  function connect() {
    const status = document.getElementById("live-status");
    const source = new EventSource("live");
    source.addEventListener("state", (ev) => {
      status.textContent = "live";
      status.dataset.state = "live";
      render(JSON.parse(ev.data));
    });
    source.addEventListener("error", () => {
      status.textContent = "reconnecting…";
      status.dataset.state = "reconnecting";
    });
  }

  // The hash keeps the selection, so that a link opens the page on it:
  // #topic=message.sent&event=<id>.
  function remember() {
    const p = new URLSearchParams();
    if (state.selectedTopic) p.set("topic", state.selectedTopic);
    if (state.selectedEvent) p.set("event", state.selectedEvent);
    history.replaceState(null, "", "#" + p.toString());
  }

  const initial = new URLSearchParams(location.hash.slice(1));
  if (initial.get("topic")) loadTopic(initial.get("topic"));
  if (initial.get("event")) showEvent(initial.get("event"));
  connect();
})();
