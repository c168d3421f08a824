export { Store } from './store';
export { ErrorCode } from './errors';
export type { ThreadKvError } from './errors';
export type {
  BatchOptions,
  CodecName,
  EvictionPolicy,
  IterateOptions,
  ResolvedStoreOptions,
  RestoreInfo,
  RestoreOptions,
  SnapshotInfo,
  SnapshotOptions,
  StoreMemory,
  StoreOptions,
  StoreStats,
  UpdateOptions,
  VersionedEntry,
  WriteOptions,
} from './types';
