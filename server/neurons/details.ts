/** Stored records → the protocol's pieces: in shared/ (the in-browser engine answers from stores too). */
export * from '../../shared/neurons/details.js';
