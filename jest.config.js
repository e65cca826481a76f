// One Jest run over every workspace package, action and example (ESM + ts-jest).
/** @type {import('jest').Config} */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: {
    // NodeNext sources import './x.js'; map to the .ts file for ts-jest.
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: '<rootDir>/tsconfig.json' }],
  },
  testMatch: [
    '<rootDir>/{packages,actions,examples}/*/__tests__/**/*.test.ts',
    '<rootDir>/scripts/__tests__/**/*.test.ts',
  ],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  modulePathIgnorePatterns: ['<rootDir>/actions/.*/dist/', '<rootDir>/packages/cli/dist/'],
  testTimeout: 30000,
};
