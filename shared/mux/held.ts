/**
 * Control frames the frame writer could not put into its batch (the batch
 * is full while the transport is busy), kept compactly and bounded: what
 * the session queues on behalf of a peer that asks for answers (pongs,
 * window updates, ACKs, RSTs) cannot grow without end when that peer does
 * not read them.
 *
 * @module
 */

import { FrameType } from "../frame/header.ts";
import type { StreamTx } from "./stream_tx.ts";

/** Where held frames go when there is room again: the writer's batch. */
export interface HeldOutlet {
  /** True when one more header fits the batch. */
  room(): boolean;
  /** Puts a frame of no stream object. */
  put(type: FrameType, flags: number, streamId: number, length: number): void;
  /** Puts a WindowUpdate of stream `tx` (with what it owes). */
  putStream(tx: StreamTx, flags: number, delta: number): void;
}

/**
 * Held control frames, at most `max` of them. A stream holds at most one
 * WindowUpdate: later ones merge into it (flags ORed, deltas summed), so the
 * count grows only with streams and with frames of no stream object (pongs,
 * RSTs for refused SYNs, the writer's own pings, GoAway). Past `max`, frames
 * are refused (GoAway excepted) and `onFlood` runs once, in a microtask.
 *
 * @example
 * ```ts
 * const held = new HeldControl(8192, () => console.warn("the peer does not read"));
 * held.frame(FrameType.Ping, Flag.ACK, 0, opaque);
 * held.drain(outlet); // once the batch has room
 * ```
 */
export class HeldControl {
  readonly #max: number;
  readonly #onFlood: (() => void) | null;
  /** Frames of no stream object, three numbers each: type << 8 | flags, stream id, length. */
  #frames: number[] = [];
  /** Index of the first held frame's first number in `#frames`. */
  #head = 0;
  /** Streams with a held WindowUpdate (`tx.held`), each once. */
  #streams: StreamTx[] = [];
  #count = 0;
  #flooded = false;

  /** Holds at most `max` frames; calls `onFlood` once when one more is refused. */
  constructor(max: number, onFlood: (() => void) | null) {
    this.#max = max;
    this.#onFlood = onFlood;
  }

  /** Frames held. */
  get count(): number {
    return this.#count;
  }

  /** Holds a frame of no stream object; false when refused (the bound is reached). */
  frame(type: FrameType, flags: number, streamId: number, length: number): boolean {
    if (this.#count >= this.#max && type !== FrameType.GoAway) return this.#flood();
    this.#frames.push(type << 8 | flags, streamId, length);
    this.#count++;
    return true;
  }

  /**
   * Holds a WindowUpdate of stream `tx`, merged into the one it holds
   * already if any; false when refused (the bound is reached).
   */
  stream(tx: StreamTx, flags: number, delta: number): boolean {
    if (tx.held) {
      tx.heldFlags |= flags;
      tx.heldDelta += delta;
      return true;
    }
    if (this.#count >= this.#max) return this.#flood();
    tx.held = true;
    tx.heldFlags = flags;
    tx.heldDelta = delta;
    tx.queued++;
    this.#streams.push(tx);
    this.#count++;
    return true;
  }

  /** Moves held frames into `outlet` while it has room: frames of no stream first, then streams'. */
  drain(outlet: HeldOutlet): void {
    const frames = this.#frames;
    let h = this.#head;
    while (h < frames.length && outlet.room()) {
      const typeFlags = frames[h]!;
      outlet.put((typeFlags >>> 8) as FrameType, typeFlags & 0xff, frames[h + 1]!, frames[h + 2]!);
      h += 3;
      this.#count--;
    }
    if (h === frames.length) {
      frames.length = 0;
      h = 0;
    } else if (h > 3 * 1024 && h > frames.length >>> 1) {
      // Drop the consumed front now and then, not at every drain.
      frames.splice(0, h);
      h = 0;
    }
    this.#head = h;
    const streams = this.#streams;
    let i = 0;
    while (i < streams.length && outlet.room()) {
      const tx = streams[i++]!;
      tx.held = false;
      tx.queued--;
      this.#count--;
      outlet.putStream(tx, tx.heldFlags, tx.heldDelta);
    }
    if (i === streams.length) streams.length = 0;
    else if (i > 0) streams.splice(0, i);
  }

  /** The peer does not drain what it asks for: tell the owner, once, outside the caller's work. */
  #flood(): false {
    if (!this.#flooded) {
      this.#flooded = true;
      const onFlood = this.#onFlood;
      if (onFlood !== null) queueMicrotask(onFlood);
    }
    return false;
  }
}
