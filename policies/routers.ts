/**
 * Routers: which replica a submitted request (or program call) goes to, in a cluster of replicas
 * behind one router (`--replicas N --router NAME`). A router decides once, at submission; requests
 * move afterwards only with live migration (`--migration on`, sim/migration.ts). Ties go to the lowest replica index.
 *
 * Sources: docs/spec.md §6 (Autellix's locality-aware balancer, Algorithm 2), §9
 * (Llumnix's freeness dispatch), §16 (Preble's E2), SGLang's router (`cache_aware` policy of
 * sgl-router), and the common load-balancing baselines (round-robin, random, least outstanding
 * requests/tokens, power of two choices: Mitzenmacher, IEEE TPDS 2001). The cache-aware routers
 * (`prefix-affinity`, `preble`) read each replica's cached prefix of the request
 * (`ReplicaLoad.cachedPrefixTokens`: 0 everywhere without `--prefix-caching on`).
 */
import type { ReplicaLoad, Router, RouterContext } from '../sim/router.ts';
import { checkChoice } from '../sim/errors.ts';
import { RUNNING } from '../sim/requests.ts';
import { OptionReader } from './options.ts';
import { workloadAwareRouter } from './workload-aware.ts';

/** A registered router: its constructor and what `sim routers` shows. */
export interface RouterEntry {
  /** CLI name (`--router NAME`). */
  name: string;
  /** One line: what it does. */
  description: string;
  /** The paper or system it comes from. */
  source: string;
  /**
   * Whether it reads predicted output lengths (`RouterContext.predictor`): then `--predictor`
   * chooses the predictor (default the policy's, else {@link DEFAULT_ROUTER_PREDICTOR}).
   */
  predictor?: boolean;
  /**
   * Whether it keeps state by replica index (a program's home, a per-replica window), so it needs
   * a fixed set of replicas: not with auto-scaling (`--autoscale on`), where the router sees the
   * serving replicas only and that list changes.
   */
  fixedReplicas?: boolean;
  /**
   * Reads the router's options and returns what builds it for one run, given its replicas.
   * @param opts the `--router-opt key=value` pairs.
   * @throws InputError (field `--router-opt`) for an unknown option or a value out of range.
   */
  create(opts: Record<string, string>): (ctx: RouterContext) => Router;
}

/** Index of the replica with the smallest `load` (ties: lowest index). */
function argmin(replicas: readonly ReplicaLoad[], load: (r: ReplicaLoad) => number): number {
  let best = 0;
  let bestLoad = load(replicas[0]);
  for (let i = 1; i < replicas.length; i++) {
    const l = load(replicas[i]);
    if (l < bestLoad) {
      best = i;
      bestLoad = l;
    }
  }
  return best;
}

const byRequests = (r: ReplicaLoad) => r.outstandingRequests;
const byTokens = (r: ReplicaLoad) => r.outstandingTokens;
const byFreeness = (r: ReplicaLoad) => -r.freeness;

/** A router with no options, from its routing function. */
function simple(name: string, description: string, source: string, make: (ctx: RouterContext) => (id: number, now: number) => number): RouterEntry {
  return {
    name,
    description,
    source,
    create(opts) {
      new OptionReader('--router-opt', name, opts, []);
      return (ctx) => ({ name, route: make(ctx) });
    },
  };
}

/** Round-robin: replica i mod N for the i-th submission. */
export const roundRobin = simple('round-robin', 'each submission to the next replica in turn', 'common baseline (Autellix §6.3, Llumnix §6)', (ctx) => {
  let next = 0;
  // Modulo the current count: with auto-scaling the list of replicas changes during a run.
  return () => {
    const r = next % ctx.replicas.length;
    next = r + 1;
    return r;
  };
});

/** Uniformly random replica. */
export const random = simple('random', 'a uniformly random replica', 'common baseline', (ctx) => () => Math.floor(ctx.random() * ctx.replicas.length));

/** Fewest unfinished requests ("least used" in Autellix's baselines). */
export const leastRequests = simple(
  'least-requests',
  'the replica with the fewest outstanding requests (waiting + running + swapped)',
  "common baseline; Autellix's \"Least Used\" (docs/spec.md §6)",
  (ctx) => () => argmin(ctx.replicas, byRequests),
);

/** Fewest outstanding tokens. */
export const leastTokens = simple(
  'least-tokens',
  'the replica with the fewest outstanding tokens (Σ prompt + generated over unfinished requests)',
  'common baseline (e.g. token-based load balancing in LLM gateways)',
  (ctx) => () => argmin(ctx.replicas, byTokens),
);

/** Power of two choices on outstanding requests. */
export const powerOfTwo = simple(
  'power-of-two',
  'two distinct random replicas, the one with fewer outstanding requests',
  'Mitzenmacher, The Power of Two Choices in Randomized Load Balancing, IEEE TPDS 2001',
  (ctx) => () => {
    const n = ctx.replicas.length;
    if (n === 1) return 0;
    const a = Math.floor(ctx.random() * n);
    let b = Math.floor(ctx.random() * (n - 1));
    if (b >= a) b++;
    return ctx.replicas[b].outstandingRequests < ctx.replicas[a].outstandingRequests ? b : a;
  },
);

/**
 * Llumnix dispatch: highest freeness (live migration is `--migration on`: sim/migration.ts,
 * policies/llumnix.ts). Option `headroom` (blocks, default 0): a replica running a high-priority
 * request (`RequestTable.priority`) has that many more blocks of virtual usage (§4.4), so its
 * freeness is (free − watermark − waiting blocks − headroom) / (running + waiting requests).
 */
export const llumnix: RouterEntry = {
  name: 'llumnix',
  description: 'the replica with the highest Llumnix freeness (free KV blocks per request; `headroom` blocks less where a high-priority request runs); with --migration on, live migration too',
  source: 'Sun et al., Llumnix, arXiv 2406.03243 §4.4; docs/spec.md §9 (DISPATCH_POLICY=load, remaining_steps)',
  create(opts) {
    const o = new OptionReader('--router-opt', 'llumnix', opts, ['headroom']);
    const headroom = o.number('headroom', 0, { integer: true, min: 0, max: 2 ** 30 });
    return (ctx) => {
      const R = ctx.requests;
      if (headroom === 0 || !R.prioritized) return { name: 'llumnix', route: () => argmin(ctx.replicas, byFreeness) };
      let high = false;
      const see = (id: number) => {
        if (R.priority[id] === 1 && R.state[id] === RUNNING) high = true;
      };
      const virtual = (r: ReplicaLoad) => {
        high = false;
        r.forEachRequest(see);
        return high ? -(r.freeness - headroom / r.freenessRequests) : -r.freeness;
      };
      return { name: 'llumnix', route: () => argmin(ctx.replicas, virtual) };
    };
  },
};

/** Autellix's locality-aware load balancer (Algorithm 2). */
export const autellix: RouterEntry = {
  name: 'autellix',
  fixedReplicas: true,
  description: "calls of at most `threshold` prompt tokens to the least-used replica; longer calls to their program's replica (chosen least-used on its first long call)",
  source: 'Luo et al., Autellix, arXiv 2502.13965 §5 Algorithm 2; docs/spec.md §6',
  create(opts) {
    const o = new OptionReader('--router-opt', 'autellix', opts, ['threshold']);
    const threshold = o.number('threshold', 2048, { min: 0, integer: true });
    return (ctx) => autellixRouter(ctx, threshold);
  },
};

/** Autellix's Algorithm 2 with prompt-length threshold `threshold` (tokens). */
function autellixRouter(ctx: RouterContext, threshold: number): Router {
  const R = ctx.requests;
  // Program → its replica once one of its long calls was placed; -1 before.
  const home = new Int32Array(Math.max(1, R.programCount)).fill(-1);
  return {
    name: 'autellix',
    route(id) {
      if (R.prompt[id] <= threshold) return argmin(ctx.replicas, byRequests);
      const g = R.program[id];
      if (home[g] < 0) home[g] = argmin(ctx.replicas, byRequests);
      return home[g];
    },
  };
}

/**
 * SGLang's `cache_aware` router policy (sgl-router `src/policies/cache_aware.rs`), with the
 * defaults of its launcher (`sglang_router/router_args.py`: `--cache-threshold 0.3`,
 * `--balance-abs-threshold 64`, `--balance-rel-threshold 1.5`).
 */
export const prefixAffinity: RouterEntry = {
  name: 'prefix-affinity',
  description: 'SGLang cache_aware: fewest outstanding requests if imbalanced; else the longest cached prefix if its match rate > cache-threshold, else the fewest outstanding tokens',
  source: 'SGLang router (sgl-router) cache_aware policy: src/policies/cache_aware.rs, defaults of sglang_router/router_args.py',
  create(opts) {
    const o = new OptionReader('--router-opt', 'prefix-affinity', opts, ['cache-threshold', 'balance-abs', 'balance-rel']);
    const cacheThreshold = o.number('cache-threshold', 0.3, { min: 0, max: 1 });
    const balanceAbs = o.number('balance-abs', 64, { min: 0, integer: true });
    const balanceRel = o.number('balance-rel', 1.5, { min: 0 });
    return (ctx) => prefixAffinityRouter(ctx, cacheThreshold, balanceAbs, balanceRel);
  },
};

/** {@link prefixAffinity} with its three thresholds. */
function prefixAffinityRouter(ctx: RouterContext, cacheThreshold: number, balanceAbs: number, balanceRel: number): Router {
  const reps = ctx.replicas;
  const R = ctx.requests;
  return {
    name: 'prefix-affinity',
    route(id) {
      let max = -Infinity;
      let min = Infinity;
      for (const r of reps) {
        max = Math.max(max, r.outstandingRequests);
        min = Math.min(min, r.outstandingRequests);
      }
      // Imbalanced (both conditions, as SGLang): shortest queue.
      if (max - min > balanceAbs && max > balanceRel * min) return argmin(reps, byRequests);
      // Balanced: the longest cached prefix (ties: lowest index).
      let best = 0;
      let bestHit = reps[0].cachedPrefixTokens(id);
      for (let i = 1; i < reps.length; i++) {
        const h = reps[i].cachedPrefixTokens(id);
        if (h > bestHit) {
          best = i;
          bestHit = h;
        }
      }
      const prompt = R.prompt[id];
      const rate = prompt > 0 ? bestHit / prompt : 0;
      if (rate > cacheThreshold) return best;
      // SGLang: the worker with the smallest approximate tree (most cache room); here the one
      // holding the fewest tokens of unfinished requests.
      return argmin(reps, byTokens);
    },
  };
}

/** Preble's E2 global scheduler (docs/spec.md §16), in token units. */
export const preble: RouterEntry = {
  name: 'preble',
  fixedReplicas: true,
  description: 'Preble E2: the longest cached prefix (least load cost among its holders) if the uncached part is shorter, else the least load cost (window miss tokens + outstanding tokens)',
  source: 'Srivatsa et al., Preble, arXiv 2407.00023 §4 (E2); WukLab/preble preble/global_scheduler_with_time.py; docs/spec.md §16',
  create(opts) {
    const o = new OptionReader('--router-opt', 'preble', opts, ['window', 'decode-weight']);
    const window = o.number('window', 180, { min: 0 });
    const decodeWeight = o.number('decode-weight', 1, { min: 0 });
    return (ctx) => prebleRouter(ctx, window, decodeWeight);
  },
};

/**
 * Per replica, the uncached prompt tokens routed to it at times in (now − window, now]: a FIFO of
 * (time, tokens) (routing times never decrease) and their running sum.
 */
class MissWindow {
  private times: number[] = [];
  private tokens: number[] = [];
  private head = 0;
  sum = 0;

  add(now: number, tokens: number): void {
    this.times.push(now);
    this.tokens.push(tokens);
    this.sum += tokens;
  }

  /** Drops the entries routed at or before `now − window`. */
  expire(now: number, window: number): void {
    while (this.head < this.times.length && this.times[this.head] <= now - window) {
      this.sum -= this.tokens[this.head];
      this.head++;
    }
    if (this.head === this.times.length) {
      // Empty: reset, so the sum carries no rounding residue and the arrays do not grow.
      this.times.length = 0;
      this.tokens.length = 0;
      this.head = 0;
      this.sum = 0;
    } else if (this.head > 1024 && this.head * 2 > this.times.length) {
      this.times = this.times.slice(this.head);
      this.tokens = this.tokens.slice(this.head);
      this.head = 0;
    }
  }
}

/** {@link preble} with window `window` seconds and decode weight `decodeWeight`. */
function prebleRouter(ctx: RouterContext, window: number, decodeWeight: number): Router {
  const reps = ctx.replicas;
  const R = ctx.requests;
  const windows = reps.map(() => new MissWindow());
  const hits = new Float64Array(reps.length);
  const cost = new Float64Array(reps.length);
  return {
    name: 'preble',
    route(id, now) {
      let longest = 0;
      for (let i = 0; i < reps.length; i++) {
        windows[i].expire(now, window);
        cost[i] = windows[i].sum + decodeWeight * reps[i].outstandingTokens;
        hits[i] = reps[i].cachedPrefixTokens(id);
        longest = Math.max(longest, hits[i]);
      }
      const prompt = R.prompt[id];
      // Exploit when the missed part is shorter than the match: only replicas holding the longest match.
      const exploit = longest > 0 && prompt - longest < longest;
      let best = -1;
      for (let i = 0; i < reps.length; i++) {
        if (exploit && hits[i] < longest) continue;
        if (best < 0 || cost[i] < cost[best]) best = i;
      }
      windows[best].add(now, prompt - hits[best]);
      return best;
    },
  };
}

/** The workload-aware router after Jain et al. (policies/workload-aware.ts). */
export const workloadAware: RouterEntry = {
  name: 'workload-aware',
  description: 'the replica where the request adds the least estimated latency (its own + the delay to requests there), priced by the cost model from each replica\'s prefill/decode mix and predicted lengths',
  source: 'after Jain et al., Intelligent Router for LLM Workloads, arXiv 2408.13510 (greedy, no RL; estimator: docs/policies.md)',
  predictor: true,
  create(opts) {
    const o = new OptionReader('--router-opt', 'workload-aware', opts, ['others-weight']);
    const w = o.number('others-weight', 1, { min: 0 });
    return (ctx) => workloadAwareRouter(ctx, w);
  },
};

/** All registered routers, in the order `sim routers` lists them. */
export const ROUTERS: readonly RouterEntry[] = [roundRobin, random, leastRequests, leastTokens, powerOfTwo, llumnix, autellix, prefixAffinity, preble, workloadAware];

/** The predictor of a router that reads predicted lengths when the policy has none (`sim predictors`). */
export const DEFAULT_ROUTER_PREDICTOR = 'ssjf-buckets';

/** Default router. */
export const DEFAULT_ROUTER = 'round-robin';

/**
 * Looks a router up by CLI name.
 * @throws InputError listing the valid names when unknown.
 */
export function getRouter(name: string): RouterEntry {
  checkChoice('router', name, ROUTERS.map((r) => r.name));
  return ROUTERS.find((r) => r.name === name)!;
}
