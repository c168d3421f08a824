export { Store } from './store';
export { ErrorCode } from './errors';
export type { ThreadKvError } from './errors';
export type {
  BatchOptions,
  CodecName,
  ComputeContext,
  GetOrComputeOptions,
  GetOrComputeSyncOptions,
  EvictionPolicy,
  IterateOptions,
  ResolvedStoreOptions,
  StoreMemory,
  StoreOptions,
  StoreStats,
  UpdateOptions,
  VersionedEntry,
  WriteOptions,
} from './types';
