export { Module, Sequential } from './module.js';
export * from './layers.js';
