// The live socket: subscribes to a simulation's topics and hands frames to handlers.
//
// Frames are JSON (typed arrays base64-encoded) so the page needs no MessagePack
// library. The socket reconnects with backoff and re-subscribes by itself, so a server
// restart or a network blip only freezes the picture for a moment.

import { auth } from "./api.js";

export class LiveSocket {
  constructor({ onFrame, onStatus }) {
    this.onFrame = onFrame; // (topic, frame) => void
    this.onStatus = onStatus; // (text, ok) => void
    this.topics = new Map(); // key -> {topic, agent_id}
    this.simId = null;
    this.nextId = 1;
    this.pending = new Map(); // message id -> {resolve, reject}
    this.backoff = 500;
    this.ws = null;
    this.closed = false;
  }

  connect(simId) {
    this.simId = simId;
    this.closed = false;
    this.open();
  }

  open() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}/ws`);
    this.ws = ws;
    ws.onopen = () => {
      this.backoff = 500;
      // a token goes in the first message, not the URL (URLs end up in logs)
      if (auth.token) this.send({ type: "auth", token: auth.token });
      for (const t of this.topics.values()) this.subscribeNow(t);
      this.onStatus("live", true);
    };
    ws.onmessage = (ev) => this.receive(JSON.parse(ev.data));
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.onStatus(`disconnected${ev.reason ? ": " + ev.reason : ""}`, false);
      for (const p of this.pending.values()) p.reject(new Error("socket closed"));
      this.pending.clear();
      if (!this.closed) {
        setTimeout(() => !this.closed && this.open(), this.backoff);
        this.backoff = Math.min(this.backoff * 2, 8000);
      }
    };
  }

  close() {
    this.closed = true;
    if (this.ws) this.ws.close();
    this.ws = null;
    this.topics.clear();
  }

  send(msg) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  /** Send a message with an id; resolves with the ack's result (rejects on ok:false). */
  request(msg) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.send({ ...msg, id });
    });
  }

  receive(msg) {
    if (msg.type === "frame") {
      this.onFrame(msg.topic, msg);
    } else if (msg.type === "ack" && this.pending.has(msg.id)) {
      const p = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      if (msg.ok) p.resolve(msg.result);
      else p.reject(new Error(`${msg.code}: ${msg.error}`));
    } else if (msg.type === "error") {
      console.warn("websocket error", msg);
    }
  }

  subscribeNow(t) {
    const msg = { type: "subscribe", topic: t.topic, sim_id: this.simId };
    if (t.agent_id !== undefined) msg.agent_id = t.agent_id;
    this.request(msg).catch((err) => console.warn("subscribe", t.topic, err.message));
  }

  subscribe(topic, agentId) {
    const t = agentId === undefined ? { topic } : { topic, agent_id: agentId };
    const key = agentId === undefined ? topic : `${topic}/${agentId}`;
    this.topics.set(key, t);
    this.subscribeNow(t);
  }

  unsubscribe(topic, agentId) {
    const key = agentId === undefined ? topic : `${topic}/${agentId}`;
    const t = this.topics.get(key);
    if (!t) return;
    this.topics.delete(key);
    const msg = { type: "unsubscribe", topic, sim_id: this.simId };
    if (agentId !== undefined) msg.agent_id = agentId;
    this.request(msg).catch(() => {});
  }
}
