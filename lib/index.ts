export { Store } from './store';
export { Watcher, type WatcherEvents } from './watch';
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
  RestoreInfo,
  RestoreOptions,
  SnapshotInfo,
  SnapshotOptions,
  StoreMemory,
  StoreOptions,
  StoreStats,
  UpdateOptions,
  VersionedEntry,
  WatchEventType,
  WatchOptions,
  WriteOptions,
  ChangeEvent,
  ChangeType,
} from './types';
