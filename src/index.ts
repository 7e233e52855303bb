/**
 * avb — Adversarial Variational Bayes in TypeScript.
 *
 * The library's core: networks, objectives, training, estimators and inference, with no Node
 * built-in anywhere below it, so it bundles for browsers (a test bundles it for the browser
 * platform). Reading files, run folders, checkpoints on disk, figures and reports are in
 * `avb/node` (`src/node.ts`), which re-exports this too.
 */
/**
 * avb — Adversarial Variational Bayes in TypeScript.
 *
 * The library: everything except the command-line layer. Usable in Node and (for the parts that
 * do not read files) in a browser bundle.
 */
/** The tfjs namespace avb runs on: use it to write models, so that only one copy is loaded. */
export * as tf from './tf.js';
export { AvbUserError } from './errors.js';
export { Rng } from './random/rng.js';
export { initBackend, currentBackend, BACKEND_NAMES } from './backend/initBackend.js';
export type { BackendInfo, BackendName, BackendChoice } from './backend/initBackend.js';
export { stopGradient } from './backend/stopGradient.js';
export { registerWasmKernels } from './backend/wasmKernels.js';
export type { Dataset, DataSplit, DataInfo } from './data/dataset.js';
export { summarize, exampleSize, dataInfo } from './data/dataset.js';
export { syntheticDataset } from './data/synthetic.js';
export { EIGHT_SCHOOLS_CLASSIC, EIGHT_SCHOOLS_PAPER } from './data/eightSchools.js';
export type { EightSchoolsData } from './data/eightSchools.js';
export { MinibatchSampler } from './data/sampler.js';
export { Module } from './nn/module.js';
export { Dense, Mlp, Conv2d, Conv2dTranspose, ACTIVATIONS } from './nn/layers.js';
export type { Activation } from './nn/layers.js';
export * from './nn/encoders.js';
export * from './nn/decoders.js';
export * from './nn/adversaries.js';
export type {
  Parts,
  Objective,
  ObjectiveOutput,
  ObjectiveOptions,
} from './objectives/objective.js';
export { avbObjective, adversaryLoss } from './objectives/avb.js';
export {
  adaptiveContrastObjective,
  contrastMoments,
  AC_VARIANCE_FLOOR,
} from './objectives/adaptiveContrast.js';
export { vaeObjective, gaussianKl } from './objectives/vaeElbo.js';
export { Adam } from './train/adam.js';
export type { AdamConfig, AdamState } from './train/adam.js';
export { Trainer } from './train/trainer.js';
export type { TrainerConfig, TrainerState } from './train/trainer.js';
export { fit, MAX_ROLLBACKS } from './train/fit.js';
export type {
  Fittable,
  FitOptions,
  FitResult,
  StepMetrics,
  StepResult,
  Divergence,
} from './train/fit.js';
export { LossStepper } from './train/lossStepper.js';
export type { LossStepperSnapshot } from './train/lossStepper.js';
export { scheduleFactor } from './train/lrSchedule.js';
export type { LrSchedule } from './train/lrSchedule.js';
export { gridLogLikelihood, DEFAULT_GRID } from './eval/gridLogLikelihood.js';
export { resolveConfig, defaultConfig, METHODS } from './experiments/config.js';
export type { RunConfig, Method, ConfigOverrides } from './experiments/config.js';
export { buildParts, objectiveFor, disposeParts } from './experiments/buildParts.js';
export { estimateHeldOut, heldOutSet } from './experiments/heldOut.js';
export type { HeldOutEstimate, HeldOutSet } from './experiments/heldOut.js';
export type { BayesianModel, Draws } from './inference/model.js';
export {
  eightSchoolsPaper,
  eightSchoolsClassic,
  classicPosteriorMoments,
} from './inference/eightSchoolsModel.js';
export { nuts, DEFAULT_NUTS } from './inference/nuts.js';
export {
  splitRhat,
  rankNormalizedRhat,
  effectiveSampleSize,
  essBulk,
  essTail,
} from './math/mcmcDiagnostics.js';
export { drawsToCsv } from './inference/draws.js';
export type { NutsOptions, NutsResult } from './inference/nuts.js';
export {
  advi,
  avbInference,
  DEFAULT_ADVI,
  DEFAULT_AVB_INFERENCE,
} from './inference/variational.js';
export type {
  VariationalOptions,
  VariationalResult,
  AdviOptions,
  AvbInferenceOptions,
  ContrastKind,
  InferenceProgress,
} from './inference/variational.js';
export { knnKl } from './inference/knnKl.js';
export { declareModel } from './inference/declaredModel.js';
export type {
  ModelDeclaration,
  DeclaredModel,
  ParameterValues,
} from './inference/declaredModel.js';
export { MODEL_KIT } from './inference/modelKit.js';
export type { ModelKit } from './inference/modelKit.js';
export { SAMPLER_COLUMNS } from './inference/nuts.js';
export { laplaceApproximation, whitenedModel } from './inference/laplace.js';
export { marginalAccuracy, wasserstein1 } from './math/marginalAccuracy.js';
export { importanceCheck } from './math/importanceCheck.js';
export { paretoKHat } from './math/paretoKHat.js';
export { aisLogLikelihood, DEFAULT_AIS, annealingSchedule } from './eval/ais.js';
export type { AisOptions, AisResult, AisStart } from './eval/ais.js';
export { importanceSampledLogLikelihood } from './eval/importanceSampling.js';
export { buildTrainer } from './experiments/buildTrainer.js';
export {
  posteriorSamples,
  pointNames,
  SYNTHETIC_OPTIMUM,
  POSTERIOR_SAMPLES,
} from './experiments/syntheticPosterior.js';
