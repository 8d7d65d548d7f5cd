// The demo page: drives the emulators' control API and shows both sides.
"use strict";

const $ = (id) => document.getElementById(id);
const sentByCustomer = []; // what the customer typed, kept in the page only

async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: body ? { "Content-Type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  if (!res.ok) throw new Error(method + " " + path + ": " + res.status);
  const text = await res.text();
  return text ? JSON.parse(text) : null;
}

// linkify appends text to el, turning http(s) URLs (secure links) into
// anchors that open in a new tab. Built with DOM nodes, never innerHTML.
function linkify(el, text) {
  const re = /https?:\/\/[^\s]+/g;
  let last = 0;
  for (const m of text.matchAll(re)) {
    el.appendChild(document.createTextNode(text.slice(last, m.index)));
    const a = document.createElement("a");
    a.href = m[0];
    a.textContent = m[0];
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    el.appendChild(a);
    last = m.index + m[0].length;
  }
  el.appendChild(document.createTextNode(text.slice(last)));
}

// replyButtons returns the reply buttons of an interactive message sent to
// the customer (whatsapp.md §2.2), as {id, title}.
function replyButtons(m) {
  try {
    const b = m.interactive && m.interactive.action && m.interactive.action.buttons;
    return Array.isArray(b) ? b.map((x) => x.reply).filter((r) => r && r.id) : [];
  } catch (e) {
    return [];
  }
}

async function tap(reply) {
  const from = $("wa-from").value.trim();
  await api("POST", "/emulator/whatsapp/customer-messages", { from, name: $("wa-name").value, button_reply: reply });
  sentByCustomer.push({ from, text: "▸ " + reply.title, time: new Date().toISOString() });
  refresh();
}

function render(list, items) {
  list.replaceChildren(...items.map((it) => {
    const li = document.createElement("li");
    li.className = it.dir;
    linkify(li, it.text);
    for (const r of it.buttons || []) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "reply";
      b.textContent = r.title;
      b.addEventListener("click", () => tap(r));
      li.appendChild(b);
    }
    const small = document.createElement("small");
    small.textContent = it.meta;
    li.appendChild(small);
    return li;
  }));
  list.scrollTop = list.scrollHeight;
}

function when(t) {
  const d = new Date(t);
  return isNaN(d) ? "" : d.toLocaleTimeString();
}

const list = (r, key) => (r && Array.isArray(r[key]) ? r[key] : []);

async function refresh() {
  const customer = $("wa-from").value.trim();
  try {
    const sent = list(await api("GET", "/emulator/whatsapp/sent?to=" + encodeURIComponent(customer)), "messages");
    const phone = sentByCustomer.filter((m) => m.from === customer)
      .map((m) => ({ dir: "out", text: m.text, meta: when(m.time) + " · you", time: m.time }))
      .concat(sent.map((m) => ({ dir: "in", text: m.text || "(interactive message)", buttons: replyButtons(m), meta: when(m.time) + " · business", time: m.time })));
    phone.sort((a, b) => new Date(a.time) - new Date(b.time));
    render($("wa-log"), phone);
    const otps = (await api("GET", "/emulator/payments/otps")).otps || {};
    const codes = Object.entries(otps).map(([acct, code]) => acct + ": " + code).join(" · ");
    $("wa-sms").textContent = codes ? "Text message from the bank: code " + codes : "";

    const convs = list(await api("GET", "/emulator/genesys/conversations"), "conversations");
    const conv = convs.find((c) => c.customerId === customer && c.state === "connected") || convs.find((c) => c.customerId === customer);
    const convId = conv ? conv.conversationId : "";
    $("gc-conv").textContent = convId || "none yet";
    $("gc-form").dataset.conv = convId;
    if (!convId) { render($("gc-log"), []); return; }
    const q = "?conversationId=" + encodeURIComponent(convId);
    const received = list(await api("GET", "/emulator/genesys/received" + q), "messages");
    const mine = list(await api("GET", "/emulator/genesys/agent-messages" + q), "messages");
    const desk = received.map((m) => ({ dir: "in", text: m.text, meta: when(m.receivedAt) + " · " + (m.nickname || "customer"), seq: m.seq }))
      .concat(mine.map((m) => ({ dir: "out", text: m.text, meta: when(m.time) + " · you (agent)", seq: m.seq })));
    desk.sort((a, b) => a.seq - b.seq);
    render($("gc-log"), desk);
  } catch (e) {
    console.error(e);
  }
}

$("wa-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const text = $("wa-text").value;
  const from = $("wa-from").value.trim();
  await api("POST", "/emulator/whatsapp/customer-messages", { from, name: $("wa-name").value, text });
  sentByCustomer.push({ from, text, time: new Date().toISOString() });
  $("wa-text").value = "";
  refresh();
});

$("gc-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const conversationId = $("gc-form").dataset.conv;
  if (!conversationId) return;
  await api("POST", "/emulator/genesys/agent-messages", { conversationId, text: $("gc-text").value });
  $("gc-text").value = "";
  refresh();
});

for (const b of document.querySelectorAll("button.try")) {
  b.addEventListener("click", () => { $("gc-text").value = b.dataset.text; $("gc-text").focus(); });
}

for (const b of document.querySelectorAll("button.bot")) {
  b.addEventListener("click", async () => {
    const inputs = b.dataset.account ? { account_id: b.dataset.account } : {};
    try {
      await api("POST", "/demo/secure-sessions", { flow: b.dataset.flow, conversation: $("wa-from").value.trim(), inputs });
    } catch (e) {
      console.error(e);
    }
    refresh();
  });
}

refresh();
setInterval(refresh, 1000);
