import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'proto/generated/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // snappy's sync calls never free their buffers on glibc Linux (Brooooooklyn/snappy#323):
      // only its async compress/uncompress may be imported, and only by name.
      'no-restricted-imports': [
        'error',
        {
          paths: [
            {
              name: 'snappy',
              importNames: ['default', 'compressSync', 'uncompressSync'],
              message: "snappy's sync API leaks memory: use proto/snappy-block.ts (async compress/uncompress).",
            },
          ],
        },
      ],
    },
  },
);
