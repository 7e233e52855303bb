// Builds avb's optional native addon (native/blas.c -> native/build/avb_blas.node): matrix
// products through OpenBLAS for the wasm backend. Runs at `npm ci` (prepare). It needs a C
// compiler, Node's headers and OpenBLAS (Debian: apt-get install libopenblas-dev); without them
// it prints why and succeeds, and avb uses XNNPACK's kernels. AVB_NO_NATIVE=1 skips it.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';

const out = join('native', 'build', 'avb_blas.node');
const skip = (why) => {
  process.stderr.write(`avb: native BLAS addon not built (${why}); using XNNPACK's kernels\n`);
  rmSync(out, { force: true });
  process.exit(0);
};
if (process.env.AVB_NO_NATIVE === '1') skip('AVB_NO_NATIVE=1');
if (process.platform !== 'linux') skip(`no build recipe for ${process.platform} yet`);
const prefix = process.config.variables.node_prefix ?? dirname(dirname(process.execPath));
const include = [join(prefix, 'include', 'node'), '/usr/include/node'].find((d) =>
  existsSync(join(d, 'node_api.h')),
);
if (!include) skip("Node's headers (node_api.h) not found");
const cblas = [
  '/usr/include/x86_64-linux-gnu',
  '/usr/include/aarch64-linux-gnu',
  '/usr/include/openblas',
  '/usr/include',
].find((d) => existsSync(join(d, 'cblas.h')));
if (!cblas) skip('cblas.h not found: apt-get install libopenblas-dev');
mkdirSync(dirname(out), { recursive: true });
const cc = process.env.CC ?? 'cc';
const r = spawnSync(
  cc,
  [
    // -O3: the element-wise loops vectorise (GCC's -O2 cost model leaves loops of unknown
    // length with a remainder scalar).
    '-O3',
    // Multiply-adds are not fused: the fused Adam kernel must give the float32 values of the
    // per-op update exactly.
    '-ffp-contract=off',
    // sqrtf without errno, so that it vectorises.
    '-fno-math-errno',
    '-pthread',
    '-shared',
    '-fPIC',
    '-Wall',
    `-I${include}`,
    `-I${cblas}`,
    'native/blas.c',
    '-o',
    out,
    '-lopenblas',
  ],
  { encoding: 'utf8' },
);
if (r.error || r.status !== 0)
  skip(`${cc} failed: ${(r.error?.message ?? r.stderr).trim().split('\n')[0]}`);
process.stderr.write(`avb: built ${out} (OpenBLAS)\n`);
