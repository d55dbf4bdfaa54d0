/**
 * The page helpers every browser test uses: evaluate an expression in the page, wait for one to
 * hold (a timeout prints the test's state snapshot, the browser's errors and the server's log),
 * enter VR on the emulated headset, step its frames, pull a controller's trigger, take a screenshot.
 */
import { join } from 'node:path';
import type { BrowserSession } from './browser.js';
import type { RunningServer } from './server.js';

export interface PageHelpersOptions {
  browser: () => BrowserSession;
  server: () => RunningServer | undefined;
  /** An expression giving the state worth printing when a wait times out (JSON-stringified). */
  snapshot: string;
  /** Folder for screenshots. */
  artifacts: string;
}

export function createPageHelpers({ browser, server, snapshot, artifacts }: PageHelpersOptions) {
  const state = <T>(expression: string): Promise<T> => browser().page.evaluate(expression) as Promise<T>;

  const waitFor = async (expression: string, timeout = 60_000): Promise<void> => {
    try {
      await browser().page.waitForFunction(expression, null, { timeout, polling: 100 });
    } catch (error) {
      const seen = await state<string>(`JSON.stringify(${snapshot})`).catch(() => 'unavailable');
      throw new Error(`timed out waiting for ${expression}\nstate: ${seen}\nbrowser errors: ${browser().errors.join('\n')}\nserver: ${server()?.output().slice(-3000)}`, { cause: error });
    }
  };

  /** Waits for n rendered XR frames: pointers update once per frame, and software frames are slow. */
  const xrFrames = async (n: number): Promise<void> => {
    await state(`(async () => { const xr = window.__circuits.xrStore; for (let i = 0; i < ${n}; i++) await xr.requestFrame(); })()`);
  };

  /**
   * Pulls a controller's trigger for a few rendered frames, then releases it. (IWER's timed
   * `select` can press and release between two slow frames, and then no select event fires.)
   */
  const pullTrigger = async (hand: 'left' | 'right'): Promise<void> => {
    await state(`window.__circuits.xrStore.getState().emulator.controllers.${hand}.updateButtonValue('trigger', 1)`);
    await xrFrames(3);
    await state(`window.__circuits.xrStore.getState().emulator.controllers.${hand}.updateButtonValue('trigger', 0)`);
    await xrFrames(2);
  };

  /** Presses Enter VR on the emulated headset and waits for the session and both controllers. */
  const enterVr = async (): Promise<void> => {
    await waitFor(`window.__circuits.xrStore.getState().emulator != null`, 20_000);
    await browser().page.click('[data-testid=enter-vr]');
    await waitFor(`window.__circuits.xrStore.getState().session != null`, 30_000);
    await waitFor(`window.__circuits.xrStore.getState().inputSourceStates.filter((s) => s.type === 'controller').length === 2`, 30_000);
    await xrFrames(10);
  };

  const shoot = (name: string): Promise<Buffer> => browser().page.screenshot({ path: join(artifacts, `${name}.png`) });

  return { state, waitFor, xrFrames, enterVr, pullTrigger, shoot };
}

/**
 * Page script: a first-layer neuron (in front of every other slab) whose spot on screen is the
 * canvas itself, not an HTML panel lying over it, the upper rows first, clear of the token rail;
 * `{ neuron, point }` in page pixels, or an error when none is.
 */
export const clickableFirstLayerNeuron = `(() => {
  const c = window.__circuits;
  const { columns, rows, neuronsPerLayer } = c.layout();
  for (let row = rows - 2; row >= 0; row--) {
    for (const fraction of [0.5, 0.3, 0.7, 0.15, 0.85]) {
      const neuron = row * columns + Math.floor(fraction * (columns - 1));
      if (neuron >= neuronsPerLayer) continue;
      const point = c.projectNeuron(0, neuron);
      if (point && point.visible && document.elementFromPoint(point.x, point.y)?.tagName === 'CANVAS') return { neuron, point };
    }
  }
  throw new Error('no first-layer neuron is visible on the canvas');
})()`;
