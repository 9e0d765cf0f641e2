// A router entry whose create returns a router instead of a factory.
export const router = { name: 'r', create: () => ({ name: 'r', route: () => 0 }) };
