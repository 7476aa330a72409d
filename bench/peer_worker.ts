/**
 * The receiving side of the mux benchmark, run in a Worker so sender and
 * receiver each have a thread (as server and agent have their processes).
 * Dials the address it is given, drains everything, reports the byte count.
 *
 * @module
 */

import { Session } from "../shared/mux/session.ts";
import type { Conn } from "../shared/transport/conn.ts";
import { fromDenoConn } from "../shared/transport/deno_conn.ts";
import { fromWebSocket } from "../shared/transport/websocket.ts";
import { SUBPROTOCOL } from "../shared/protocol.ts";

/** What the main thread asks the worker to receive. */
export interface PeerJob {
  /** Transport to dial. */
  transport: "tcp" | "wss";
  /** Number of mux streams to accept, or 0 for the raw transport. */
  streams: number;
  /** Port on 127.0.0.1 (wss: `localhost`). */
  port: number;
  /** CA that signed the wss server's certificate. */
  caCert: string;
}

// deno-lint-ignore no-explicit-any
const worker = self as any;

async function drain(readable: ReadableStream<Uint8Array>): Promise<number> {
  let n = 0;
  for await (const chunk of readable) n += chunk.length;
  return n;
}

async function run(job: PeerJob): Promise<number> {
  let conn: Conn;
  let httpClient: Deno.HttpClient | undefined;
  if (job.transport === "tcp") {
    conn = fromDenoConn(await Deno.connect({ hostname: "127.0.0.1", port: job.port }));
  } else {
    httpClient = Deno.createHttpClient({ caCerts: [job.caCert] });
    const ws = new WebSocket(`wss://localhost:${job.port}/`, {
      protocols: [SUBPROTOCOL],
      client: httpClient,
    });
    conn = await fromWebSocket(ws);
  }
  worker.postMessage({ ready: true });
  try {
    if (job.streams === 0) return await drain(conn.readable);
    const session = new Session(conn, { client: true });
    const drains: Promise<number>[] = [];
    for (let i = 0; i < job.streams; i++) {
      const s = await session.accept();
      if (s === null) throw new Error("Session closed before all streams arrived");
      drains.push(drain(s.readable));
    }
    const counts = await Promise.all(drains);
    await session.close();
    return counts.reduce((a, b) => a + b, 0);
  } finally {
    httpClient?.close();
  }
}

worker.onmessage = (e: MessageEvent<PeerJob>) => {
  run(e.data).then(
    (received) => worker.postMessage({ received }),
    (err) => worker.postMessage({ error: String(err) }),
  );
};
