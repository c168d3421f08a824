export { Store } from './store';
export { ErrorCode } from './errors';
export type { ThreadKvError } from './errors';
export type {
  BatchOptions,
  CodecName,
  IterateOptions,
  ResolvedStoreOptions,
  StoreMemory,
  StoreOptions,
  UpdateOptions,
  VersionedEntry,
} from './types';
