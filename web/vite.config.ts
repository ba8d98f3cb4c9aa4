// Vite build of the Aldis web client into web/dist, which aldis serves at `/`.
// Relative asset paths ("./") so the client also works under a sub-path.
import { defineConfig } from 'vite';

export default defineConfig({
  base: './',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: 'dist',
    target: 'es2020',
    sourcemap: false,
    chunkSizeWarningLimit: 400,
  },
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
    setupFiles: ['src/xmpp/test-dom.ts'],
  },
} as any);
