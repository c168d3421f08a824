// Vitest runs only Keyv's adapter test suite (`npm run test:keyv`); the
// rest of the tests run under mocha (`npm test`, "test/**/*.test.ts"),
// which does not match these *.spec.mts files.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/keyv/**/*.spec.mts'],
  },
});
