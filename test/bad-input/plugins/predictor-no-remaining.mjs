// A predictor whose instances lack remaining().
export const predictor = {
  name: 'q',
  create: () => ({ name: 'q', refineEvery: Infinity, attach() {}, predicted: () => 1, bucket: () => -1, quality: () => ({ kendall_tau: null, mae_tokens: null, bucket_accuracy: null }) }),
};
