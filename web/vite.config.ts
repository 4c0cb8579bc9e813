import { defineConfig } from 'vite';

// React without @vitejs/plugin-react: esbuild's automatic JSX runtime is all the console needs.
export default defineConfig({
  root: __dirname,
  base: '/',
  esbuild: { jsx: 'automatic' },
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: false, target: 'es2022' },
  server: { proxy: { '/api': 'http://127.0.0.1:4100' } },
});
