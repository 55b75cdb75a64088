// Everything the widget model owns, once per model however many views show it: the current call,
// the event pipe to the kernel, the remote audio, the level meters, the transcript, push-to-talk.
// Views (panel.ts) read from it and call its actions; the kernel drives it with custom messages.
import { Call, type CallEnd, type CallHooks, type CallOptions } from "./call";
import { encodeClientEvent } from "./channel";
import { browserNow } from "./clock";
import type { Invoke } from "./commands";
import { UserFacingError, asUserFacing, isRecord } from "./errors";
import { withEventId } from "./ids";
import { listMicrophones, type Microphone } from "./media";
import { LevelMeter } from "./meters";
import type { Model, PanelTraits, WidgetTraits } from "./model";
import { EventPipe } from "./pipe";
import { MicPermission, PeerPrewarm } from "./prewarm";
import { SecretPrefetch, mintClientSecret } from "./signaling";
import {
  ACK,
  CONNECT,
  DISCONNECT,
  EVENTS,
  HELLO,
  SEND,
  SESSION_CHANGED,
  type OutgoingRecord,
  type Phase,
  type RealtimeEvent,
  type Source,
  type StatsSample,
  type ToKernel,
  type WidgetRecord,
  type WidgetState,
} from "./protocol";
import type { PanelSource, Topic } from "./panel";
import { PushToTalk } from "./ptt";
import { RecentEvents } from "./recent";
import { ToolWatch, toolLine } from "./tools";
import { Transcript } from "./transcript";

/** The part of a Call the controller uses (a seam for tests). */
export type CallLike = Pick<Call, "id" | "isOpen" | "isFinished" | "maxMessageBytes" | "start" | "hangUp" | "send" | "setMuted" | "switchMicrophone">;

export interface ControllerOptions {
  model: Model;
  invoke: Invoke;
  media?: MediaDevices;
  createCall?: (options: CallOptions) => CallLike;
  /** Makes the next call's peer connection ahead; null: none ahead (default: the browser's). */
  createPeerConnection?: (() => RTCPeerConnection) | null;
  permissions?: Permissions;
  /** The clock for the tool line's "waiting for the kernel" (tests pass their own). */
  now?: () => number;
}

const TRAITS_SHOWN: readonly (keyof WidgetTraits)[] = ["state", "error", "muted", "signaling", "backend", "backend_url", "tool_status"];

/** A call setup's records wait at most this long for the call to connect (holdRecordsDuringSetup). */
export const SETUP_HOLD_MAX_MS = 1000;
const AUDIO_BLOCKED_NOTICE = "The browser blocked audio playback: click anywhere in the panel to hear the model.";

export class RealtimeController implements PanelSource {
  readonly transcript = new Transcript();
  readonly recent = new RecentEvents();
  private readonly ptt = new PushToTalk();
  private readonly tools = new ToolWatch();
  private toolTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly now: () => number;
  private readonly pipe: EventPipe;
  /** The client secret for the next call, minted ahead (client_secret signaling only). */
  private readonly secrets: SecretPrefetch;
  /** The next call's peer connection and offer, made ahead. */
  private readonly peers: PeerPrewarm;
  private readonly micPermission: MicPermission;
  private readonly model: Model;
  private readonly invoke: Invoke;
  private readonly media: MediaDevices | undefined;
  private readonly createCall: (options: CallOptions) => CallLike;
  private readonly listeners = new Set<(topic: Topic) => void>();
  private call: CallLike | null = null;
  private audio: HTMLAudioElement | null = null;
  private audioContext: AudioContext | null = null;
  private meterIn: LevelMeter | null = null;
  private meterOut: LevelMeter | null = null;
  private localStream: MediaStream | null = null;
  private remoteStream: MediaStream | null = null;
  private disposed = false;
  private pipeBroken = false;
  private holdTimer: ReturnType<typeof setTimeout> | null = null;
  /** The current call's latest phase, for the panel (the kernel keeps its own from the records). */
  private phase = "";

  microphones: readonly Microphone[] = [];
  deviceId: string | null = null;
  lastStats: StatsSample | null = null;
  /** Something to tell the user that is not an error (audio blocked by autoplay rules). */
  notice = "";

  constructor(options: ControllerOptions) {
    this.model = options.model;
    this.invoke = options.invoke;
    this.media = options.media ?? (typeof navigator === "undefined" ? undefined : navigator.mediaDevices);
    this.createCall = options.createCall ?? ((callOptions) => new Call(callOptions));
    this.now = options.now ?? browserNow;
    this.pipe = new EventPipe({ send: (batch, records) => this.sendToKernel({ kind: EVENTS, pipe: this.pipe.id, batch, records }) });

    // Never aborted: a secret minted ahead belongs to no call.
    this.secrets = new SecretPrefetch(() => mintClientSecret(this.invoke, new AbortController().signal, true));
    const browserPeer = typeof RTCPeerConnection === "undefined" ? null : () => new RTCPeerConnection();
    this.peers = new PeerPrewarm(options.createPeerConnection === undefined ? browserPeer : options.createPeerConnection);
    this.micPermission = new MicPermission(options.permissions);

    this.model.on("msg:custom", this.onKernelMessage);
    this.model.on("change:muted", this.onMutedChange);
    this.model.on("change:signaling", this.onSignalingChange);
    for (const name of TRAITS_SHOWN) this.model.on(`change:${name}`, this.onTraitChange);
    this.media?.addEventListener?.("devicechange", this.refreshMicrophones);

    this.sendToKernel({ kind: HELLO });
    // A page reload ends the browser's call, but the kernel still holds the old state.
    const stale = this.model.get("state");
    if (stale === "connecting" || stale === "connected") {
      this.setPhase(null, "closed", { reason: "page reloaded" });
      this.setState("closed", "The page was reloaded, which ended the browser's call.");
    }
    void this.refreshMicrophones();
    this.prefetchSecret();
    this.peers.warm();
  }

  // -- what views read ----------------------------------------------------------------------------

  traits(): Readonly<PanelTraits> {
    const get = <K extends keyof WidgetTraits>(key: K) => this.model.get(key);
    return {
      state: get("state") ?? "idle",
      phase: this.phase,
      error: get("error") ?? "",
      muted: Boolean(get("muted")),
      signaling: get("signaling") ?? "client_secret",
      backend: get("backend") ?? "openai",
      backend_url: get("backend_url") ?? "",
      tool_status: get("tool_status") ?? "",
    };
  }

  /** The tool line: the kernel's status, or that a function call is waiting for the kernel. */
  get toolStatus(): string {
    return toolLine(this.traits().tool_status, this.tools.waiting(this.now()));
  }

  get pushToTalk(): { readonly enabled: boolean; readonly pressed: boolean } {
    return { enabled: this.ptt.enabled, pressed: this.ptt.pressed };
  }

  get isOpen(): boolean {
    return this.call?.isOpen ?? false;
  }

  /** Current mic and model levels, 0..1, for the meters. */
  levels(): { input: number; output: number } {
    return { input: this.meterIn?.read() ?? 0, output: this.meterOut?.read() ?? 0 };
  }

  subscribe(listener: (topic: Topic) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // -- actions ------------------------------------------------------------------------------------

  /** Starts a call. From a click, this runs inside the user gesture, which lets audio play. */
  connect(trigger: "click" | "kernel"): void {
    if (this.disposed || (this.call && !this.call.isFinished)) return;
    this.primeAudio();
    this.notice = "";
    this.setTraits({ error: "" });
    let call: CallLike | null = null;
    const hooks = this.hooksFor(() => call);
    const signaling = this.traits().signaling;
    call = this.createCall({
      signaling,
      deviceId: this.deviceId,
      muted: this.traits().muted,
      invoke: this.invokeReleasingRecords,
      hooks,
      prefetchedSecret: signaling === "client_secret" ? this.secrets.take() : null,
      prepared: this.peers.take(),
      micGranted: this.micPermission.granted,
    });
    this.call = call;
    this.holdRecordsDuringSetup();
    this.setPhase(call, "start", { trigger, signaling: this.traits().signaling });
    this.setState("connecting", trigger === "click" ? "Connect clicked" : "w.connect() in the kernel");
    void call.start();
  }

  disconnect(reason: string): void {
    if (this.call && !this.call.isFinished) this.call.hangUp(reason);
  }

  /** Sends a client event on the data channel and logs it. Returns false (and reports why) if it could not. */
  send(event: RealtimeEvent): boolean {
    const stamped = withEventId(event);
    try {
      if (!this.call || !this.call.isOpen) {
        throw new UserFacingError("not_connected", `Not sent (${stamped.type}): there is no open call. Click Connect (or call w.connect()) first.`);
      }
      const text = encodeClientEvent(stamped, this.call.maxMessageBytes);
      const t = browserNow();
      this.call.send(text);
      this.record("client", stamped, t);
      return true;
    } catch (error) {
      this.reportError(asUserFacing(error));
      return false;
    }
  }

  sendText(text: string): boolean {
    const message = text.trim();
    if (message === "") return false;
    const sent = this.send({
      type: "conversation.item.create",
      item: { type: "message", role: "user", content: [{ type: "input_text", text: message }] },
    });
    return sent && this.send({ type: "response.create" });
  }

  setMuted(muted: boolean): void {
    this.setTraits({ muted });
  }

  setPushToTalk(on: boolean): void {
    this.sendAll(on ? this.ptt.enable() : this.ptt.disable());
    this.emit("ptt");
  }

  pressToTalk(): void {
    if (!this.isOpen) return;
    this.sendAll(this.ptt.press());
    this.emit("ptt");
  }

  releaseToTalk(): void {
    this.sendAll(this.ptt.release());
    this.emit("ptt");
  }

  selectMicrophone(deviceId: string): void {
    this.deviceId = deviceId || null;
    this.emit("devices");
    this.call?.switchMicrophone(this.deviceId).catch((error: unknown) => this.reportError(asUserFacing(error)));
  }

  /** Retries what autoplay rules may have blocked; views call it on any pointer press. */
  unlockAudio(): void {
    if (this.audioContext?.state === "suspended") void this.audioContext.resume().catch(() => {});
    if (this.audio?.srcObject && this.audio.paused) this.playRemote();
  }

  refreshMicrophones = async (): Promise<void> => {
    const found = await listMicrophones(this.media);
    if (this.disposed) return;
    this.microphones = found;
    this.emit("devices");
  };

  /** The model is going away (w.close(), kernel restart, page unload): hang up, release everything. */
  dispose(): void {
    if (this.disposed) return;
    this.call?.hangUp("The widget was closed.");
    this.disposed = true;
    this.clearToolTimer();
    this.model.off("msg:custom", this.onKernelMessage);
    this.model.off("change:muted", this.onMutedChange);
    this.model.off("change:signaling", this.onSignalingChange);
    this.secrets.drop();
    this.peers.drop();
    this.releaseRecords();
    this.pipe.close();
    for (const name of TRAITS_SHOWN) this.model.off(`change:${name}`, this.onTraitChange);
    this.media?.removeEventListener?.("devicechange", this.refreshMicrophones);
    if (this.audio) {
      this.audio.pause();
      this.audio.srcObject = null;
    }
    this.meterIn?.attach(null);
    this.meterOut?.attach(null);
    void this.audioContext?.close().catch(() => {});
    this.listeners.clear();
  }

  // -- the kernel ---------------------------------------------------------------------------------

  private readonly onKernelMessage = (msg: unknown): void => {
    if (!isRecord(msg)) return; // also anywidget's own command replies: they carry no `kind` of ours
    switch (msg.kind) {
      case ACK:
        // Acks go to every page showing this kernel: only this page's pipe's count.
        if (msg.pipe !== undefined && msg.pipe !== this.pipe.id) break;
        if (typeof msg.batch === "number" && this.pipe.ack(msg.batch) && this.tools.acknowledged(this.pipe.acknowledged)) {
          this.scheduleToolCheck();
          this.emit("status");
        }
        break;
      case CONNECT:
        this.connect("kernel");
        break;
      case DISCONNECT:
        this.disconnect("w.disconnect() in the kernel");
        break;
      case SESSION_CHANGED:
        this.secrets.drop();
        this.prefetchSecret();
        break;
      case SEND:
        if (isRecord(msg.event) && typeof msg.event.type === "string") this.send(msg.event as RealtimeEvent);
        else this.reportError(new UserFacingError("bad_event", "The kernel asked to send something that is not an event with a type."));
        break;
    }
  };

  private sendToKernel(message: ToKernel): void {
    this.model.send(message);
  }

  /** Every record goes through here: stamped, piped to the kernel in order, shown in the panel's log. */
  private record(source: Source, event: RealtimeEvent | WidgetRecord, t = browserNow()): void {
    const record: OutgoingRecord = { source, t_browser_ms: t, event: event as RealtimeEvent };
    try {
      this.pipe.push(record);
      this.pipeBroken = false;
    } catch (error) {
      // The record stays queued; the next push or ack retries. Say so once, not per event.
      if (!this.pipeBroken) console.warn("rt_widget: could not send events to the kernel; they stay queued", error);
      this.pipeBroken = true;
    }
    this.recent.add(record);
    this.emit("log");
  }

  // -- the call's reports -------------------------------------------------------------------------

  private hooksFor(current: () => CallLike | null): CallHooks {
    return {
      phase: (phase, detail) => this.setPhase(current(), phase, detail),
      sdp: (role, sdp) => this.record("widget", { type: "widget.sdp", role, sdp }),
      serverEvent: (event, t) => this.onServerEvent(event, t),
      malformed: (raw, reason, t) =>
        this.record(
          "widget",
          {
            type: "widget.error",
            code: "malformed_event",
            message: `The service sent a data-channel message that is not a valid event (${reason}); it is logged here and the call continues.`,
            raw,
          },
          t,
        ),
      warning: (error) => this.reportError(error),
      localStream: (stream) => {
        this.localStream = stream;
        this.meterIn?.attach(stream);
        // Labels appear once the page has microphone permission.
        if (stream) void this.refreshMicrophones();
      },
      remoteStream: (stream) => {
        this.remoteStream = stream;
        this.meterOut?.attach(stream);
        this.playRemote();
      },
      connected: () => {
        this.setState("connected", "the event channel is open and the microphone is in the call");
        this.releaseRecords();
      },
      stats: (sample) => {
        this.lastStats = sample;
        this.record("widget", { type: "widget.stats", ...sample });
        this.emit("stats");
      },
      ended: (end) => this.onCallEnded(end),
    };
  }

  private onServerEvent(event: RealtimeEvent, t: number): void {
    this.record("server", event, t);
    if (this.tools.observe(event, this.pipe.pushed - 1, this.now())) this.scheduleToolCheck();
    if (this.transcript.apply(event)) this.emit("transcript");
    this.sendAll(this.ptt.observe(event));
    if (event.type === "error") {
      const detail = isRecord(event.error) && typeof event.error.message === "string" ? event.error.message : "an error";
      this.setTraits({ error: `The service reported: ${detail}` });
    }
  }

  private onCallEnded(end: CallEnd): void {
    this.releaseRecords();
    this.ptt.reset();
    this.tools.reset();
    this.clearToolTimer();
    this.lastStats = null;
    if (end.error) {
      // An error from a command reply is in the log already (the kernel records its own).
      if (!end.error.loggedByKernel) this.record("widget", { type: "widget.error", code: end.error.code, message: end.error.message });
      this.setTraits({ error: end.error.message });
    }
    this.setState(end.state, end.reason);
    this.emit("stats");
    this.emit("ptt");
    this.prefetchSecret(); // for the next Connect
    if (!this.disposed) this.peers.warm();
  }

  /**
   * The records of a call setup (phases, SDPs, state) travel together when the call connects or
   * ends, when it sends the kernel a command, or after SETUP_HOLD_MAX_MS at the latest (a slow
   * setup still shows in the kernel as it goes): the handshake then has the page's main thread
   * and the cores to itself. Measured: click to channel open 120-130 ms -> 80-110 ms, the bare
   * page's 60-85 ms beside it (benchmarks/RESULTS.md).
   */
  private holdRecordsDuringSetup(): void {
    this.pipe.hold();
    if (this.holdTimer !== null) clearTimeout(this.holdTimer);
    this.holdTimer = setTimeout(() => this.releaseRecords(), SETUP_HOLD_MAX_MS);
  }

  /**
   * A command to the kernel (mint a secret now, relay the offer) first lets the held records go:
   * the kernel logs records of its own as it handles the command, and those must follow the
   * call's start in the log, as they happened.
   */
  private readonly invokeReleasingRecords: Invoke = (...args) => {
    this.releaseRecords();
    return this.invoke(...args);
  };

  private releaseRecords(): void {
    if (this.holdTimer !== null) clearTimeout(this.holdTimer);
    this.holdTimer = null;
    try {
      this.pipe.release();
    } catch {
      // The comm refused the batch: it stays queued; the next push or ack retries.
    }
  }

  /** Mints the next call's client secret ahead, unless the widget relays offers or has one. */
  private prefetchSecret(): void {
    if (this.disposed || this.traits().signaling !== "client_secret") return;
    if (this.call && !this.call.isFinished) return; // after this call ends
    this.secrets.warm();
  }

  private readonly onSignalingChange = (): void => {
    this.secrets.drop();
    this.prefetchSecret();
  };

  private setPhase(call: CallLike | null, phase: Phase, detail: Record<string, unknown> = {}): void {
    const callId = call?.id;
    this.phase = phase;
    this.record("widget", { type: "widget.phase", phase, ...(callId ? { call_id: callId } : {}), ...detail });
    this.emit("status");
  }

  private setState(state: WidgetState, reason: string): void {
    if (this.model.get("state") === state) return;
    this.record("widget", { type: "widget.state", state, reason });
    this.setTraits({ state });
  }

  private reportError(error: UserFacingError): void {
    this.record("widget", { type: "widget.error", code: error.code, message: error.message });
    this.setTraits({ error: error.message });
  }

  private sendAll(events: RealtimeEvent[]): void {
    if (!this.isOpen) return; // push-to-talk changes made offline apply when the session starts
    for (const event of events) if (!this.send(event)) break;
  }

  private setTraits(values: Partial<WidgetTraits>): void {
    if (this.disposed) return;
    let changed = false;
    for (const [key, value] of Object.entries(values) as [keyof WidgetTraits, never][]) {
      if (this.model.get(key) === value) continue;
      this.model.set(key, value);
      changed = true;
    }
    if (!changed) return;
    try {
      this.model.save_changes();
    } catch (error) {
      // The comm is closing (w.close(), kernel restart): there is no kernel left to tell.
      console.debug("rt_widget: could not sync traits", error);
    }
  }

  private readonly onMutedChange = (): void => {
    this.call?.setMuted(Boolean(this.model.get("muted")));
  };

  private readonly onTraitChange = (): void => this.emit("status");

  private emit(topic: Topic): void {
    for (const listener of this.listeners) listener(topic);
  }

  /** Redraws the tool line when the oldest function call the kernel has not received turns a second old. */
  private scheduleToolCheck(): void {
    this.clearToolTimer();
    const delay = this.tools.nextCheckIn(this.now());
    if (delay === null || this.disposed) return;
    this.toolTimer = setTimeout(() => {
      this.toolTimer = null;
      this.emit("status");
    }, delay);
  }

  private clearToolTimer(): void {
    if (this.toolTimer !== null) clearTimeout(this.toolTimer);
    this.toolTimer = null;
  }

  // -- audio --------------------------------------------------------------------------------------

  /**
   * Sets up playback and the meters' AudioContext. Called first thing in connect(): from a click,
   * that is inside the user gesture, which autoplay rules require (Safari unlocks an element only by
   * a play() in the gesture; Chrome needs the page's user activation, which the click gives).
   */
  private primeAudio(): void {
    if (!this.audio && typeof Audio !== "undefined") {
      this.audio = new Audio();
      this.audio.autoplay = true;
    }
    // Nothing to play yet: this only unlocks the element (it rejects, harmlessly, for want of a source).
    if (this.audio && !this.audio.srcObject) void this.audio.play().catch(() => {});
    if (!this.audioContext && typeof AudioContext !== "undefined") {
      try {
        this.audioContext = new AudioContext();
        this.meterIn = new LevelMeter(this.audioContext);
        this.meterOut = new LevelMeter(this.audioContext);
        this.meterIn.attach(this.localStream);
        this.meterOut.attach(this.remoteStream);
      } catch {
        this.audioContext = null; // meters stay at zero; the call does not need them
      }
    }
    if (this.audioContext?.state === "suspended") void this.audioContext.resume().catch(() => {});
  }

  private playRemote(): void {
    const audio = this.audio;
    if (!audio) return;
    if (audio.srcObject !== this.remoteStream) audio.srcObject = this.remoteStream;
    if (!this.remoteStream) {
      audio.pause();
      return;
    }
    audio.play().then(
      () => {
        if (this.notice === AUDIO_BLOCKED_NOTICE) this.setNotice("");
      },
      (error: unknown) => {
        if (isRecord(error) && error.name === "NotAllowedError") this.setNotice(AUDIO_BLOCKED_NOTICE);
      },
    );
  }

  private setNotice(text: string): void {
    this.notice = text;
    this.emit("status");
  }
}
