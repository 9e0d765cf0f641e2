// A router plugin for `--replicas N --router ./examples/by-id.mjs` (docs/plugins.md): static
// sharding, request id modulo the number of replicas (a program's calls may land on different
// replicas). Options: none.

export const router = {
  name: 'by-id',
  description: 'request id modulo the replicas (static sharding)',
  source: 'examples/by-id.mjs (docs/plugins.md): a plugin example, not from a paper',
  create(opts) {
    if (Object.keys(opts).length > 0) throw new Error('by-id takes no options');
    return (ctx) => ({ name: 'by-id', route: (id) => id % ctx.replicas.length });
  },
};
