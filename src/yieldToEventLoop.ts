/**
 * Lets signal handlers, progress output and (in a browser) the page run between steps of long
 * work. `setImmediate` where it exists (Node: no timer clamping), else a zero-delay timeout.
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) =>
    typeof setImmediate === 'function' ? setImmediate(resolve) : setTimeout(resolve, 0),
  );
}
