// Test doubles: a Backbone-like widget model, anywidget's per-context proxy, and WebRTC pieces.
import type { AnyModel } from "@anywidget/types";
import type { CallOptions } from "../src/call";
import type { CallLike } from "../src/controller";
import { UserFacingError } from "../src/errors";
import type { WidgetTraits } from "../src/model";

type Handler = (...args: unknown[]) => void;

/** Enough of ipywidgets' WidgetModel: attributes, change events, custom messages. */
export class FakeModel {
  attributes: Record<string, unknown>;
  readonly sent: unknown[] = [];
  saves = 0;
  /** rt:events batches acknowledged by ackAll, counted from the first. */
  private batchesAcked = 0;
  private readonly handlers: { name: string; callback: Handler; context: unknown }[] = [];

  constructor(traits: Partial<WidgetTraits> = {}) {
    this.attributes = {
      state: "idle",
      error: "",
      muted: false,
      signaling: "client_secret",
      backend: "emulator",
      backend_url: "http://127.0.0.1:8123/v1",
      ...traits,
    };
  }

  get(key: string): unknown {
    return this.attributes[key];
  }

  /** Like Backbone: returns the model. */
  set(key: string | Record<string, unknown>, value?: unknown): this {
    const changes = typeof key === "string" ? { [key]: value } : key;
    for (const [name, v] of Object.entries(changes)) {
      if (this.attributes[name] === v) continue;
      this.attributes[name] = v;
      this.trigger(`change:${name}`, this, v);
    }
    return this;
  }

  on(name: string, callback: Handler, context?: unknown): void {
    this.handlers.push({ name, callback, context });
  }

  off(name?: string | null, callback?: Handler | null, context?: unknown): void {
    for (let i = this.handlers.length - 1; i >= 0; i--) {
      const h = this.handlers[i]!;
      if ((name == null || h.name === name) && (callback == null || h.callback === callback) && (context === undefined || h.context === context)) {
        this.handlers.splice(i, 1);
      }
    }
  }

  save_changes(): void {
    this.saves += 1;
  }

  send(message: unknown): void {
    this.sent.push(message);
  }

  trigger(name: string, ...args: unknown[]): void {
    for (const h of [...this.handlers]) if (h.name === name) h.callback(...args);
  }

  /** A custom message from the kernel. */
  fromKernel(message: unknown): void {
    this.trigger("msg:custom", message, []);
  }

  get listenerCount(): number {
    return this.handlers.length;
  }

  /** Records sent to the kernel so far, acking every batch as it arrives. */
  records(): { source: string; event: Record<string, unknown> }[] {
    const out: { source: string; event: Record<string, unknown> }[] = [];
    for (const message of this.sent as { kind: string; batch?: number; records?: [] }[]) {
      if (message.kind === "rt:events") out.push(...(message.records ?? []));
    }
    return out;
  }

  /** Acks every batch sent so far, oldest first as the kernel does, until the pipe is idle. */
  ackAll(): void {
    for (;;) {
      const batches = (this.sent as { kind: string; batch: number }[]).filter((m) => m.kind === "rt:events");
      const next = batches[this.batchesAcked];
      if (!next) return;
      this.batchesAcked += 1;
      this.fromKernel({ kind: "rt:ack", batch: next.batch });
    }
  }
}

/** What anywidget 0.11 passes to initialize and render: a fresh proxy per context. */
export function modelProxy(model: FakeModel, context: unknown): AnyModel<WidgetTraits> {
  return {
    get: model.get.bind(model),
    set: model.set.bind(model),
    save_changes: model.save_changes.bind(model),
    send: model.send.bind(model),
    on: (name: string, callback: Handler) => model.on(name, callback, context),
    off: (name?: string | null, callback?: Handler | null) => model.off(name, callback, context),
    widget_manager: {} as never,
  } as unknown as AnyModel<WidgetTraits>;
}

export class FakeTrack {
  enabled = true;
  stopped = false;
  readonly kind = "audio";
  stop(): void {
    this.stopped = true;
  }
}

export class FakeStream {
  readonly tracks = [new FakeTrack()];
  getTracks(): FakeTrack[] {
    return this.tracks;
  }
  getAudioTracks(): FakeTrack[] {
    return this.tracks;
  }
}

export class FakeChannel extends EventTarget {
  readyState: RTCDataChannelState = "connecting";
  binaryType = "blob";
  readonly sent: string[] = [];
  constructor(readonly label: string) {
    super();
  }
  send(text: string): void {
    this.sent.push(text);
  }
  close(): void {
    this.readyState = "closed";
  }
  /** The peer side: open the channel. */
  open(): void {
    this.readyState = "open";
    this.dispatchEvent(new Event("open"));
  }
  receive(data: unknown): void {
    this.dispatchEvent(new MessageEvent("message", { data }));
  }
  /** The peer closes the channel. */
  peerClose(): void {
    this.readyState = "closed";
    this.dispatchEvent(new Event("close"));
  }
}

export class FakePeerConnection extends EventTarget {
  iceGatheringState: RTCIceGatheringState = "complete";
  iceConnectionState: RTCIceConnectionState = "new";
  connectionState: RTCPeerConnectionState = "new";
  localDescription: { type: string; sdp: string } | null = null;
  remoteDescription: { type: string; sdp: string } | null = null;
  readonly channels: FakeChannel[] = [];
  readonly tracks: unknown[] = [];
  readonly transceivers: { kind: string; direction: string }[] = [];
  closed = false;
  sctp = { maxMessageSize: 262144 };

  addTrack(track: unknown): { replaceTrack: (t: unknown) => Promise<void> } {
    this.tracks.push(track);
    return { replaceTrack: async (t) => void this.tracks.push(t) };
  }
  /** An audio transceiver without a track; its sender's replaceTrack adds one to `tracks`. */
  addTransceiver(kind: string, init?: { direction?: string }): { sender: { replaceTrack: (t: unknown) => Promise<void> } } {
    this.transceivers.push({ kind, direction: init?.direction ?? "sendrecv" });
    return { sender: { replaceTrack: async (t) => void this.tracks.push(t) } };
  }
  createDataChannel(label: string): FakeChannel {
    const channel = new FakeChannel(label);
    this.channels.push(channel);
    return channel;
  }
  async createOffer(): Promise<{ type: string; sdp: string }> {
    return { type: "offer", sdp: "v=0\r\no=offer\r\n" };
  }
  async setLocalDescription(description: { type: string; sdp: string }): Promise<void> {
    this.localDescription = { ...description, sdp: `${description.sdp}a=candidate:host\r\n` };
  }
  async setRemoteDescription(description: { type: string; sdp: string }): Promise<void> {
    this.remoteDescription = description;
  }
  async getStats(): Promise<Map<string, Record<string, unknown>>> {
    return new Map([["c", { type: "candidate-pair", nominated: true, state: "succeeded", currentRoundTripTime: 0.004 }]]);
  }
  close(): void {
    this.closed = true;
  }
  setIce(state: RTCIceConnectionState): void {
    this.iceConnectionState = state;
    this.dispatchEvent(new Event("iceconnectionstatechange"));
  }
  setConnection(state: RTCPeerConnectionState): void {
    this.connectionState = state;
    this.dispatchEvent(new Event("connectionstatechange"));
  }
}

export const ANSWER_SDP = "v=0\r\no=answer\r\n";

/** Resolves after pending promise callbacks have run. */
export async function settle(rounds = 10): Promise<void> {
  for (let i = 0; i < rounds; i++) await Promise.resolve();
  await new Promise((resolve) => setTimeout(resolve, 0));
}

/** A call whose network side the test plays: open(), end(), and the hooks in `options`. */
export class FakeCall implements CallLike {
  id: string | null = null;
  isOpen = false;
  isFinished = false;
  maxMessageBytes = 262144;
  muted: boolean;
  readonly sent: string[] = [];
  started = false;

  constructor(readonly options: CallOptions) {
    this.muted = options.muted;
  }
  async start(): Promise<void> {
    this.started = true;
  }
  hangUp(reason: string): void {
    this.end({ state: "closed", reason, error: null });
  }
  send(text: string): void {
    if (!this.isOpen) throw new UserFacingError("not_connected", "no call");
    this.sent.push(text);
  }
  setMuted(muted: boolean): void {
    this.muted = muted;
  }
  async switchMicrophone(): Promise<void> {}

  open(): void {
    this.id = "rtc_1";
    this.isOpen = true;
    this.options.hooks.phase("channel_open");
    this.options.hooks.connected();
  }
  end(end: { state: "closed" | "failed"; reason: string; error: UserFacingError | null }): void {
    if (this.isFinished) return;
    this.isFinished = true;
    this.isOpen = false;
    this.options.hooks.phase("closed", { reason: end.reason });
    this.options.hooks.ended(end);
  }
}
