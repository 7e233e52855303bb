/**
 * How long work reports progress (AIS, NUTS, ADVI, AVB inference, evaluation): `done` of
 * `total` units finished, with optional figures to show beside the count (`elbo -2.31`).
 * Training reports each step's metrics instead (`TrainRunOptions.onStep`).
 */
export type Progress = (done: number, total: number, figures?: string) => void;
