/**
 * Run your own small model in this browser: drop its folder onto the page, or pick it with
 * "Open model…" (status bar). Offered where the page runs the engine in the browser (the static
 * build, or Inference: browser); on a page served by the server a drop says how to switch.
 * Before any weight is read the memory need is estimated and a model too large for this browser
 * is refused with the numbers (client/state/dropped-model.ts); otherwise the page's engine worker
 * is replaced by one for the dropped model (connection.replaceBackend) and the status bar names it.
 *
 * The overlay shows only while files are dragged over the page, so the first view stays clear.
 */
import { useEffect, useRef, useState } from 'react';
import { createStore } from 'zustand/vanilla';
import { useStore } from 'zustand';
import { useAppServices } from '../state/app-context.js';
import type { AppServices } from '../state/app-context.js';
import { createBrowserBackend, currentEngine } from '../state/engine-choice.js';
import { folderFromDrop, folderFromFileList, prepareModelFolder, readingWords, type ModelFolder } from '../state/dropped-model.js';

interface DropMessage {
  text: string;
  tone: 'busy' | 'refused';
}

const messages = createStore<{ message: DropMessage | null }>()(() => ({ message: null }));
const say = (message: DropMessage | null) => messages.setState({ message });

/** Why a dropped folder cannot run here, or null where the engine runs in this browser. */
function notHere(): string | null {
  return currentEngine().kind === 'browser' ? null : 'This page runs the model on the server: switch Inference to this browser (?engine=browser) to run a dropped model.';
}

/** Checks, reads and starts the folder's model in a new engine worker of this page. */
export async function openModelFolder(folder: ModelFolder, services: AppServices): Promise<void> {
  const { connection, app } = services;
  const elsewhere = notHere();
  if (elsewhere || !connection.replaceBackend) {
    say({ text: elsewhere ?? 'This page cannot change its engine.', tone: 'refused' });
    return;
  }
  say({ text: `Checking ${folder.name}…`, tone: 'busy' });
  const prepared = await prepareModelFolder(folder, undefined, (bytes) => say({ text: readingWords(folder.name, bytes), tone: 'busy' }));
  if (!prepared.ok) {
    say({ text: prepared.reason, tone: 'refused' });
    return;
  }
  say({ text: `Loading ${folder.name} in this browser…`, tone: 'busy' });
  connection.replaceBackend(createBrowserBackend(prepared.model));
  const unsubscribe = app.subscribe((state) => {
    if (state.model?.name === folder.name) {
      unsubscribe();
      say(null);
    } else if (state.serverState === 'error') {
      unsubscribe();
      say({ text: state.error ?? `${folder.name} could not be loaded`, tone: 'refused' });
    }
  });
}

/** "Open model…": a folder picker, in the status bar where the engine runs in this browser. */
export function OpenModelButton() {
  const services = useAppServices();
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => {
    // React does not know webkitdirectory as a prop; set it on the element.
    input.current?.setAttribute('webkitdirectory', '');
  }, []);
  if (currentEngine().kind !== 'browser') return null;
  return (
    <>
      <button type="button" data-testid="open-model" title="Run your own small model in this browser: pick its folder (config.json, model.safetensors, tokenizer.json), or drop it onto the page" onClick={() => input.current?.click()}>Open model…</button>
      <input
        ref={input}
        type="file"
        multiple
        hidden
        data-testid="model-folder-input"
        onChange={(event) => {
          const folder = folderFromFileList(event.target.files ?? []);
          event.target.value = '';
          if (folder) void openModelFolder(folder, services);
        }}
      />
    </>
  );
}

/** The drop target over the whole page (visible only while dragging) and the message of the last folder. */
export function ModelDropZone() {
  const services = useAppServices();
  const [dragging, setDragging] = useState(false);
  const message = useStore(messages, (s) => s.message);
  useEffect(() => {
    let depth = 0;
    const hasFiles = (event: DragEvent) => Array.from(event.dataTransfer?.types ?? []).includes('Files');
    const enter = (event: DragEvent) => {
      if (!hasFiles(event)) return;
      depth++;
      setDragging(true);
    };
    const over = (event: DragEvent) => {
      if (!hasFiles(event)) return;
      event.preventDefault(); // allows the drop
      if (event.dataTransfer) event.dataTransfer.dropEffect = 'copy';
    };
    const leave = (event: DragEvent) => {
      if (!hasFiles(event)) return;
      depth = Math.max(0, depth - 1);
      if (depth === 0) setDragging(false);
    };
    const drop = (event: DragEvent) => {
      if (!hasFiles(event)) return;
      event.preventDefault(); // the browser would open the file instead
      depth = 0;
      setDragging(false);
      const elsewhere = notHere();
      if (elsewhere) {
        say({ text: elsewhere, tone: 'refused' });
        return;
      }
      const items = event.dataTransfer?.items;
      if (!items) return;
      // The entries must be taken during the event; reading them may follow.
      void folderFromDrop(items).then(
        (folder) => folder ? openModelFolder(folder, services) : say({ text: 'Nothing to open was dropped: drop a model folder (config.json, model.safetensors, tokenizer.json).', tone: 'refused' }),
        (error: unknown) => say({ text: `The dropped folder could not be read (${(error as Error).message})`, tone: 'refused' }),
      );
    };
    window.addEventListener('dragenter', enter);
    window.addEventListener('dragover', over);
    window.addEventListener('dragleave', leave);
    window.addEventListener('drop', drop);
    return () => {
      window.removeEventListener('dragenter', enter);
      window.removeEventListener('dragover', over);
      window.removeEventListener('dragleave', leave);
      window.removeEventListener('drop', drop);
    };
  }, [services]);
  return (
    <>
      {dragging && (
        <div className="model-drop-overlay" data-testid="model-drop-overlay">
          <div className="model-drop-card">{notHere() ?? 'Drop a model folder to run it in this browser (config.json + model.safetensors + tokenizer.json, or a llama2.c .bin)'}</div>
        </div>
      )}
      {message && (
        <div className={`panel model-drop-message ${message.tone}`} role={message.tone === 'refused' ? 'alert' : 'status'} data-testid={message.tone === 'refused' ? 'model-refusal' : 'model-drop-status'}>
          <span>{message.text}</span>
          {message.tone === 'refused' && <button type="button" aria-label="close" data-testid="model-refusal-close" onClick={() => say(null)}>×</button>}
        </div>
      )}
    </>
  );
}
