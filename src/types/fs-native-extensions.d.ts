/** The part of fs-native-extensions (ships no types) the file driver uses: advisory locks on a descriptor. */
declare module 'fs-native-extensions' {
  interface LockRange {
    /** A shared (read) lock instead of an exclusive one. */
    shared?: boolean;
  }
  /** One non-blocking attempt on the whole file; false when another descriptor holds a conflicting lock. */
  function tryLock(fd: number, options?: LockRange): boolean;
  function unlock(fd: number): void;
  const fsx: { tryLock: typeof tryLock; unlock: typeof unlock };
  export default fsx;
}
