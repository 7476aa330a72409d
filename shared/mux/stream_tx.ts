/**
 * The writer's record of one stream, shared by the stream (which makes it)
 * and the session's frame writer (which reads and updates it). Its own file
 * so that neither of the two imports the other.
 *
 * @module
 */

/**
 * A stream as the writer sees it: the flags it still owes the peer, where
 * its last frame sits, and the WindowUpdate it has waiting outside the batch.
 * One per stream, made with the stream; the writer reads and updates it, so
 * no frame costs an allocation.
 *
 * @example
 * ```ts
 * const tx = streamTx(3);
 * tx.owed |= Flag.SYN; // the stream's next frame carries SYN
 * ```
 */
export interface StreamTx {
  /** Stream id. */
  readonly id: number;
  /**
   * SYN or ACK not sent yet. The stream's next frame put into a batch carries
   * them; if it has none when the batch is taken, a WindowUpdate does.
   */
  owed: number;
  /** Sequence number of the batch holding the stream's last frame; -1 for none. */
  batch: number;
  /** Offset of that frame's header in the batch buffer. */
  at: number;
  /** The stream's frames waiting outside the batch (for room, or behind held control frames). */
  queued: number;
  /**
   * True while the stream has one WindowUpdate held outside the batch (the
   * batch was full): later updates of the stream merge into it instead of
   * queueing frames of their own.
   */
  held: boolean;
  /** Flags of the held WindowUpdate (ORed together). */
  heldFlags: number;
  /** Window delta of the held WindowUpdate (summed). */
  heldDelta: number;
}

/** Makes the writer's record of stream `id`. */
export function streamTx(id: number): StreamTx {
  return { id, owed: 0, batch: -1, at: 0, queued: 0, held: false, heldFlags: 0, heldDelta: 0 };
}
