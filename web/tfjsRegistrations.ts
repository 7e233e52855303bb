// tfjs-core's gradient and chained-op registrations, as ES modules (browser builds only; see
// vite.config.ts).
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops';
