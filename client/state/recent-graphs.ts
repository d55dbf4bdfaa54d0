/**
 * Recently traced circuits, kept in the browser (IndexedDB) so they can be reopened after a
 * reload without tracing again: the question they answer, when, how many nodes, and the graph
 * itself as Neuronpedia JSON. The newest `keep` are kept. Every call resolves (to empty results
 * when IndexedDB is unavailable, e.g. a private window): the page works without it.
 */

export interface RecentGraph {
  id: string;
  savedAt: number;
  prompt: string;
  target: string;
  distractor: string;
  nodes: number;
  /** The graph in the Neuronpedia JSON shape. */
  json: string;
}

export type RecentGraphSummary = Omit<RecentGraph, 'json'>;

const dbName = 'circuits-xr';
const storeName = 'recent-graphs';
const keep = 10;

function open(): Promise<IDBDatabase | null> {
  if (typeof indexedDB === 'undefined') return Promise.resolve(null);
  return new Promise((resolve) => {
    const request = indexedDB.open(dbName, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(storeName, { keyPath: 'id' });
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => resolve(null);
    request.onblocked = () => resolve(null);
  });
}

function all(db: IDBDatabase): Promise<RecentGraph[]> {
  return new Promise((resolve) => {
    const request = db.transaction(storeName, 'readonly').objectStore(storeName).getAll();
    request.onsuccess = () => resolve((request.result as RecentGraph[]).sort((a, b) => b.savedAt - a.savedAt));
    request.onerror = () => resolve([]);
  });
}

export async function saveRecentGraph(entry: RecentGraph): Promise<void> {
  const db = await open();
  if (!db) return;
  const existing = await all(db);
  await new Promise<void>((resolve) => {
    const transaction = db.transaction(storeName, 'readwrite');
    const store = transaction.objectStore(storeName);
    store.put(entry);
    // Drop the oldest beyond `keep` (the new one counts).
    for (const old of existing.filter((e) => e.id !== entry.id).slice(keep - 1)) store.delete(old.id);
    transaction.oncomplete = () => resolve();
    transaction.onerror = () => resolve();
    transaction.onabort = () => resolve();
  });
  db.close();
}

export async function listRecentGraphs(): Promise<RecentGraphSummary[]> {
  const db = await open();
  if (!db) return [];
  const entries = await all(db);
  db.close();
  return entries.map(({ json: _json, ...summary }) => summary);
}

export async function loadRecentGraph(id: string): Promise<RecentGraph | null> {
  const db = await open();
  if (!db) return null;
  const entry = await new Promise<RecentGraph | null>((resolve) => {
    const request = db.transaction(storeName, 'readonly').objectStore(storeName).get(id);
    request.onsuccess = () => resolve((request.result as RecentGraph | undefined) ?? null);
    request.onerror = () => resolve(null);
  });
  db.close();
  return entry;
}
