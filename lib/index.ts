export { Store } from './store';
export { ErrorCode } from './errors';
export type { ThreadKvError } from './errors';
export type { CodecName, ResolvedStoreOptions, StoreMemory, StoreOptions } from './types';
