/**
 * The one place avb imports TensorFlow.js from: tfjs-core with its gradients and chained ops
 * registered, and the cpu backend (the reference every kernel is tested against). Import `tf`
 * from here, never from a tfjs package directly, so the registrations always run first.
 */
// tfjs-core first: its engine and Tensor class become the global ones that everything shares.
import '@tensorflow/tfjs-core';
// Gradients and chained ops, bundled from tfjs-core's own sources at build time
// (scripts/bundle-tfjs-gradients.mjs): the umbrella @tensorflow/tfjs is not a dependency.
import './tfjsGradients.generated.cjs';
import '@tensorflow/tfjs-backend-cpu';
// The chained ops' type declarations (Tensor.prototype.reshape and the rest).
import type {} from '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops.js';

export * from '@tensorflow/tfjs-core';
