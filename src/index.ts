/**
 * avb — Adversarial Variational Bayes in TypeScript.
 *
 * The library: everything except the command-line layer. Usable in Node and (for the parts that
 * do not read files) in a browser bundle.
 */
export { AvbUserError } from './errors.js';
export { Rng } from './random/rng.js';
export { initBackend, currentBackend, BACKEND_NAMES } from './backend/initBackend.js';
export type { BackendInfo, BackendName, BackendChoice } from './backend/initBackend.js';
export { stopGradient } from './backend/stopGradient.js';
export { registerWasmKernels } from './backend/wasmKernels.js';
export type { Dataset, DataSplit } from './data/dataset.js';
export { summarize, exampleSize } from './data/dataset.js';
export { loadDataset, arrayToDataset } from './data/loadDataset.js';
export { loadMnist, MNIST_FILES } from './data/mnist.js';
export { parseIdx, readIdxFile, encodeIdx } from './data/idx.js';
export { parseNpy, readNpyFile, encodeNpy } from './data/npy.js';
export { syntheticDataset } from './data/synthetic.js';
export { EIGHT_SCHOOLS_CLASSIC, EIGHT_SCHOOLS_PAPER } from './data/eightSchools.js';
export type { EightSchoolsData } from './data/eightSchools.js';
export { MinibatchSampler } from './data/sampler.js';
