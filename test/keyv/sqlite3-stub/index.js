'use strict';
// See test/keyv/README.md: @keyv/test-suite lists sqlite3 as a dependency but
// never loads it, and sqlite3's install step downloads a binary (or builds
// SQLite from source). package.json "overrides" points it here instead.
throw new Error('sqlite3 is stubbed out in this repository (test/keyv/sqlite3-stub)');
