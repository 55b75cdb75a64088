// One WebRTC call to the Realtime API: microphone, peer connection, `oai-events` data channel.
//
// A Call lives from Connect to hang-up and is never reused; Connect after an end makes a new one.
// It knows nothing of the model or the DOM: it reports through hooks, and the controller turns
// those into traits and log records. It ends exactly once (`hooks.ended`), releasing the mic.
import { browserNow } from "./clock";
import { DEFAULT_MAX_MESSAGE_BYTES, decodeServerMessage } from "./channel";
import type { Invoke } from "./commands";
import { UserFacingError, asUserFacing, microphoneError, noMediaDevicesError } from "./errors";
import { audioConstraints, stopStream } from "./media";
import type { Signaling } from "./model";
import type { Phase, RealtimeEvent, StatsSample } from "./protocol";
import {
  hangup,
  mintClientSecret,
  postOfferWithSecret,
  relayOffer,
  secretIsStale,
  type Answer,
  type ClientSecret,
} from "./signaling";
import { preparePeer, type PreparedPeer } from "./prewarm";
import { extractStats } from "./stats";

export interface CallEnd {
  state: "closed" | "failed";
  reason: string;
  /** Set when the user should be told something went wrong (also for a peer hanging up). */
  error: UserFacingError | null;
}

export interface CallHooks {
  phase(phase: Phase, detail?: Record<string, unknown>): void;
  sdp(role: "offer" | "answer", sdp: string): void;
  /** A data-channel message, parsed, with its receipt time. */
  serverEvent(event: RealtimeEvent, t: number): void;
  malformed(raw: string, reason: string, t: number): void;
  /** A problem that does not end the call. */
  warning(error: UserFacingError): void;
  localStream(stream: MediaStream | null): void;
  remoteStream(stream: MediaStream | null): void;
  /** The data channel is open: the call is usable. */
  connected(): void;
  stats(sample: StatsSample): void;
  ended(end: CallEnd): void;
}

export interface CallOptions {
  signaling: Signaling;
  deviceId: string | null;
  muted: boolean;
  invoke: Invoke;
  hooks: CallHooks;
  /** A client secret minted ahead (SecretPrefetch); if it failed, the call mints its own. */
  prefetchedSecret?: Promise<ClientSecret> | null;
  /** A peer connection made ahead, its offer ready or on its way (PeerPrewarm); else one is made. */
  prepared?: PreparedPeer | null;
  /** The page already has microphone permission: with `prepared`, the offer need not wait for it. */
  micGranted?: boolean;
  /** Seams for tests and unusual hosts. */
  media?: MediaDevices;
  fetch?: typeof fetch;
  createPeerConnection?: () => RTCPeerConnection;
}

/** From the answer to an open channel; ICE to a reachable peer takes well under a second. */
const CHANNEL_OPEN_TIMEOUT_MS = 20_000;
const STATS_INTERVAL_MS = 1_000;

export class Call {
  private readonly abort = new AbortController();
  private pc: RTCPeerConnection | null = null;
  private channel: RTCDataChannel | null = null;
  private sender: RTCRtpSender | null = null;
  /** Settles when the offer is the peer connection's local description. */
  private offered: Promise<void> | null = null;
  private mic: MediaStream | null = null;
  private callId: string | null = null;
  private muted: boolean;
  private finished = false;
  private sawSession = false;
  /** Settles (null, or the failure) once the microphone's track is in the call. */
  private micAttached: Promise<unknown> | null = null;
  private micInCall = false;
  private openTimer: ReturnType<typeof setTimeout> | null = null;
  private statsTimer: ReturnType<typeof setInterval> | null = null;
  private sampling = false;
  /** The secret in use was minted ahead, before this call (see SecretPrefetch). */
  private secretPrefetched = false;

  constructor(private readonly options: CallOptions) {
    this.muted = options.muted;
  }

  /** The service's call id (`rtc_...`), once the answer named it. */
  get id(): string | null {
    return this.callId;
  }

  get isOpen(): boolean {
    return !this.finished && this.channel?.readyState === "open";
  }

  get isFinished(): boolean {
    return this.finished;
  }

  /** The largest message the data channel carries. */
  get maxMessageBytes(): number {
    const size = this.pc?.sctp?.maxMessageSize;
    return size && Number.isFinite(size) ? Math.min(size, DEFAULT_MAX_MESSAGE_BYTES) : DEFAULT_MAX_MESSAGE_BYTES;
  }

  /** Sets the call up; never rejects (a failure ends the call through `hooks.ended`). */
  async start(): Promise<void> {
    try {
      await this.setUp();
    } catch (error) {
      // After a hang-up the abort surfaces here: the call has already ended.
      if (!this.finished) {
        const problem = asUserFacing(error);
        this.finish("failed", problem.message, problem);
      }
    }
  }

  /** Ends the call on the user's or the kernel's request. */
  hangUp(reason: string): void {
    this.finish("closed", reason, null);
  }

  /** Sends text on the data channel; throws a UserFacingError when there is no open channel. */
  send(text: string): void {
    if (!this.isOpen) {
      throw new UserFacingError("not_connected", "There is no open call: click Connect (or call w.connect()) first.");
    }
    this.channel!.send(text);
  }

  setMuted(muted: boolean): void {
    this.muted = muted;
    for (const track of this.mic?.getAudioTracks() ?? []) track.enabled = !muted;
  }

  /** Moves the live call to another microphone without renegotiating. */
  async switchMicrophone(deviceId: string | null): Promise<void> {
    this.options.deviceId = deviceId;
    if (this.finished || !this.sender || !this.mic) return; // applies when the mic opens
    let stream: MediaStream;
    try {
      stream = await this.getMicrophone(deviceId);
    } catch (error) {
      if (this.finished) return; // hung up meanwhile: nothing to switch
      throw error;
    }
    const track = stream.getAudioTracks()[0]!;
    track.enabled = !this.muted;
    await this.sender.replaceTrack(track);
    if (this.finished) return stopStream(stream);
    const previous = this.mic;
    this.mic = stream;
    stopStream(previous);
    this.options.hooks.localStream(stream);
  }

  private async setUp(): Promise<void> {
    const { hooks, invoke, signaling } = this.options;
    const signal = this.abort.signal;
    const prepared = this.options.prepared ?? null;
    if (prepared) this.adopt(prepared); // from now on, finish() closes it

    // The secret (usually minted ahead) and the microphone are fetched at the same time. With a
    // peer connection prepared ahead (PeerPrewarm) and microphone permission already granted,
    // the offer goes out at once too, and the track joins the call when the microphone opens.
    // Otherwise the offer waits for the microphone, so that a refused microphone (the user may be
    // asked now) never creates a call at the service; and a peer connection made now is made
    // after it: in Chromium, creating one while the microphone opens delayed the microphone by
    // ~100 ms (benchmarks/RESULTS.md).
    let minting: Promise<ClientSecret> | null = null;
    if (signaling === "client_secret") {
      const prefetched = this.options.prefetchedSecret ?? null;
      hooks.phase("secret_requested", prefetched ? { prefetched: true } : {});
      const mintNow = () => {
        this.secretPrefetched = false;
        return mintClientSecret(invoke, signal);
      };
      this.secretPrefetched = prefetched !== null;
      minting = (prefetched ? prefetched.catch(mintNow) : mintNow()).then((secret) => {
        if (!this.finished) hooks.phase("secret_received", this.secretPrefetched ? { prefetched: true } : {});
        return secret;
      });
    }
    hooks.phase("mic_requested");
    const opening = this.getMicrophone(this.options.deviceId).then((stream) => {
      if (this.finished) {
        // The secret failed (or the user hung up) while the microphone was opening.
        stopStream(stream);
        throw new DOMException("the call has ended", "AbortError");
      }
      this.mic = stream;
      this.setMuted(this.muted);
      hooks.phase("mic_ready");
      hooks.localStream(stream);
      return stream;
    });
    const micFirst = !(prepared && this.options.micGranted);
    if (micFirst) {
      // Wait for the microphone, but fail at once if minting fails meanwhile.
      await Promise.race([opening, minting ? minting.then(() => opening) : opening]);
      this.throwIfFinished();
    }
    if (!prepared) this.adopt(preparePeer(this.options.createPeerConnection ?? (() => new RTCPeerConnection())));
    const pc = this.pc!;
    const sender = this.sender!;
    const offering = this.offered!.then(() => {
      if (!this.finished) hooks.phase("offer_created", { ice_gathering: pc.iceGatheringState, ...(prepared ? { prepared: true } : {}) });
    });
    // The track joins the offer's transceiver once the microphone is open (media flows only once
    // ICE has connected); a failure is kept for later rather than left unhandled meanwhile.
    const attaching = opening.then((mic) => sender.replaceTrack(mic.getAudioTracks()[0]!)).then(
      () => {
        this.micInCall = true;
        return null;
      },
      (error: unknown) => error,
    );
    this.micAttached = attaching;
    if (!micFirst) {
      // The offer does not wait for the microphone; if it fails after all (a device unplugged or
      // busy), the call ends with the microphone's error, and the service is told to hang up.
      void attaching.then((error) => {
        if (error === null || this.finished) return;
        const problem = asUserFacing(error);
        this.finish("failed", problem.message, problem);
      });
    }
    // The first failure fails the call; finish() then releases a microphone that opens late.
    const [minted] = await Promise.all([minting, offering, micFirst ? opening : null]);
    this.throwIfFinished();

    // The offer goes out with whatever ICE candidates were gathered meanwhile (maybe none), as
    // in OpenAI's own WebRTC example: the service is an ICE-lite peer, which only answers the
    // browser's connectivity checks, and the emulator's aiortc (full ICE) learns the browser's
    // address from those checks (a peer-reflexive candidate). Waiting for gathering to complete
    // cost 120-180 ms of every call setup here (benchmarks/RESULTS.md).
    const offerSdp = pc.localDescription?.sdp ?? "";
    const answering = this.exchange(minted, offerSdp);
    hooks.sdp("offer", offerSdp); // recorded while the offer is on its way
    const answer = await answering;
    if (micFirst) {
      const attachFailure = await attaching;
      if (attachFailure !== null) throw attachFailure;
    }
    this.throwIfFinished();
    this.callId = answer.callId;
    const applying = pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
    hooks.phase("answer_received");
    hooks.sdp("answer", answer.sdp);
    await applying;
    this.throwIfFinished();
    hooks.phase("remote_description_set");
    this.openTimer = setTimeout(() => {
      const ice = pc.iceConnectionState;
      const problem = new UserFacingError(
        "channel_timeout",
        `The call did not open within ${CHANNEL_OPEN_TIMEOUT_MS / 1000} s (ICE ${ice}). The service may be unreachable from this browser (firewall, VPN, or a host reachable only on loopback).`,
      );
      this.finish("failed", problem.message, problem);
    }, CHANNEL_OPEN_TIMEOUT_MS);
  }

  /** Takes a peer connection (prepared ahead or just now) as this call's. */
  private adopt(peer: PreparedPeer): void {
    this.pc = peer.pc;
    this.sender = peer.sender;
    this.channel = peer.channel;
    this.offered = peer.offered;
    this.watchPeerConnection(peer.pc);
    this.watchChannel(peer.channel);
  }

  /** Posts the offer (with the secret, minting a fresh one if it went stale) or has the kernel relay it. */
  private async exchange(minted: ClientSecret | null, offerSdp: string): Promise<Answer> {
    const { invoke } = this.options;
    const signal = this.abort.signal;
    if (!minted) return relayOffer(invoke, offerSdp, signal);
    let secret = minted;
    if (secretIsStale(secret, Date.now())) {
      // The mic prompt (or, for a secret minted ahead, the wait for Connect) outlasted the
      // secret; a fresh one is cheap.
      secret = await this.mintAgain("expired");
    }
    try {
      return await postOfferWithSecret(secret, offerSdp, signal, this.options.fetch);
    } catch (error) {
      // A secret minted ahead may have been revoked meanwhile (or the key rotated): one retry
      // with a fresh secret, so the user sees an error only if that one is refused too.
      if (!(this.secretPrefetched && error instanceof UserFacingError && error.code === "unauthorized")) throw error;
      secret = await this.mintAgain("rejected");
      return postOfferWithSecret(secret, offerSdp, signal, this.options.fetch);
    }
  }

  private async mintAgain(reason: "expired" | "rejected"): Promise<ClientSecret> {
    const { hooks, invoke } = this.options;
    this.secretPrefetched = false;
    hooks.phase("secret_requested", { reason });
    const secret = await mintClientSecret(invoke, this.abort.signal);
    hooks.phase("secret_received");
    return secret;
  }

  private async getMicrophone(deviceId: string | null): Promise<MediaStream> {
    const media = this.options.media ?? (typeof navigator === "undefined" ? undefined : navigator.mediaDevices);
    if (!media?.getUserMedia) throw noMediaDevicesError();
    let stream: MediaStream;
    try {
      stream = await media.getUserMedia(audioConstraints(deviceId));
    } catch (error) {
      throw microphoneError(error, deviceId);
    }
    if (this.finished) {
      stopStream(stream);
      throw new DOMException("the call ended while the microphone opened", "AbortError");
    }
    return stream;
  }

  private watchPeerConnection(pc: RTCPeerConnection): void {
    const { hooks } = this.options;
    pc.addEventListener("iceconnectionstatechange", () => {
      if (this.finished) return;
      const state = pc.iceConnectionState;
      hooks.phase(`ice_${state}`);
      if (state === "failed") {
        const problem = new UserFacingError(
          "ice_failed",
          "The network path to the service failed (ICE). A firewall or VPN may block WebRTC; try another network, then click Connect.",
        );
        this.finish("failed", problem.message, problem);
      }
    });
    pc.addEventListener("connectionstatechange", () => {
      if (this.finished) return;
      const state = pc.connectionState;
      hooks.phase(`pc_${state}`);
      if (state === "failed") {
        const problem = new UserFacingError("connection_failed", "The connection to the service failed. Click Connect to start a new call.");
        this.finish("failed", problem.message, problem);
      } else if (state === "closed") {
        const problem = new UserFacingError("peer_closed", "The call ended: the connection closed. Click Connect to start a new call.");
        this.finish("closed", problem.message, problem, { peerEnded: true });
      }
    });
    pc.addEventListener("track", (event) => {
      if (this.finished) return;
      hooks.remoteStream(event.streams[0] ?? new MediaStream([event.track]));
    });
  }

  private watchChannel(channel: RTCDataChannel): void {
    const { hooks } = this.options;
    channel.binaryType = "arraybuffer";
    channel.addEventListener("open", () => {
      if (this.finished) return;
      this.clearOpenTimer();
      hooks.phase("channel_open");
      // "Connected" means the user can speak: on the prepared path the channel can open before
      // the microphone's track has joined, so the call reports connected only once it has (a
      // failed microphone ends the call instead, see setUp).
      if (this.micInCall) hooks.connected();
      else
        void this.micAttached?.then((failure) => {
          if (failure === null && !this.finished) hooks.connected();
        });
      this.statsTimer = setInterval(() => void this.sampleStats(), STATS_INTERVAL_MS);
    });
    channel.addEventListener("message", (message: MessageEvent) => {
      const t = browserNow();
      if (this.finished) return;
      const decoded = decodeServerMessage(message.data);
      if (!decoded.ok) {
        hooks.malformed(decoded.raw, decoded.reason, t);
        return;
      }
      hooks.serverEvent(decoded.event, t);
      if (!this.sawSession && decoded.event.type === "session.created") {
        this.sawSession = true;
        hooks.phase("session_created");
      }
    });
    channel.addEventListener("error", (event) => {
      if (this.finished) return;
      const error = (event as RTCErrorEvent).error;
      // SCTP cause 12, "User-Initiated Abort": the peer closed the channel; the close event reports it.
      if (error?.sctpCauseCode === 12) return;
      const detail = error?.message;
      hooks.warning(new UserFacingError("channel_error", `The event channel reported an error${detail ? `: ${detail}` : ""}.`));
    });
    channel.addEventListener("close", () => {
      if (this.finished) return;
      const problem = new UserFacingError(
        "channel_closed",
        "The call ended: the service closed the event channel. Click Connect to start a new call.",
      );
      this.finish("closed", problem.message, problem, { peerEnded: true });
    });
  }

  private async sampleStats(): Promise<void> {
    if (this.sampling || this.finished || !this.pc) return;
    this.sampling = true;
    try {
      const report = await this.pc.getStats();
      if (!this.finished) this.options.hooks.stats(extractStats(report));
    } catch {
      // A closing connection may refuse getStats; the next sample or the end will tell.
    } finally {
      this.sampling = false;
    }
  }

  private finish(state: CallEnd["state"], reason: string, error: UserFacingError | null, how = { peerEnded: false }): void {
    if (this.finished) return;
    this.finished = true;
    this.abort.abort(new DOMException(reason, "AbortError"));
    this.clearOpenTimer();
    if (this.statsTimer !== null) clearInterval(this.statsTimer);
    this.statsTimer = null;
    try {
      this.channel?.close();
      this.pc?.close();
    } catch {
      // Already closed.
    }
    stopStream(this.mic);
    this.mic = null;
    const { hooks, invoke } = this.options;
    hooks.localStream(null);
    hooks.remoteStream(null);
    hooks.phase("closed", { reason });
    hooks.ended({ state, reason, error });
    // Tell the service too, unless it is the one that hung up. Best effort: the peer connection
    // is already closed, which ends the call anyway once the service notices.
    if (this.callId && !how.peerEnded) void hangup(invoke, this.callId);
  }

  private throwIfFinished(): void {
    if (this.finished) throw new DOMException("the call has ended", "AbortError");
  }

  private clearOpenTimer(): void {
    if (this.openTimer !== null) clearTimeout(this.openTimer);
    this.openTimer = null;
  }
}
