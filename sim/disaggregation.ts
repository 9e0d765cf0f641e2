/**
 * Disaggregated prefill and decode (Splitwise, Patel et al., ISCA 2024; DistServe, Zhong et al.,
 * OSDI 2024; Mooncake, Qin et al., FAST 2025; docs/disaggregation.md): a prefill pool runs the
 * prompts and samples each request's first token; the request then waits, frozen on its prefill
 * instance with its KV, until a decode instance chosen by the decode router can reserve the KV
 * (the decode instance pulls in FIFO order: DistServe's pull-based transfer, the prefill
 * instance's memory being the queue); the KV then crosses a link in `latency + bytes / bandwidth`
 * (sim/cost/link.ts) and the request decodes on the decode instance. This module holds the decode
 * pool's side of it: the per-instance FIFO of handed-off requests, the transfers in flight, and
 * the load the decode router sees. The simulator (sim/simulator.ts) moves requests with the
 * engine's primitives (`freeze`, `reserve`, `detach`, `adopt`). Units: tokens, bytes, seconds.
 */
import type { CostModel } from './cost/cost-model.ts';
import type { EngineConfig } from './engine-types.ts';
import type { Engine } from './engine.ts';
import type { Policy } from './policy.ts';
import type { ReplicaLoad, Router } from './router.ts';
import type { RequestTable } from './requests.ts';
import { EventQueue } from './event-queue.ts';
import { IdList } from './id-list.ts';

/** The decode pool of a disaggregated run, and how KV moves to it. */
export interface DisaggregationInput {
  /** One fresh policy instance per decode replica (their count is the pool's size, ≥ 1). */
  decodePolicy: readonly Policy[];
  /** Settings of each decode replica (its own KV capacity, budgets). */
  decodeEngine: EngineConfig;
  /** Prices the decode replicas' iterations (their GPU and TP). */
  decodeCost: CostModel;
  /** Builds the decode router over the decode replicas' loads (required with more than one). */
  decodeRouter?: (replicas: readonly ReplicaLoad[], requests: RequestTable) => Router;
  /** Bytes each GPU link carries to move the KV of `tokens` computed tokens (the largest shard). */
  transferBytes: (tokens: number) => number;
  /** Seconds a transfer of `bytes` per link takes (`latency + bytes / bandwidth`). */
  transferSeconds: (bytes: number) => number;
}

/** A FIFO of request ids (amortised O(1); its storage is reset whenever it empties). */
class IdQueue {
  private readonly list = new IdList();
  private head = 0;

  get size(): number {
    return this.list.count - this.head;
  }

  push(id: number): void {
    this.list.push(id);
  }

  /** The oldest id (the caller checked `size`). */
  peek(): number {
    return this.list.ids[this.head];
  }

  shift(): void {
    if (++this.head === this.list.count) {
      this.list.clear();
      this.head = 0;
    }
  }
}

/**
 * What the decode router reads of one decode replica: its engine's loads plus the requests handed
 * to it that it has not adopted yet (waiting for KV on their prefill instance, or in transfer), so
 * that requests handed off at one instant spread out. Freeness and cached prefixes are the
 * engine's (reserved blocks count as used).
 */
class DecodeLoad implements ReplicaLoad {
  /** Requests routed here, not adopted yet, and their Σ (prompt + generated) tokens. */
  incomingRequests = 0;
  incomingTokens = 0;
  private readonly e: Engine;
  constructor(e: Engine) {
    this.e = e;
  }
  get outstandingRequests(): number {
    return this.e.outstandingRequests + this.incomingRequests;
  }
  get outstandingTokens(): number {
    return this.e.outstandingTokens + this.incomingTokens;
  }
  get freeness(): number {
    return this.e.freeness;
  }
  get freenessRequests(): number {
    return this.e.freenessRequests;
  }
  cachedPrefixTokens(id: number): number {
    return this.e.cachedPrefixTokens(id);
  }
  /** The engine's unfinished requests (those handed here but not adopted yet are not visited). */
  forEachRequest(visit: (id: number) => void): void {
    this.e.forEachRequest(visit);
  }
}

/** The decode pool's queues and transfers. Decode replica d is engine `first + d` of the run. */
export class DecodePool {
  /** What the decode router reads, by decode replica. */
  readonly loads: DecodeLoad[];
  /** Transfers started and bytes moved per link (Σ over transfers). */
  transfers = 0;
  bytes = 0;
  private readonly pending: IdQueue[];
  /** End times of the transfers in flight, per decode replica (the skip-ahead horizon). */
  private readonly incoming: EventQueue[];
  private readonly router: Router | undefined;

  /**
   * @param engines the decode replicas' engines, by decode index; @param R the run's requests;
   * @param input the pool's settings.
   * @throws Error with several decode replicas and no decode router (a bug).
   */
  private readonly engines: readonly Engine[];
  private readonly R: RequestTable;
  private readonly input: DisaggregationInput;

  constructor(engines: readonly Engine[], R: RequestTable, input: DisaggregationInput) {
    this.engines = engines;
    this.R = R;
    this.input = input;
    this.loads = engines.map((e) => new DecodeLoad(e));
    this.pending = engines.map(() => new IdQueue());
    this.incoming = engines.map(() => new EventQueue(16));
    if (engines.length > 1) {
      if (!input.decodeRouter) throw new Error(`simulate: ${engines.length} decode replicas need a decode router`);
      this.router = input.decodeRouter(this.loads, R);
    }
  }

  /**
   * Request `id`, frozen on its prefill instance after its first token at `now`, is handed to a
   * decode replica (the decode router's choice) and queued there; transfers start as KV allows.
   * @param start called for each transfer started: (request, end time s).
   * @returns the decode index chosen.
   * @throws Error if the router returns an index out of range (a bug).
   */
  handoff(id: number, now: number, start: (id: number, end: number) => void): number {
    const D = this.engines.length;
    const d = this.router ? this.router.route(id, now) : 0;
    if (!(d >= 0 && d < D && Number.isInteger(d))) throw new Error(`router ${this.router!.name} sent request ${id} to decode replica ${d} of ${D}`);
    const R = this.R;
    this.loads[d].incomingRequests++;
    this.loads[d].incomingTokens += R.prompt[id] + R.generated[id];
    this.pending[d].push(id);
    this.pump(d, now, start);
    return d;
  }

  /**
   * Starts transfers to decode replica `d` at `now` in FIFO order while it can reserve each head's
   * KV (blocks for prompt + generated tokens, vLLM's admission size, leaving the watermark free).
   * Called at a handoff and whenever the replica is about to form a batch.
   */
  pump(d: number, now: number, start: (id: number, end: number) => void): void {
    const q = this.pending[d];
    const e = this.engines[d];
    const R = this.R;
    while (q.size > 0) {
      const id = q.peek();
      if (!e.reserve(id, R.prompt[id] + R.generated[id])) return;
      q.shift();
      const bytes = this.input.transferBytes(R.computed[id]);
      const end = now + this.input.transferSeconds(bytes);
      R.transferStart[id] = now;
      R.transferEnd[id] = end;
      this.transfers++;
      this.bytes += bytes;
      this.incoming[d].push(end, 0, id);
      start(id, end);
    }
  }

  /** The transfer of request `id` to decode replica `d` ended (the earliest in flight there): it is no longer incoming. */
  arrived(id: number, d: number): void {
    this.incoming[d].pop();
    const R = this.R;
    this.loads[d].incomingRequests--;
    this.loads[d].incomingTokens -= R.prompt[id] + R.generated[id];
  }

  /** End of the next transfer to any decode replica (s), Infinity when none is in flight. */
  nextArrival(): number {
    let t = Infinity;
    for (const q of this.incoming) if (q.peekTime() < t) t = q.peekTime();
    return t;
  }

  /** Whether requests handed to decode replica `d` wait for its KV (they pull as it forms batches). */
  queued(d: number): boolean {
    return this.pending[d].size > 0;
  }

  /** Whether requests are still queued for, or in transfer to, some decode replica. */
  busy(): boolean {
    for (const l of this.loads) if (l.incomingRequests > 0) return true;
    return false;
  }
}
