// The demo page: controls, views and the training worker.
import type { Method } from '../src/index.js';
import { COLOURS, drawCurves, drawLatent } from './draw.js';
import { DEMO_BACKENDS } from './protocol.js';
import type { DemoBackend, Frame, FromWorker, TrainSettings } from './protocol.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const input = (id: string) => $<HTMLInputElement>(id);

// −log 4, written out: importing avb here would load tfjs on the page's thread too.
const OPTIMUM = -Math.log(4);

/** What the page shows, also read by the end-to-end test. */
const state = {
  ready: false,
  running: false,
  backend: 'wasm' as DemoBackend,
  llHistory: [] as [number, number][],
  elbo: [] as [number, number][],
  adversary: [] as [number, number][],
  measured: {} as Partial<Record<DemoBackend, number>>,
  error: '',
};
(window as unknown as { avbDemo: typeof state }).avbDemo = state;

let worker: Worker | undefined;

function settings(): TrainSettings {
  return {
    method: $<HTMLSelectElement>('method').value as Method,
    seed: Number(input('seed').value) || 0,
    lr: Number(input('lr').value) || 1e-4,
    lrAdversary: Number(input('lrAdversary').value) || 3e-4,
    stepsPerFrame: Math.max(1, Number(input('stepsPerFrame').value) || 20),
  };
}

function newWorker(
  backend: DemoBackend,
  onFrame: (f: Frame) => void,
  onReady: () => void,
  onError?: (message: string) => void,
): Worker {
  const w = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
  w.onmessage = (e: MessageEvent<FromWorker>) => {
    const m = e.data;
    if (m.type === 'ready') {
      $('backendInfo').textContent = `backend: ${m.detail}`;
      onReady();
    } else if (m.type === 'frame') onFrame(m);
    else if (onError) onError(m.message);
    else {
      state.error = m.message;
      $('error').textContent = m.message;
      setRunning(false);
    }
  };
  w.postMessage({ type: 'init', backend });
  return w;
}

function start(backend: DemoBackend): void {
  worker?.terminate();
  state.ready = false;
  state.backend = backend;
  worker = newWorker(backend, show, () => {
    state.ready = true;
    reset();
  });
}

function reset(): void {
  setRunning(false);
  state.llHistory = [];
  state.elbo = [];
  state.adversary = [];
  worker?.postMessage({ type: 'reset', settings: settings() });
}

function setRunning(on: boolean): void {
  state.running = on;
  $('start').textContent = on ? 'Pause' : 'Start';
  worker?.postMessage({ type: on ? 'start' : 'pause' });
}

function show(f: Frame): void {
  $('step').textContent = String(f.step);
  if (f.rate > 0) {
    $('rate').textContent = f.rate.toFixed(0);
    state.measured[state.backend] = f.rate;
    showRates();
  }
  if (f.logLikelihood !== undefined) {
    state.llHistory.push([f.step, f.logLikelihood]);
    $('ll').textContent = f.logLikelihood.toFixed(3);
  }
  if (f.metrics?.elbo !== undefined) state.elbo.push([f.step, f.metrics.elbo]);
  if (f.metrics?.adversaryLoss !== undefined)
    state.adversary.push([f.step, f.metrics.adversaryLoss]);
  drawLatent($('latent'), f.samples);
  drawCurves(
    $('llCurve'),
    [
      { label: 'log-likelihood (exact)', colour: COLOURS[0], points: state.llHistory },
      { label: 'ELBO (estimate)', colour: COLOURS[2], points: state.elbo, dashed: true },
    ],
    { value: OPTIMUM, label: 'optimum −log 4' },
    [-3, -1.2],
    'nats per data point',
  );
  drawCurves(
    $('lossCurve'),
    [{ label: 'adversary loss', colour: COLOURS[1], points: state.adversary }],
    { value: 2 * Math.log(2), label: 'chance: 2 log 2' },
    [0, 2],
    'adversary loss (AVB)',
  );
}

function showRates(): void {
  const rows = DEMO_BACKENDS.filter((b) => state.measured[b] !== undefined).map(
    (b) => `<tr><td>${b}</td><td>${state.measured[b]!.toFixed(0)}</td></tr>`,
  );
  $('rates').innerHTML = `<tr><th>backend</th><th>measured steps/s</th></tr>${rows.join('')}`;
}

/**
 * Backends this browser can start: WebGL 2 through OffscreenCanvas (the worker has no page
 * canvas), WebGPU where an adapter is granted (headless browsers often expose `navigator.gpu`
 * without one).
 */
async function findBackends(): Promise<DemoBackend[]> {
  const webgl =
    typeof OffscreenCanvas !== 'undefined' && !!new OffscreenCanvas(1, 1).getContext('webgl2');
  const gpu = (navigator as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
  const webgpu = gpu ? (await gpu.requestAdapter().catch(() => null)) !== null : false;
  return DEMO_BACKENDS.filter((b) => (b === 'webgl' ? webgl : b === 'webgpu' ? webgpu : true));
}

let backends: DemoBackend[] = ['wasm'];

/** Measurement per backend: up to this many steps, or this long once two frames are in. */
const MEASURE_STEPS = 300;
const MEASURE_MS = 10_000;

/** Steps/s of one backend: a fresh worker trains until the measurement's limits, then stops. */
function measureOne(b: DemoBackend): Promise<number> {
  return new Promise<number>((resolve) => {
    const rates: number[] = [];
    let began = 0;
    const done = (w: Worker) => {
      w.terminate();
      // The first frames include compilation and warm-up: the median of the later ones.
      const later = rates.slice(Math.floor(rates.length / 3)).sort((x, y) => x - y);
      resolve(later[Math.floor(later.length / 2)] ?? 0);
    };
    const w = newWorker(
      b,
      (f) => {
        if (f.rate <= 0) return;
        rates.push(f.rate);
        began ||= performance.now();
        if (f.step >= MEASURE_STEPS || (rates.length > 2 && performance.now() - began > MEASURE_MS))
          done(w);
      },
      () => {
        w.postMessage({ type: 'reset', settings: { ...settings(), stepsPerFrame: 5 } });
        w.postMessage({ type: 'start' });
      },
      // A backend that fails to start or to train counts as 0 steps/s.
      () => {
        w.terminate();
        resolve(0);
      },
    );
  });
}

/** Measures every backend in turn, shows the rates, then switches to the fastest. */
async function measure(): Promise<void> {
  setRunning(false);
  for (const b of backends) {
    $('backendInfo').textContent = `measuring ${b}…`;
    state.measured[b] = await measureOne(b);
    showRates();
  }
  const fastest = backends.reduce((a, b) =>
    (state.measured[b] ?? 0) > (state.measured[a] ?? 0) ? b : a,
  );
  $<HTMLSelectElement>('backend').value = fastest;
  start(fastest);
}

async function setup(): Promise<void> {
  backends = await findBackends();
  const select = $<HTMLSelectElement>('backend');
  for (const b of backends) select.add(new Option(b, b, b === 'wasm', b === 'wasm'));
  select.onchange = () => start(select.value as DemoBackend);
  $('start').onclick = () => state.ready && setRunning(!state.running);
  $('reset').onclick = reset;
  $('measure').onclick = () => void measure();
  for (const id of ['method', 'seed', 'lr', 'lrAdversary']) $(id).onchange = reset;
  input('stepsPerFrame').onchange = () =>
    worker?.postMessage({ type: 'stepsPerFrame', value: settings().stepsPerFrame });
  start('wasm');
}

void setup();
