/**
 * One neuron explanation store and its requests per app (keyed by the app's services), created
 * on first use, so the HTML panels and the in-scene panel (inside the Canvas, which bridges
 * React context) share them without a provider of their own.
 */
import type { AppServices } from '../../state/app-context.js';
import { useAppServices } from '../../state/app-context.js';
import { setupNeuronDetails, type NeuronRequests } from './neuron-requests.js';
import { createNeuronStore, type NeuronStore } from './neuron-store.js';

export interface NeuronServices {
  store: NeuronStore;
  requests: NeuronRequests;
}

const byServices = new WeakMap<AppServices, NeuronServices>();

export function neuronServicesFor(services: AppServices): NeuronServices {
  let neurons = byServices.get(services);
  if (!neurons) {
    const store = createNeuronStore();
    neurons = { store, requests: setupNeuronDetails(store, services.app, services.connection.backend) };
    byServices.set(services, neurons);
  }
  return neurons;
}

export function useNeurons(): NeuronServices {
  return neuronServicesFor(useAppServices());
}
