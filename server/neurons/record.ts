/** The store's record format lives in shared/ (the in-browser engine reads prebuilt stores too). */
export * from '../../shared/neurons/record.js';
