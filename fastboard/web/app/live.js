// The live connection (/api/live, README "Live updates"): one WebSocket per tab, shared by
// every part of the page that listens. It signs in with the `auth` message (never the
// URL), re-subscribes after a reconnect with the last event id it saw, so nothing is
// missed or seen twice, and reconnects by itself with a growing, jittered delay.
import { session } from "./session.js";

const handlers = new Map(); // topic -> Set<(event) => void>
const resyncHandlers = new Map(); // topic -> Set<() => void>
const stateListeners = new Set();
let socket = null;
let lastId = null;
let attempt = 0;
let timer = null;
let state = "closed"; // "connecting" | "open" | "closed"

function setState(next) {
  state = next;
  for (const fn of stateListeners) fn(next);
}

function send(message) {
  if (socket?.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
}

function connect() {
  clearTimeout(timer);
  if (socket && socket.readyState <= WebSocket.OPEN) return;
  setState("connecting");
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/api/live`);
  socket = ws;
  ws.addEventListener("open", () => {
    attempt = 0;
    setState("open");
    ws.token = session.token;
    if (session.token) send({ type: "auth", token: session.token });
    const topics = [...handlers.keys()].filter((topic) => topic !== "me" || session.token);
    if (topics.length) send({ type: "subscribe", topics, since: lastId ?? undefined });
  });
  ws.addEventListener("message", (message) => {
    let data;
    try {
      data = JSON.parse(message.data);
    } catch {
      return;
    }
    if (data.type === "event") {
      if (lastId !== null && data.id <= lastId) return; // already seen (replayed twice)
      lastId = data.id;
      for (const fn of handlers.get(data.topic) ?? []) fn(data);
    } else if (data.type === "resync") {
      for (const fn of resyncHandlers.get(data.topic) ?? []) fn();
    }
  });
  ws.addEventListener("close", (event) => {
    if (socket !== ws) return;
    socket = null;
    setState("closed");
    if (event.code === 4401) {
      // The token is no longer good (password changed, account deleted): sign out, unless
      // this tab is the one that changed the password and now holds the new token.
      Promise.resolve(session.renewing)
        .catch(() => {})
        .then(() => {
          if (session.token === ws.token) session.clear();
          if (!socket && handlers.size) connect();
        });
      return;
    }
    if (event.code === 4403 || handlers.size === 0) return;
    // 1012 (restart), 1013 (Redis down), 4408 (too slow), network loss: come back.
    const delay = Math.min(30000, 500 * 2 ** attempt) * (0.5 + Math.random() / 2);
    attempt += 1;
    timer = setTimeout(connect, delay);
  });
}

/**
 * Listen to a topic: onEvent(event) for each event, onResync() when events were missed
 * and the page should refetch. Returns the function that stops listening.
 */
export function listen(topic, onEvent, onResync) {
  const first = !handlers.has(topic);
  if (first) handlers.set(topic, new Set());
  handlers.get(topic).add(onEvent);
  if (onResync) {
    if (!resyncHandlers.has(topic)) resyncHandlers.set(topic, new Set());
    resyncHandlers.get(topic).add(onResync);
  }
  if (!socket) connect();
  else if (first) send({ type: "subscribe", topics: [topic] });
  return () => {
    const set = handlers.get(topic);
    set?.delete(onEvent);
    resyncHandlers.get(topic)?.delete(onResync);
    if (set && set.size === 0) {
      handlers.delete(topic);
      send({ type: "unsubscribe", topics: [topic] });
    }
  };
}

/** fn(state) whenever the connection opens or closes; returns the unsubscribe. */
export function onState(fn) {
  stateListeners.add(fn);
  fn(state);
  return () => stateListeners.delete(fn);
}

// Signing in or out changes what this connection may hear: start again.
session.subscribe(() => {
  if (!socket) return;
  const ws = socket;
  socket = null;
  ws.close(1000);
  if (handlers.size) connect();
});
