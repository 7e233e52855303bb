/**
 * avb for Node.js (`avb/node`): the core library (`avb`) and what needs Node: data files (IDX,
 * NPY, MNIST), run folders and checkpoints on disk, evaluation of runs, the methods comparison
 * with its figure, PNG grids and plots.
 */
export * from './index.js';
export { loadDataset, loadExamples, arrayToDataset } from './data/loadDataset.js';
export { loadMnist, MNIST_FILES } from './data/mnist.js';
export { parseIdx, readIdxFile, encodeIdx } from './data/idx.js';
export { parseNpy, readNpyFile, encodeNpy } from './data/npy.js';
export { saveCheckpoint, loadCheckpoint, CHECKPOINT_FORMAT } from './train/checkpoint.js';
export { trainRun, RUN_FILES } from './experiments/trainRun.js';
export type { TrainRunOptions, TrainRunResult, TrainSummary } from './experiments/trainRun.js';
export { loadRun } from './experiments/loadRun.js';
export type { LoadedRun } from './experiments/loadRun.js';
export { generate, reconstruct, encode } from './experiments/applyModel.js';
export type { Encoding } from './experiments/applyModel.js';
export { imageGridPng } from './viz/imageGrid.js';
export {
  runInference,
  compareMethods,
  posteriorSummary,
  methodSummary,
  symmetrised,
  INFERENCE_METHODS,
} from './inference/compare.js';
export type {
  InferOptions,
  MethodResult,
  Comparison,
  InferenceMethod,
  QuantitySummary,
} from './inference/compare.js';
export { runSelfcheck } from './experiments/selfcheck.js';
export { evaluateRun } from './experiments/evaluateRun.js';
export type { EvalOptions, EvalResult } from './experiments/evaluateRun.js';
export {
  plotPng,
  posteriorScatterSpec,
  posteriorPanelsSpec,
  curvesSpec,
  GROUP_COLOURS,
} from './viz/plotPng.js';
export type { CurvePoint, PosteriorScatterOptions } from './viz/plotPng.js';
export { reportMarkdown, reportHtml, writeReport, markdownTable } from './report/report.js';
export type { ReportDoc, ReportFigure, ReportTable } from './report/report.js';
export { runReproduction, REPRODUCTIONS } from './experiments/reproduce/runReproduction.js';
export type { ReproduceOptions, ReproduceResult } from './experiments/reproduce/runReproduction.js';
export { inferRun, readInferConfig, INFER_FILES } from './experiments/inferRun.js';
export type { InferRunConfig, InferRunOptions, InferRunResult } from './experiments/inferRun.js';
export { comparisonTable, comparisonFigure, displayName } from './experiments/comparisonReport.js';
export { listPosteriors, readReferenceDraws } from './experiments/posteriordb.js';
export type { PosteriorEntry } from './experiments/posteriordb.js';
export { readJsonData } from './io/jsonData.js';
