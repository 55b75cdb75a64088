// The next call's peer connection, made ahead: the offer is ready before Connect is clicked.
//
// A call setup has two slow halves that need not wait for each other: opening the microphone, and
// the signaling (the offer, the POST to /calls, the answer, ICE, DTLS, SCTP). The offer describes
// an audio transceiver and the `oai-events` channel, not the microphone: the track joins the
// transceiver later (replaceTrack, no renegotiation). So the peer connection and its offer are
// made when the widget is shown and after each call, like the client secret (SecretPrefetch), and
// Connect goes straight to the POST. With ICE gathered meanwhile, the offer also carries every
// local candidate.
//
// Nothing reaches the service before Connect: a prepared peer connection only holds local state
// (its sockets). One older than MAX_AGE_MS is not used (the machine may have changed networks).
import { CHANNEL_LABEL } from "./channel";

export interface PreparedPeer {
  readonly pc: RTCPeerConnection;
  /** The audio transceiver's sender; the microphone's track goes here. */
  readonly sender: RTCRtpSender;
  readonly channel: RTCDataChannel;
  /** Settles once the offer is the local description (rejects if the browser refused it). */
  readonly offered: Promise<void>;
  /** Date.now() when it was made. */
  readonly createdAt: number;
}

export const MAX_AGE_MS = 10 * 60_000;

/** A peer connection with the call's audio transceiver and data channel, its offer on the way. */
export function preparePeer(create: () => RTCPeerConnection, now: () => number = Date.now): PreparedPeer {
  const pc = create();
  const sender = pc.addTransceiver("audio", { direction: "sendrecv" }).sender;
  const channel = pc.createDataChannel(CHANNEL_LABEL);
  const offered = pc.createOffer().then((offer) => pc.setLocalDescription(offer));
  offered.catch(() => {}); // the call that uses it awaits it and reports the failure
  return { pc, sender, channel, offered, createdAt: now() };
}

export function closePeer(peer: PreparedPeer | null): void {
  try {
    peer?.channel.close();
    peer?.pc.close();
  } catch {
    // already closed
  }
}

/** Holds at most one prepared peer connection for the next call. */
export class PeerPrewarm {
  private ready: PreparedPeer | null = null;

  constructor(
    private readonly create: (() => RTCPeerConnection) | null,
    private readonly now: () => number = Date.now,
  ) {}

  /** Prepares one unless one is ready; does nothing where the browser has no WebRTC. */
  warm(): void {
    if (this.ready || !this.create) return;
    try {
      this.ready = preparePeer(this.create, this.now);
    } catch (error) {
      // The call will make its own and report what the browser says then.
      console.debug("rt_widget: could not prepare a peer connection ahead", error);
    }
  }

  /** The prepared peer connection, handed over once; null when none is ready or it is too old. */
  take(): PreparedPeer | null {
    const peer = this.ready;
    this.ready = null;
    if (peer && (this.now() - peer.createdAt > MAX_AGE_MS || peer.pc.signalingState === "closed")) {
      closePeer(peer);
      return null;
    }
    return peer;
  }

  drop(): void {
    closePeer(this.ready);
    this.ready = null;
  }
}

/** The page's microphone permission as last seen ("unknown" where the browser does not say). */
export class MicPermission {
  state: PermissionState | "unknown" = "unknown";

  constructor(permissions: Permissions | undefined = typeof navigator === "undefined" ? undefined : navigator.permissions) {
    if (!permissions?.query) return;
    permissions
      .query({ name: "microphone" as PermissionName })
      .then((status) => {
        this.state = status.state;
        status.addEventListener?.("change", () => {
          this.state = status.state;
        });
      })
      .catch(() => {
        // Firefox before 131 does not know "microphone": stay "unknown".
      });
  }

  get granted(): boolean {
    return this.state === "granted";
  }
}
