import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The build goes straight into the Go package that embeds it (internal/dashboard/dist),
// emptied first. Relative asset paths: the server serves the page at /dashboard/.
const outDir = fileURLToPath(new URL('../../internal/dashboard/dist', import.meta.url));

// `npm run dev` serves the page on Vite's dev server and forwards the API to a server
// started with `make run` (override with API=http://host:port).
const api = process.env.API ?? 'http://127.0.0.1:8080';

export default defineConfig({
  base: './',
  build: {
    outDir,
    emptyOutDir: true,
    assetsDir: 'assets',
    target: 'es2022',
    sourcemap: false,
    reportCompressedSize: false,
  },
  server: {
    proxy: {
      // The API checks the Origin of websockets and CORS requests: present the API's own.
      '/query': {
        target: api,
        ws: true,
        changeOrigin: true,
        headers: { origin: api },
      },
      '/dev': { target: api, changeOrigin: true },
    },
  },
});
