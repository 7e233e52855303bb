// The layer order of src/, checked in `npm test` (`npm run deps`): imports point down only,
// and there are no import circles.
//   cli -> experiments -> train / eval / inference -> objectives -> nn -> backend
// with data, random, viz, io, math, report, modelling and the single-file modules (tf.ts, errors.ts, progress.ts,
// yieldToEventLoop.ts) as leaves that import no layer. index.ts, the library entry, may import anything.
const LAYERS = ['cli', 'experiments', 'train|eval|inference', 'objectives', 'nn', 'backend'];
const LEAVES =
  '^src/(data|random|viz|io|math|report|modelling)/|^src/(tf|errors|progress|version|yieldToEventLoop)\\.ts$';

const upward = LAYERS.slice(1).map((layer, i) => ({
  name: `no-upward-from-${layer.split('|')[0]}`,
  comment: `${layer} sits below ${LAYERS.slice(0, i + 1).join(', ')}: it must not import them`,
  severity: 'error',
  from: { path: `^src/(${layer})/` },
  to: { path: `^src/(${LAYERS.slice(0, i + 1).join('|')})/` },
}));

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'import circles make the order of module initialisation matter',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    ...upward,
    {
      name: 'leaves-import-no-layer',
      comment:
        'data, random, viz, io, math, report, modelling and the single-file modules are leaves',
      severity: 'error',
      from: { path: LEAVES },
      to: { path: `^src/(${LAYERS.join('|')})/|^src/index\\.ts$` },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '\\.generated\\.cjs$' },
  },
};
