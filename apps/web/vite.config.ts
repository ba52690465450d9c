import { createRequire } from 'node:module';
import react from '@vitejs/plugin-react';
import { defineConfig, type PluginOption } from 'vite';

/**
 * The gateway serves `dist` at /app (services/gateway/src/http/web-app.ts), caching `assets/`
 * for ever: Vite's content-hashed names make that safe. In development, `vite` proxies the API to
 * a gateway (STEPWISE_GATEWAY, default http://127.0.0.1:8080); the Host header is kept
 * (changeOrigin: false), so the gateway sees the page's own origin and accepts cookie writes.
 */
const gateway = process.env['STEPWISE_GATEWAY'] ?? 'http://127.0.0.1:8080';

const ownVite = createRequire(import.meta.url)('vite/package.json') as { version: string };

/**
 * The Vite that @vitejs/plugin-react imports. npm hoists the plugin to the repository root,
 * where vitest's Vite 8 lives, unless the root package.json overrides its peer (see
 * docs/web-app.md); the plugin then takes this Vite 7 for rolldown-vite and adds a native
 * refresh wrapper that Vite 7 cannot run ("Missing field `moduleType`" on every module).
 */
function pluginsVite(): string | null {
  try {
    const plugin = import.meta.resolve('@vitejs/plugin-react');
    return (createRequire(plugin)('vite/package.json') as { version: string }).version;
  } catch {
    return null;
  }
}

function reactPlugins(command: 'build' | 'serve'): PluginOption[] {
  const plugins = react();
  // The refresh wrapper only runs in the dev server; a build is right either way.
  if (command === 'build') return plugins;
  const theirs = pluginsVite();
  if (theirs === null || theirs === ownVite.version) return plugins;
  console.warn(
    `@vitejs/plugin-react sees Vite ${theirs}, not ${ownVite.version}: fast refresh is off ` +
      '(edits reload the page). See docs/web-app.md to nest the plugin beside the right Vite.',
  );
  return plugins.filter((plugin) => plugin.name !== 'vite:react:refresh-wrapper');
}

export default defineConfig(({ command }) => ({
  base: '/app/',
  plugins: reactPlugins(command),
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    emptyOutDir: true,
    sourcemap: true,
    // The CSP allows no inline script; the module preload polyfill is not needed by the
    // browsers the app supports (ES modules with dynamic import).
    modulePreload: { polyfill: false },
  },
  server: {
    port: 5173,
    proxy: { '/v1': { target: gateway, changeOrigin: false } },
  },
}));
