import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The build goes straight into the Go package that embeds it (internal/graphiql/dist),
// emptied first: React, GraphiQL and its CSS are bundled, so the page needs no network.
const outDir = fileURLToPath(new URL('../../internal/graphiql/dist', import.meta.url));

export default defineConfig({
  base: './',
  build: {
    outDir,
    emptyOutDir: true,
    assetsDir: 'graphiql',
    target: 'es2022',
    sourcemap: false,
    reportCompressedSize: false,
    chunkSizeWarningLimit: 4096,
  },
});
