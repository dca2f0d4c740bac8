/* global document, setTimeout, clearTimeout */
/**
 * Live pages: run `tick` now and again after the interval it returns (ms), never two at
 * once, paused while the tab is hidden, stopped when the page is left.
 */
export function poll(tick) {
  let timer;
  let running = false;
  let stopped = false;
  let pending = false;

  const run = async () => {
    if (stopped) return;
    if (running) {
      pending = true;
      return;
    }
    clearTimeout(timer);
    running = true;
    let next = 5000;
    try {
      next = (await tick()) ?? 5000;
    } catch (e) {
      // A fault of the page itself (ticks report API errors themselves): show it, keep polling.
      setTimeout(() => { throw e; });
    } finally {
      running = false;
    }
    if (stopped) return;
    if (pending) {
      pending = false;
      void run();
      return;
    }
    if (!document.hidden) timer = setTimeout(run, next);
  };
  const onVisibility = () => {
    if (!document.hidden) void run();
    else clearTimeout(timer);
  };
  document.addEventListener('visibilitychange', onVisibility);
  void run();
  return {
    /** Refresh at once (after an action). */
    now: () => void run(),
    stop() {
      stopped = true;
      clearTimeout(timer);
      document.removeEventListener('visibilitychange', onVisibility);
    },
  };
}
