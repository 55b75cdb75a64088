// Microphone helpers.

export interface Microphone {
  deviceId: string;
  label: string;
}

/** Speech-friendly capture: the browser's echo cancellation matters most, the model's voice comes out of the speakers. */
export function audioConstraints(deviceId: string | null): MediaStreamConstraints {
  return {
    audio: {
      echoCancellation: true,
      noiseSuppression: true,
      autoGainControl: true,
      ...(deviceId ? { deviceId: { exact: deviceId } } : {}),
    },
    video: false,
  };
}

/** The audio inputs; labels are empty until the page has had microphone permission once. */
export async function listMicrophones(media: MediaDevices | undefined): Promise<Microphone[]> {
  if (!media?.enumerateDevices) return [];
  try {
    const devices = await media.enumerateDevices();
    let unnamed = 0;
    return devices
      // Chrome's "default" entry duplicates the picker's own "System default" choice.
      .filter((d) => d.kind === "audioinput" && d.deviceId !== "" && d.deviceId !== "default")
      .map((d) => ({ deviceId: d.deviceId, label: d.label || `Microphone ${++unnamed}` }));
  } catch {
    return [];
  }
}

export function stopStream(stream: MediaStream | null): void {
  for (const track of stream?.getTracks() ?? []) track.stop();
}
