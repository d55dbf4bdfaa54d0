/**
 * Everything a component needs from the app, provided once at the root: the discrete store, the
 * streamed activation store and the connection's actions.
 */
import { createContext, useContext } from 'react';
import type { ActivationStore } from './activation-store.js';
import type { AppStore } from './app-store.js';
import type { Connection } from './connection.js';

export interface AppServices {
  app: AppStore;
  activations: ActivationStore;
  connection: Connection;
}

export const AppServicesContext = createContext<AppServices | null>(null);

export function useAppServices(): AppServices {
  const services = useContext(AppServicesContext);
  if (!services) throw new Error('useAppServices outside AppServicesContext');
  return services;
}
